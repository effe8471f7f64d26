"""Usage for admins: questions per day and per user, answers per collection, latency, failed
ingestions, counted from what the site stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.auth.people import acting_as, make_person
from tests.files import encrypted_pdf
from tests.helpers import SOLAR_GUIDE, ingest, parse_sse, upload, wait_ready


def _ask(client, question: str, collection: str | None = None) -> None:
    body = {"question": question, "collection": collection}
    assert parse_sse(client.post("/api/chat", json=body).text)[-1][0] == "done"


@pytest.fixture
def editor(client, settings):
    """Two questions by the admin on 'default', one by an editor on its own collection, and
    a document whose ingestion failed."""
    person = make_person(settings.database_url, "editor@example.org", "editor")
    ingest(client, "solar.md", SOLAR_GUIDE)
    _ask(client, "How efficient are the panels?")
    _ask(client, "How often to clean them?")
    with acting_as(client, person.headers):
        ingest(client, "mine.md", "# Mine\n\nMy own panels face south.", "mine")
        _ask(client, "Which way do my panels face?", "mine")
    locked = upload(client, "locked.pdf", encrypted_pdf("secret text"))
    assert wait_ready(client, locked.json()["document"]["id"])["status"] == "failed"
    return person


def test_usage_counts_what_was_stored(client, editor):
    usage = client.get("/api/admin/usage", params={"days": 7}).json()
    today = datetime.now(UTC).date().isoformat()
    assert usage["days"] == 7
    assert usage["questions_per_day"] == [{"day": today, "questions": 3}]
    assert usage["questions_per_user"] == [
        {"user": "admin@example.org", "questions": 2},
        {"user": "editor@example.org", "questions": 1},
    ]
    assert usage["answers_per_collection"] == [
        {"collection": "default", "answers": 2},
        {"collection": "mine", "answers": 1},
    ]
    latency = usage["answer_latency"]
    assert latency["answers"] == 3
    assert 0 < latency["p50_seconds"] <= latency["p95_seconds"]
    failed = usage["failed_ingestions"]
    assert failed["count"] == 1 and failed["latest"][0]["title"] == "locked.pdf"
    assert failed["latest"][0]["error"]


def test_the_usage_page_shows_it_to_admins(client, editor):
    page = client.get("/admin/usage")
    assert page.status_code == 200
    for shown in ("editor@example.org", "Failed ingestions: 1", "locked.pdf", "p50"):
        assert shown in page.text
    assert 'href="/admin/usage"' in client.get("/admin").text


def test_usage_is_for_admins_only(client, editor):
    with acting_as(client, editor.headers):
        assert client.get("/api/admin/usage").status_code == 403
        assert client.get("/admin/usage").status_code == 403


@pytest.mark.parametrize("days", ["0", "367", "week", "-1"])
def test_a_bad_number_of_days_is_refused_with_the_range(client, days):
    response = client.get("/api/admin/usage", params={"days": days})
    assert response.status_code == 400
    assert "from 1 to 366" in response.json()["error"]["message"]
