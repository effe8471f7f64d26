"""gunicorn settings for the Procfile's web process (uvicorn workers: uvloop + httptools).

Every number can be changed by an environment variable of the same name in capitals.
"""

import os
import tempfile
from pathlib import Path

from app.infra.logging import config_dict


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = _int("WEB_CONCURRENCY", 2)
worker_class = "app.infra.event_loop.Worker"
# Open connections per worker (uvicorn's limit_concurrency): past it a request gets a 503 at
# once. An SSE answer holds one for its whole length.
worker_connections = _int("WORKER_CONNECTIONS", 1000)
# Recycle a worker after this many requests (plus up to the jitter, so they do not all restart
# together): what leaks or fragments is given back. Its open answer streams end with a
# `reconnect` event and resume on another worker (app/infra/sse.py).
max_requests = _int("MAX_REQUESTS", 1000)
max_requests_jitter = _int("MAX_REQUESTS_JITTER", 100)
# Answers stream for a while; the default 30 s would kill workers mid-stream on slow clients.
timeout = _int("TIMEOUT", 120)
# How long a stopping worker lets its answers finish generating (into the stream log): above
# the longest answer, below `timeout`.
graceful_timeout = _int("GRACEFUL_TIMEOUT", 90)
keepalive = _int("KEEPALIVE", 5)
# Bounds on a request's head, for when clients reach gunicorn without Nginx in front (uvicorn's
# httptools would read a header of any size): app/infra/http_limits.py applies them, with at
# most 64 KiB for the request line and all headers together; more gets 431.
limit_request_line = _int("LIMIT_REQUEST_LINE", 8190)
limit_request_fields = _int("LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _int("LIMIT_REQUEST_FIELD_SIZE", 8190)
# gunicorn 27's control socket sits at one path per user: several servers on a host (tests,
# several sites) would take it from each other, and nothing here uses it.
control_socket_disable = True
# X-Forwarded-For/-Proto are believed only from these addresses (the proxy in front).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# One format for gunicorn's, uvicorn's and the app's lines; request lines come from the app
# (app/infra/access.py), with the request id, so gunicorn writes no access log of its own.
accesslog = None
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
logconfig_dict = config_dict(
    os.environ.get("LOG_LEVEL", "INFO").upper(), os.environ.get("LOG_FORMAT", "text").lower()
)

# Prometheus multiprocess mode: each worker writes its metrics to files here and /metrics sums
# them, whichever worker answers. Set before any worker imports prometheus_client.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="rag-metrics-")


def on_starting(server):  # type: ignore[no-untyped-def]
    # Values left by an earlier run of the server would be summed with this one's.
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # prometheus_client's files only
        stale.unlink()


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from app.infra.metrics import mark_process_dead

    mark_process_dead(worker.pid)
