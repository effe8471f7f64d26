"""The sse-starlette internals app/infra/sse.py builds on, pinned: an upgrade that renames or
reshapes one fails here, by name, instead of breaking answer streams at run time."""

import inspect

import pytest
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette import sse as sse_module

from app.infra.sse import EventStream


async def _events():
    yield "x"


def _parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("__call__", ["scope", "receive", "send"]),
        ("_stream_response", ["send"]),  # run as our events task
        ("_listen_for_disconnect", ["receive"]),  # run as our disconnect task
        ("_send_with_timeout", ["send", "message"]),  # overridden: records when we last sent
    ],
)
def test_the_methods_we_call_or_override_keep_their_signatures(method, parameters):
    assert callable(getattr(EventSourceResponse, method, None)), f"{method} is gone"
    assert _parameters(getattr(EventSourceResponse, method)) == parameters


def test_every_event_still_goes_through_send_with_timeout():
    # Pings are skipped while events flow because our _send_with_timeout notes each send.
    assert "self._send_with_timeout(" in inspect.getsource(EventSourceResponse._stream_response)


def test_the_shutdown_watcher_is_still_a_static_coroutine_without_arguments():
    watcher = inspect.getattr_static(EventSourceResponse, "_listen_for_exit_signal")
    assert isinstance(watcher, staticmethod)
    assert inspect.iscoroutinefunction(watcher.__func__)
    assert _parameters(watcher.__func__) == []


def test_the_attributes_we_read_are_still_set_by_the_constructor():
    stream = EventStream(_events(), ping=15)
    for name in (
        "send_timeout",
        "data_sender_callable",
        "_shutdown_event",
        "ping_interval",
        "active",
        "background",
        "ping_message_factory",
        "sep",
        "_send_lock",
    ):
        assert hasattr(stream, name), f"EventSourceResponse no longer has {name}"
    assert stream.ping_interval == 15
    assert stream.send_timeout is None and stream.data_sender_callable is None
    assert stream._shutdown_event is None  # the fast path checks it


def test_the_helpers_we_import_keep_their_shape():
    assert _parameters(sse_module.ensure_bytes) == ["data", "sep"]
    event = ServerSentEvent(comment="ping", sep="\n")
    assert sse_module.ensure_bytes(event, "\n") == b": ping\n\n"
