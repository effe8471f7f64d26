import zlib

import pytest

from app.embedders.local import LocalEmbedder
from app.ingest.chunk import chunk_text
from tests.helpers import SOLAR_GUIDE


def words(text: str) -> int:
    return len(text.split())


def test_markdown_chunks_keep_heading_path_and_offsets():
    chunks = chunk_text(SOLAR_GUIDE, words, 40, markdown=True)
    assert [c.heading_path for c in chunks] == [
        ["Solar Panels Guide", "Efficiency"],
        ["Solar Panels Guide", "Maintenance"],
    ]
    for chunk in chunks:
        assert SOLAR_GUIDE[chunk.char_start : chunk.char_end] == chunk.text
    # Headings travel with the text below them instead of becoming chunks of their own.
    assert chunks[0].text.startswith("# Solar Panels Guide")


def test_paragraphs_are_packed_and_never_split_when_they_fit():
    text = "\n\n".join(f"Paragraph {i} has exactly six words." for i in range(10))
    chunks = chunk_text(text, words, 20)
    assert [c.token_count for c in chunks] == [18, 18, 18, 6]
    assert all(c.text.count("Paragraph") == c.token_count // 6 for c in chunks)


def test_long_paragraph_falls_back_to_sentences_then_words():
    sentence = "This sentence has seven words here."
    long_word_run = " ".join(["word"] * 25)
    text = " ".join([sentence] * 4) + "\n\n" + long_word_run
    chunks = chunk_text(text, words, 10)
    assert all(c.token_count <= 10 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_blank_text_has_no_chunks():
    assert chunk_text("  \n\n \n", words, 10) == []


@pytest.fixture(scope="module")
def embedder():
    import asyncio

    return asyncio.run(LocalEmbedder.load(None))


def test_chunks_fit_the_real_model_window(embedder):
    paragraph = "Photovoltaic cells convert sunlight into direct current electricity. " * 30
    text = "\n\n".join([paragraph] * 3)
    chunks = chunk_text(text, embedder.count_tokens, embedder.max_tokens)
    assert len(chunks) > 3
    assert all(embedder.count_tokens(c.text) <= embedder.max_tokens for c in chunks)


def _words(text: str) -> int:
    return len(text.split())


def test_anchored_boundaries_do_not_shift_after_an_edit():
    """Editing one paragraph changes the chunks up to the next anchor, not every chunk after
    it (greedy packing alone shifts them all: the last assertion shows it)."""
    # Paragraphs of one size: greedy packing puts four in each chunk, and a longer one
    # pushes a paragraph into every later chunk.
    paragraphs = [" ".join(f"word{n}x{i}" for i in range(24)) + "." for n in range(120)]
    edited = list(paragraphs)
    edited[10] = edited[10] + " and then some more words were added to this paragraph."
    next_anchor = next(n for n in range(11, 120) if zlib.crc32(paragraphs[n].encode()) % 4 == 0)

    def later(ps: list[str], anchored: bool) -> tuple[set[str], set[str]]:
        """(all chunks, those that start at or after the next anchor)"""
        chunks = chunk_text("\n\n".join(ps), _words, 100, anchored=anchored)
        first = [int(c.text.split("x")[0].removeprefix("word")) for c in chunks]
        assert all(c.token_count <= 100 for c in chunks)
        return {c.text for c in chunks}, {
            c.text for c, n in zip(chunks, first, strict=True) if n >= next_anchor
        }

    before, _ = later(paragraphs, True)
    after, after_later = later(edited, True)
    assert after - before and len(after_later) > 10
    assert after_later <= before  # every chunk from the next anchor on is the same
    greedy_before, _ = later(paragraphs, False)
    _, greedy_later = later(edited, False)
    assert not greedy_later <= greedy_before
