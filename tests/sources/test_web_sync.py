"""A real website on loopback synced as a `web` source: links followed within the start
folder, robots.txt obeyed, depth and page limits, ETags answered 304 (nothing fetched again,
nothing embedded), an edited page, a removed page, a redirect, a link loop, a sitemap, and
listings that fail (500, a truncated sitemap) deleting nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.sources import SourceSettingsError, settings_for
from tests.sources.conftest import add_source, sync
from tests.sources.site import Site, html, serve
from tests.test_cli import run

ROBOTS = "User-agent: *\nDisallow: /docs/private/\n"


def website() -> Site:
    site = Site()
    site.page("/robots.txt", ROBOTS, kind="text/plain")
    site.page(
        "/docs/index.html",
        html(
            "Harbour guide",
            "The harbour opens at dawn and the ferries leave every hour.",
            "a.html",
            "b.html",
            "old.html",  # redirects to b.html: one page, not two
            "private/secret.html",  # robots.txt disallows it
            "/other/out.html",  # outside the start folder
            "http://example.invalid/docs/x.html",  # another host
            "logo.png",  # not a document: never requested
            "index.html#top",  # the same page
        ),
    )
    site.page(
        "/docs/a.html",
        html("Lighthouse", "The lighthouse keeper lights the lamp at dusk.", "index.html", "d1"),
    )
    site.page("/docs/b.html", html("Tides", "Spring tides rise higher than neap tides."))
    site.pages["/docs/old.html"] = (301, "", b"/docs/b.html")
    site.page("/docs/d1", html("Depth one", "Moorings are numbered from the quay.", "d2.html"))
    site.page("/docs/d2.html", html("Depth two", "Buoys mark the channel in red.", "d3.html"))
    site.page("/docs/d3.html", html("Depth three", "Too deep: never fetched."))
    site.page("/docs/private/secret.html", html("Secret", "The vault code is swordfish."))
    site.page("/other/out.html", html("Elsewhere", "Outside the start folder."))
    return site


async def sources_docs(pool: Any, source_id: int) -> dict[str, str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT d.item_key, string_agg(c.text, ' ' ORDER BY c.ordinal) AS text
               FROM documents d LEFT JOIN chunks c ON c.document_id = d.id
               WHERE d.source_id = $1 GROUP BY d.item_key""",
            source_id,
        )
    return {row["item_key"]: row["text"] or "" for row in rows}


async def test_a_website_changed_between_syncs(running):
    pool, _ = running
    with serve(website()) as site:
        start = f"{site.url}/docs/index.html"
        source_id = await add_source(pool, "harbour", "web", {"url": start, "max_depth": 3})

        first = await sync(pool, source_id)
        assert first["last_error"] is None
        docs = await sources_docs(pool, source_id)
        keys = {key.removeprefix(site.url) for key in docs}
        assert keys == {"/docs/index.html", "/docs/a.html", "/docs/b.html", "/docs/d1",
                        "/docs/d2.html"}  # fmt: skip
        assert first["last_counts"]["added"] == 5 and first["last_counts"]["chunks_kept"] == 0
        assert "Spring tides" in docs[f"{site.url}/docs/b.html"]
        for never in ("/docs/private/secret.html", "/other/out.html", "/docs/d3.html",
                      "/docs/logo.png"):  # fmt: skip
            assert site.answered(never) == [], never
        assert site.answered("/robots.txt") == [200]

        # Unchanged: every page answers 304, nothing is parsed or embedded.
        site.requests.clear()
        again = await sync(pool, source_id)
        assert again["last_counts"]["unchanged"] == 5
        assert again["last_counts"]["chunks_embedded"] == 0
        assert site.answered("/docs/b.html")[0] == 304 and site.answered("/docs/d1") == [304]
        assert site.answered("/docs/d2.html") == [304]  # found through d1's stored copy

        # An edited page and a removed one.
        site.page("/docs/b.html", html("Tides", "Neap tides come twice a month with the moon."))
        del site.pages["/docs/d2.html"]
        edited = await sync(pool, source_id)
        counts = edited["last_counts"]
        assert (counts["changed"], counts["removed"], counts["unchanged"]) == (1, 1, 3)
        docs = await sources_docs(pool, source_id)
        assert "Neap tides" in docs[f"{site.url}/docs/b.html"]
        assert "Spring tides" not in docs[f"{site.url}/docs/b.html"]
        assert f"{site.url}/docs/d2.html" not in docs

        # A page that fails (500) is kept and reported; the others sync on.
        site.page("/docs/b.html", "boom", status=500, kind="text/plain")
        failing = await sync(pool, source_id)
        assert "b.html answered HTTP 500" in failing["last_error"]
        assert f"{site.url}/docs/b.html" in await sources_docs(pool, source_id)
        assert failing["document_count"] == 4


async def test_a_500_on_the_listing_deletes_nothing_and_says_why(running):
    pool, _ = running
    with serve(website()) as site:
        start = f"{site.url}/docs/index.html"
        source_id = await add_source(pool, "harbour500", "web", {"url": start})
        assert (await sync(pool, source_id))["document_count"] == 5
        site.page("/docs/index.html", "down for maintenance", status=500, kind="text/plain")
        failed = await sync(pool, source_id)
        assert "listing failed, nothing was changed" in failed["last_error"]
        assert "HTTP 500" in failed["last_error"]
        assert failed["document_count"] == 5 and len(await sources_docs(pool, source_id)) == 5
        assert failed["last_counts"]["added"] == 5  # the last good counts are kept

        site.page("/robots.txt", "busy", status=503, kind="text/plain")
        site.page("/docs/index.html", html("Harbour guide", "Back again."))
        refused = await sync(pool, source_id)
        assert "robots.txt" in refused["last_error"] and refused["document_count"] == 5


async def test_a_sitemap_lists_the_pages_and_a_truncated_one_deletes_nothing(running):
    pool, _ = running
    site = website()
    with serve(site):
        base = site.url
        urls = ["/docs/a.html", "/docs/b.html", "/docs/private/secret.html", "/other/out.html"]
        sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{base}{u}</loc></url>" for u in urls)
            + "</urlset>"
        )
        site.page("/docs/sitemap.xml", sitemap, kind="application/xml")
        source_id = await add_source(pool, "map", "web", {"url": f"{base}/docs/sitemap.xml"})
        first = await sync(pool, source_id)
        assert first["last_error"] is None
        assert set(await sources_docs(pool, source_id)) == {f"{base}/docs/a.html",
                                                            f"{base}/docs/b.html"}  # fmt: skip
        assert site.answered("/docs/index.html") == []  # a sitemap's links are not followed

        site.page("/docs/sitemap.xml", sitemap[: len(sitemap) // 2], kind="application/xml")
        truncated = await sync(pool, source_id)
        assert "not whole XML" in truncated["last_error"]
        assert truncated["document_count"] == 2


async def test_the_page_limit_stops_a_link_loop(running):
    pool, _ = running
    site = Site()
    site.page("/robots.txt", "", status=404, kind="text/plain")  # no robots.txt: all allowed
    for n in range(30):  # each page links to the next and back to the first: a loop
        site.page(f"/p{n}.html", html(f"Page {n}", f"Station {n} of the loop line.",
                                      f"p{n + 1}.html", "p0.html"))  # fmt: skip
    with serve(site):
        given = {"url": f"{site.url}/p0.html", "max_pages": 7, "max_depth": 10}
        source_id = await add_source(pool, "loop", "web", given)
        synced = await sync(pool, source_id)
        assert synced["document_count"] == 7 and synced["last_error"] is None
        assert max(len(site.answered(f"/p{n}.html")) for n in range(30)) == 1


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({}, '"url"'),
        ({"url": "ftp://example.org/"}, "http:// or https://"),
        ({"url": "https://example.org/", "max_pages": 0}, "max_pages"),
        ({"url": "https://example.org/", "max_pages": 10**6}, "max_pages"),
        ({"url": "https://example.org/", "max_depth": "deep"}, "max_depth"),
        ({"url": "https://example.org/" + "a" * 3000}, '"url"'),
        ({"url": "http://[::1"}, "http:// or https://"),
        ({"url": "http://example.org:99999/"}, "http:// or https://"),
    ],
)
def test_bad_web_settings_refused_in_words(given: dict[str, Any], words: str):
    with pytest.raises(SourceSettingsError, match=words):
        settings_for("web", given)


def test_web_source_from_the_command_line(settings):
    with serve(website()) as site:
        env = {"DATABASE_URL": settings.database_url, "ALLOW_PRIVATE_URLS": "true"}
        start = f"{site.url}/docs/index.html"
        added = run("sources", "add", "web", "harbour-cli", start, "--collection", "sea",
                    "--max-depth", "1", env=env)  # fmt: skip
        assert added.returncode == 0, added.stderr
        listed = run("sources", "list", env=env)
        assert listed.stdout.startswith("harbour-cli\tweb\tsea\ton demand")
        synced = run("sources", "sync", "harbour-cli", env=env)
        assert synced.returncode == 0, synced.stderr
        counts = json.loads(synced.stdout.strip().splitlines()[-1])
        assert (counts["added"], counts["removed"], counts["chunks_kept"]) == (3, 0, 0)
        assert counts["chunks_embedded"] >= 3  # index, a and b: depth 1

        private = run("sources", "add", "web", "x", start, env={**env, "ALLOW_PRIVATE_URLS": ""})
        assert private.returncode == 1 and "ALLOW_PRIVATE_URLS" in private.stderr
