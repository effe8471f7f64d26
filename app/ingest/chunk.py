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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from app.ingest.formats.table import is_table_start
from app.text.headings import heading
from app.text.sentences import sentence_spans

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A Markdown code fence (``` or ~~~, three or more) opening or closing a code block.
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
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
    ocr_confidence: float | None = None  # its page's mean OCR confidence when recognised


@dataclass
class _Piece:
    start: int
    end: int
    tokens: int
    headings: tuple[str, ...]
    is_heading: bool = False
    page: int | None = None
    header: str = ""  # a table's header rows, repeated before this run of its rows
    table: bool = False  # a run of a long table's rows


def chunk_text(
    text: str,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    *,
    markdown: bool = False,
    page_starts: Sequence[int] = (),
    overlap_tokens: int = 0,
    ocr_pages: Mapping[int, float] | None = None,
    anchored: bool = False,
) -> list[Chunk]:
    """Split text into chunks of at most max_tokens; offsets index into text.

    `page_starts` are the offsets at which pages 1, 2, ... begin; `overlap_tokens` bounds
    how much of the previous chunk (whole trailing pieces only) the next one repeats;
    `ocr_pages` the mean OCR confidence of pages recognised from images, by page number.
    """
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    fresh = 0  # how many pieces of `current` are new, not overlap

    def flush() -> None:
        if current and fresh:
            start, end = current[0].start, current[-1].end
            body = text[start:end]
            if current[0].header:  # a table continued: its header again, offsets on the rows
                body = current[0].header + "\n" + body
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
        overflow = used + piece.tokens > max_tokens
        if current and only_headings and overflow and not boundary and piece.table:
            # A long table's first rows fill a chunk: its section's headings, alone, would
            # be a chunk of their own; they stay in its heading path instead.
            current.clear()
        elif current and ((boundary and not only_headings) or overflow):
            previous = list(current)
            flush()
            if not boundary and overlap_tokens and not piece.header:
                current.extend(_tail(previous, overlap_tokens, max_tokens - piece.tokens))
            fresh = 0
        current.append(piece)
        fresh += 1
    flush()
    if ocr_pages:
        for chunk in chunks:
            chunk.ocr_confidence = ocr_pages.get(chunk.page) if chunk.page else None
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
    fence = ""  # the fence of the code block we are in: a "# comment" there is no heading
    for start, end in _paragraph_spans(text):
        found = None
        in_code = bool(fence)
        if markdown:
            fence = _fence_after(text, start, end, fence)
        if markdown and not in_code and text[start] == "#":
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
        if is_table_start(text[start:end]):
            yield from _table_rows(text, start, end, count_tokens, max_tokens, path)
            continue
        for s_start, s_end in sentence_spans(text, start, end):
            s_tokens = count_tokens(text[s_start:s_end])
            if s_tokens <= max_tokens:
                yield _Piece(s_start, s_end, s_tokens, path)
            else:
                yield from _word_runs(text, s_start, s_end, count_tokens, max_tokens, path)


def _table_rows(
    text: str,
    start: int,
    end: int,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    path: tuple[str, ...],
) -> Iterator[_Piece]:
    """A Markdown table too long for one chunk, as runs of whole rows. The first run holds
    the header and separator rows; every later one carries them as its `header`, so no row
    is read without the names of its columns. A header taking more than half the window is
    not repeated (the rows would not fit beside it): its rows are then read as lines."""
    header_end = text.find("\n", text.index("\n", start) + 1, end)
    header_end = end if header_end == -1 else header_end  # a table of its header alone
    header = text[start:header_end]
    header_tokens = count_tokens(header)
    repeat = 2 * header_tokens <= max_tokens
    lead = ""  # the header the current run repeats ("" for the first, which holds it)
    shown = False  # whether the header's text is in a piece yet
    run_start: int | None = None
    run_end = used = 0
    line_start = start
    while line_start < end:
        line_end = text.find("\n", line_start, end)
        line_end = end if line_end == -1 else line_end
        tokens = count_tokens(text[line_start:line_end])
        lead_tokens = header_tokens if lead else 0
        if run_start is not None and used + lead_tokens + tokens > max_tokens:
            if run_end > header_end or not repeat:  # never a run of the header rows alone
                yield _Piece(run_start, run_end, used + lead_tokens, path, header=lead, table=True)
                shown = shown or run_start == start or bool(lead)
            run_start, used = None, 0
            lead = header if repeat else ""
            lead_tokens = header_tokens if lead else 0
        if lead_tokens + tokens > max_tokens:  # a row longer than a chunk: its words
            if not shown and line_start > header_end:
                yield _Piece(start, header_end, header_tokens, path, table=True)
                shown = True
            yield from _word_runs(text, line_start, line_end, count_tokens, max_tokens, path)
        else:
            run_start = line_start if run_start is None else run_start
            run_end, used = line_end, used + tokens
        line_start = line_end + 1
    if run_start is not None:
        yield _Piece(
            run_start, run_end, used + (header_tokens if lead else 0), path, header=lead, table=True
        )


def _fence_after(text: str, start: int, end: int, fence: str) -> str:
    """The code fence still open after this paragraph ("" when none), given the one before."""
    # From the start of the paragraph's line: `^` matches only there, not at `start`.
    for match in _FENCE.finditer(text, text.rfind("\n", 0, start) + 1, end):
        mark = match.group(1)
        if not fence:
            fence = mark
        # A closing fence is the same character, at least as long, with nothing after it.
        elif mark[0] == fence[0] and len(mark) >= len(fence):
            line_end = text.find("\n", match.end(), end)
            if not text[match.end() : end if line_end == -1 else line_end].strip():
                fence = ""
    return fence


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
