"""A stored answer, reloaded, says what it said live: who wrote it (the extractive label and the
no-language-model notice), that the documents did not answer, which citations are unverified."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import asyncpg
import httpx

from tests.helpers import AUTH, SOLAR_GUIDE, ingest
from tests.ui_browser import PHONE, browser, new_page, screenshot

T = TypeVar("T")
FACTS = ("provider", "answered", "unsupported_citations")
NOT_ANSWERED = "Your documents don't seem to answer this."
FLAGGED = "The football world cup of 1998 was won by France"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end from a test that drives Playwright's own event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _stored_facts(url: str) -> bool:
    """Whether messages have the columns of the stored answer facts (migration 0013)."""
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval(
            """SELECT count(*) FROM information_schema.columns
               WHERE table_name = 'messages' AND column_name = ANY($1::text[])""",
            list(FACTS),
        )
        return found == len(FACTS)
    finally:
        await conn.close()


async def _add_turn(
    url: str, conversation_id: str, question: str, answer: str, sources: list, facts: dict
) -> str:
    """A question and its stored answer appended to a conversation; the answer's id."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', $2)",
            conversation_id,
            question,
        )
        columns, values = ["conversation_id", "role", "content", "sources"], ["$1", "'assistant'"]
        values += ["$2", "$3::jsonb"]
        args: list[Any] = [conversation_id, answer, json.dumps(sources)]
        for name, value in facts.items():
            columns.append(name)
            args.append(json.dumps(value) if name == "unsupported_citations" else value)
            values.append(f"${len(args)}" + ("::jsonb" if name == "unsupported_citations" else ""))
        return str(
            await conn.fetchval(
                f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join(values)})"
                " RETURNING id",
                *args,
            )
        )
    finally:
        await conn.close()


def test_a_reloaded_answer_keeps_its_label_notices_and_unverified_citations(settings, live_server):
    url = settings.database_url
    stored = run_async(_stored_facts(url))
    with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
        ingest(http, "solar.md", SOLAR_GUIDE)
    with browser() as launched:
        page = new_page(launched, live_server)
        page.fill("#question", "How efficient are monocrystalline panels?")
        page.press("#question", "Enter")
        page.wait_for_selector(".turn[data-done=true]")
        live = page.locator(".turn").first
        live_label, live_notices = live.locator(".label").text_content(), live.locator(".notices")
        live_notices = live_notices.inner_text()
        assert "Extractive answer" in live_label and "No language model" in live_notices

        # Three more stored answers: one that did not answer, one with an unverified citation
        # (by a language model), one from before these facts were stored.
        conversation_id = page.evaluate("new URLSearchParams(location.search).get('c')")
        with httpx.Client(base_url=live_server, timeout=60, headers=AUTH) as http:
            first = http.get(f"/api/conversations/{conversation_id}").json()["conversation"]
        sources = first["messages"][1]["sources"]
        facts: dict[str, dict[str, Any]] = {
            first["messages"][1]["id"]: {
                "provider": "extractive",
                "answered": True,
                "unsupported_citations": [],
            }
        }
        for question, answer, fact in (
            (
                "What is the recommended daily dose of vitamin D?",
                f"{NOT_ANSWERED} The closest passages are listed below.",
                {"provider": "extractive", "answered": False, "unsupported_citations": []},
            ),
            (
                "How efficient are panels, and who won the 1998 world cup?",
                f"Panels convert about 22 percent of sunlight [1]. {FLAGGED} [1].",
                {
                    "provider": "test-model",
                    "answered": True,
                    "unsupported_citations": [{"n": 1, "sentence": FLAGGED}],
                },
            ),
            ("An older question?", "An older answer about panels [1].", {}),
        ):
            message_id = run_async(
                _add_turn(url, conversation_id, question, answer, sources, fact if stored else {})
            )
            facts[message_id] = fact

        if not stored:
            # Until the server stores these facts (the answers branch's migration 0013), the
            # test adds them to the real response, as GET /api/conversations/{id} will send them.
            def with_facts(route: Any) -> None:
                response = route.fetch()
                body = response.json()
                for message in body["conversation"]["messages"]:
                    for name, value in facts.get(message["id"], {}).items():
                        message.setdefault(name, value)
                route.fulfill(response=response, json=body)

            page.route(f"**/api/conversations/{conversation_id}", with_facts)

        page.reload()
        page.wait_for_selector(".turn[data-done=true] >> nth=3")
        turns = page.locator(".turn")
        assert turns.count() == 4
        # The extractive answer says so again, exactly as it did live.
        assert turns.nth(0).locator(".label").text_content() == live_label
        assert turns.nth(0).locator(".notices").inner_text() == live_notices
        # The documents did not answer: said in words, its passages only the closest ones.
        declined = turns.nth(1)
        assert declined.get_attribute("data-answered") == "false"
        assert "Not answered from your documents" in declined.locator(".notices").inner_text()
        assert "closest" in declined.locator(".sources").inner_text()
        # A language model's answer, one citation of which its source does not support.
        flagged = turns.nth(2)
        assert "language model (test-model)" in flagged.locator(".label").text_content()
        assert flagged.locator("button.cite").count() == 2
        assert flagged.locator("button.cite.unsupported").count() == 1
        assert "does not seem to say" in flagged.locator(".notices").inner_text()
        # An answer stored before these facts: no label, no notice, and no error either.
        older = turns.nth(3)
        assert older.locator(".label").text_content() == ""
        assert older.locator(".notices").inner_text() == ""
        assert page.js_errors == []
        screenshot(page, "stored-answers-desktop", full_page=True)

        phone = new_page(launched, f"{live_server}/?c={conversation_id}", viewport=PHONE)
        if not stored:
            phone.route(f"**/api/conversations/{conversation_id}", with_facts)
            phone.reload()
        phone.wait_for_selector(".turn[data-done=true] >> nth=3")
        phone.locator(".turn").nth(1).scroll_into_view_if_needed()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(phone, "stored-answers-phone")
        assert phone.js_errors == []
