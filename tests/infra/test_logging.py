"""app/infra/logging.py: the JSON and text formats, and the request id on every line."""

from __future__ import annotations

import io
import json
import logging

from app.infra.logging import JsonFormatter, TextFormatter, request_id


def _line(formatter: logging.Formatter, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.logging")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        token = request_id.set("req-1")
        try:
            logger.warning("GET %s", "/x", extra=extra)
        finally:
            request_id.reset(token)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_the_request_id_and_the_extra_fields_but_no_colours():
    data = json.loads(_line(JsonFormatter(), status=200, color_message="\x1b[1mGET"))
    assert data["msg"] == "GET /x"
    assert data["level"] == "WARNING"
    assert data["request_id"] == "req-1"
    assert data["status"] == 200
    assert "color_message" not in data
    assert data["ts"].endswith("Z")


def test_text_lines_put_the_fields_after_the_message():
    line = _line(TextFormatter(), status=404)
    assert "WARNING test.logging: GET /x status=404 request_id=req-1" in line
