"""A client that asks and, like static/app.js, resumes with Last-Event-ID when a stream ends
early (a `reconnect` event from a stopping worker, or a dropped connection)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx


@dataclass
class Answer:
    text: str = ""
    events: list[str] = field(default_factory=list)
    resumes: int = 0
    ended: str | None = None  # done or error


def _read(response: httpx.Response, answer: Answer) -> str | None:
    """Read events until the stream ends; the last event id seen."""
    last_id = None
    name, data, event_id = "message", [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line == "":
            if data:
                payload = json.loads("\n".join(data))
                answer.events.append(name)
                if event_id:
                    last_id = event_id
                if name == "token":
                    answer.text += payload["text"]
                elif name in ("done", "error"):
                    answer.ended = name  # read on to the end, as EventSource does
                elif name == "reconnect":
                    return last_id
            name, data, event_id = "message", [], None
    return last_id


def ask(client: httpx.Client, question: str, attempts: int = 5) -> Answer:
    answer = Answer()
    last_id = None
    with client.stream("POST", "/api/chat", json={"question": question}) as response:
        assert response.status_code == 200, response.read()
        last_id = _read(response, answer)
    while answer.ended is None and answer.resumes < attempts:
        assert last_id, "the stream ended before its first event"
        answer.resumes += 1
        headers = {"Last-Event-ID": last_id, "Accept": "text/event-stream"}
        with client.stream("GET", "/api/chat", headers=headers) as response:
            assert response.status_code == 200, response.read()
            last_id = _read(response, answer) or last_id
    return answer
