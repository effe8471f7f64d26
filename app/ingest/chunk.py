"""Structure-aware chunking bounded by the embedding model's token window.

Chunks are whole paragraphs when they fit, else sentences, else runs of words; they never
cross a heading or a page, and may start with the last sentences of the chunk before them
(`overlap_tokens`) so a fact split across a boundary is still found whole.

`anchored` (synced sources) also starts a chunk at every piece whose text hashes to an
anchor (one in ANCHOR_EVERY), with no overlap: the text between two anchors is chunked on
its own, so editing one paragraph changes only the chunks between the anchors around it,
and every other chunk comes out the same (and keeps its vector on the next sync).
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from app.text.headings import heading
from app.text.sentences import sentence_spans

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\S+")
# One piece in this many is an anchor (anchored chunking): some four paragraphs a chunk.
ANCHOR_EVERY = 4

# Tokens a chunk repeats from the one before it, when a section is split mid-paragraph
# (what ingestion uses; the chunker's own default is none).
OVERLAP_TOKENS = 32


@dataclass
class Chunk:
    text: str
    char_start: int
    char_end: int
    token_count: int
    heading_path: list[str] = field(default_factory=list)
    page: int | None = None  # 1-based, for formats with pages


@dataclass
class _Piece:
    start: int
    end: int
    tokens: int
    headings: tuple[str, ...]
    is_heading: bool = False
    page: int | None = None


def chunk_text(
    text: str,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    *,
    markdown: bool = False,
    page_starts: Sequence[int] = (),
    overlap_tokens: int = 0,
    anchored: bool = False,
) -> list[Chunk]:
    """Split text into chunks of at most max_tokens; offsets index into text.

    `page_starts` are the offsets at which pages 1, 2, ... begin; `overlap_tokens` bounds
    how much of the previous chunk (whole trailing pieces only) the next one repeats.
    """
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    fresh = 0  # how many pieces of `current` are new, not overlap

    def flush() -> None:
        if current and fresh:
            start, end = current[0].start, current[-1].end
            body = text[start:end]
            chunks.append(
                Chunk(
                    body,
                    start,
                    end,
                    count_tokens(body),
                    list(current[-1].headings),
                    current[0].page,
                )
            )
        current.clear()

    for piece in _pieces(text, count_tokens, max_tokens, markdown):
        if page_starts:
            piece.page = bisect.bisect_right(page_starts, piece.start)
        used = sum(p.tokens for p in current)
        # A new section or page starts a new chunk, but headings stay with the text below.
        boundary = bool(current) and (
            piece.headings != current[-1].headings
            or piece.page != current[-1].page
            or (anchored and not piece.is_heading and _is_anchor(text, piece))
        )
        only_headings = all(p.is_heading for p in current)
        if current and ((boundary and not only_headings) or used + piece.tokens > max_tokens):
            previous = list(current)
            flush()
            if not boundary and overlap_tokens:
                current.extend(_tail(previous, overlap_tokens, max_tokens - piece.tokens))
            fresh = 0
        current.append(piece)
        fresh += 1
    flush()
    return chunks


def _is_anchor(text: str, piece: _Piece) -> bool:
    return zlib.crc32(text[piece.start : piece.end].encode()) % ANCHOR_EVERY == 0


def _tail(pieces: list[_Piece], overlap_tokens: int, room: int) -> list[_Piece]:
    """The last pieces whose tokens fit both the overlap budget and the room left."""
    budget = min(overlap_tokens, room)
    tail: list[_Piece] = []
    for piece in reversed(pieces[1:]):  # never the whole previous chunk again
        if piece.tokens > budget or piece.is_heading:
            break
        tail.insert(0, piece)
        budget -= piece.tokens
    return tail


def _pieces(
    text: str, count_tokens: Callable[[str], int], max_tokens: int, markdown: bool
) -> Iterator[_Piece]:
    """Paragraphs that fit the window, else their sentences, else runs of words."""
    headings: list[tuple[int, str]] = []  # (level, title) of the enclosing sections
    for start, end in _paragraph_spans(text):
        found = None
        if markdown and text[start] == "#":
            newline = text.find("\n", start, end)
            found = heading(text[start : end if newline == -1 else newline])
            if found:
                level = found[0]
                headings = [h for h in headings if h[0] < level] + [found]
        path = tuple(title for _, title in headings)
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            yield _Piece(start, end, tokens, path, is_heading=found is not None)
            continue
        for s_start, s_end in sentence_spans(text, start, end):
            s_tokens = count_tokens(text[s_start:s_end])
            if s_tokens <= max_tokens:
                yield _Piece(s_start, s_end, s_tokens, path)
            else:
                yield from _word_runs(text, s_start, s_end, count_tokens, max_tokens, path)


def _word_runs(
    text: str,
    start: int,
    end: int,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    path: tuple[str, ...],
) -> Iterator[_Piece]:
    run_start: int | None = None
    run_end = start
    used = 0
    for word in _WORD.finditer(text, start, end):
        tokens = count_tokens(word.group())
        if run_start is not None and used + tokens > max_tokens:
            yield _Piece(run_start, run_end, used, path)
            run_start, used = None, 0
        if run_start is None:
            run_start = word.start()
        run_end, used = word.end(), used + tokens
    if run_start is not None:
        yield _Piece(run_start, run_end, used, path)


def _paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    begin = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _stripped(text, begin, match.start())
        begin = match.end()
    yield from _stripped(text, begin, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    piece = text[start:end]
    if piece.strip():
        lead = len(piece) - len(piece.lstrip())
        yield start + lead, start + lead + len(piece.strip())
