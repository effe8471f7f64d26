"""HTML with selectolax (lexbor): the main text, without scripts, styles or navigation.

selectolax parses a 3 MB page of script in ~10 ms and drops the nodes before any text
is read; headings become Markdown so chunks keep their heading path, tables Markdown
tables, <pre> blocks fenced code.
"""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from app.errors import IngestError
from app.ingest.formats.base import Format, Parsed, code_block, head, not_heading, refuse_blank
from app.ingest.formats.table import joined_header, markdown_table

_DROP = (
    "script, style, noscript, template, svg, canvas, iframe, nav, header, footer, aside, "
    "form, button, select, [hidden], [aria-hidden=true], [role=navigation]"
)
_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, pre, blockquote, table, td, th, dt, dd, figcaption"
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")
MAX_DEPTH = 1024
_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9]{0,15})")
_NOT_NESTING = {
    *(b"area base br col embed hr img input link meta source track wbr param keygen".split()),
    *(b"p li dt dd option tr td th".split()),
}


def _title(raw: str) -> str:
    """The <title>'s text. Its content is never parsed as HTML, so a page generated with
    markup in it (man2html writes `<title><strong>socat</strong></title>`) would be titled
    with the tags: they are read as HTML once more, to their text."""
    if "<" in raw:
        raw = LexborHTMLParser(f"<p>{raw}</p>").text()
    return _SPACES.sub(" ", raw).strip()


def parse(data: bytes, source: str) -> Parsed:
    if b"\x00" in data[:8192]:
        raise IngestError(f"{source!r} looks like binary data, not HTML")
    _check_nesting(data, source)
    tree = LexborHTMLParser(data)
    title_node = tree.css_first("title")
    title = _title(title_node.text()) if title_node else ""
    for node in tree.css(_DROP):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        raise IngestError(f"{source!r} has no body to read")
    lines: list[str] = []
    inside: dict[int, bool] = {root.mem_id: False}
    for node in root.css(_BLOCKS):
        # Nested blocks (a <p> inside an <li>) are read once, through the outermost one.
        if _inside_block(node, inside):
            continue
        if node.tag == "table":  # a table of data as a Markdown table; a layout table as text
            lines.extend(_table(node))
            continue
        if node.tag == "pre":  # code and shell sessions: kept as a code block, lines intact
            # Blank lines inside would split the block into paragraphs, and chunks.
            text = _BLANK_LINES.sub("\n", node.text().strip("\n").rstrip())
            if text.strip():
                lines.append(code_block(text))
            continue
        text = _SPACES.sub(" ", node.text()).strip()
        if not text:
            continue
        if node.tag[0] == "h" and node.tag[1:].isdigit():
            text = "#" * int(node.tag[1]) + " " + text
        else:
            text = not_heading(text)
        lines.append(text)
    if not lines:  # a page of bare text without block elements
        loose = _SPACES.sub(" ", root.text(separator=" ")).strip()
        lines = [loose] if loose else []
    text = "\n\n".join(lines)
    if not text:
        raise IngestError(f"{source!r} has no readable text once scripts and styles are removed")
    return Parsed(text, title=title[:200] or None)


def _table(table) -> list[str]:
    """A table's rows as one Markdown table; its cells' text as paragraphs when it has a
    single row or column (pages lay text out with such tables). A cell spanning columns
    is repeated in each, so a spanning header still names every column."""
    rows: list[list[str]] = []
    headers: list[bool] = []  # whether each row is all <th>: a header row
    for row in table.css("tr"):
        if _owner(row) != table.mem_id:
            continue  # a row of a table nested inside a cell: read as that cell's text
        cells: list[str] = []
        all_th = True
        for cell in row.iter():
            if cell.tag in ("td", "th"):
                text = _SPACES.sub(" ", cell.text()).strip()
                all_th = all_th and (cell.tag == "th" or not text)
                span = cell.attributes.get("colspan") or "1"
                cells += [text] * (min(int(span), 50) if span.isdigit() and span != "0" else 1)
        if any(cells):
            rows.append(cells)
            headers.append(all_th)
    if len(rows) < 2 or max(len(row) for row in rows) < 2:
        return [not_heading(cell) for row in rows for cell in row if cell]
    if len(rows) > 2 and headers[0] and headers[1]:  # a spanning header over a second one
        rows = [joined_header(rows[0], rows[1]), *rows[2:]]
    return [markdown_table(rows)]


def _owner(row) -> int | None:
    """The mem_id of the table a row belongs to (its nearest table ancestor)."""
    node = row.parent
    while node is not None and node.tag != "table":
        node = node.parent
    return node.mem_id if node is not None else None


def _inside_block(node, inside: dict[int, bool]) -> bool:
    """Whether a block element lies within another one below the root.

    `inside` remembers the answer for every ancestor walked through, so each node is
    visited once: walking every block's ancestors to the root was quadratic in depth.
    """
    path = []
    parent = node.parent
    while parent is not None and parent.mem_id not in inside:
        path.append(parent)
        parent = parent.parent
    # A node outside the root (cannot happen for root.css results) counts as not inside.
    answer = inside.get(parent.mem_id, False) if parent is not None else False
    for ancestor in reversed(path):
        answer = answer or ancestor.tag in _BLOCK_TAGS
        inside[ancestor.mem_id] = answer
    return answer


def _check_nesting(data: bytes, source: str) -> None:
    """Refuse elements nested deeper than MAX_DEPTH before lexbor parses them.

    lexbor's tree building is quadratic in depth (100,000 nested divs: a minute); real
    pages nest a few dozen levels. Elements that close themselves (void ones, <p>, <li>)
    are not counted, so the estimate errs low only for markup lexbor would close anyway.
    """
    depth = 0
    for match in _TAG.finditer(data):
        name = match.group(2).lower()
        if name in _NOT_NESTING:
            continue
        if match.group(1):
            depth = max(depth - 1, 0)
            continue
        depth += 1
        if depth > MAX_DEPTH:
            raise IngestError(
                f"{source!r} nests HTML elements more than {MAX_DEPTH} levels deep; "
                "it is not a page a person reads"
            )


_BLOCK_TAGS = {tag.strip() for tag in _BLOCKS.split(",")}


def check(path: Path, filename: str) -> None:
    refuse_blank(path, filename)
    if b"\x00" in head(path, 8192):
        raise IngestError(f"{filename!r} looks like binary data, not HTML", code="not_html")


FORMAT = Format(
    label="HTML",
    media_type="text/html",
    suffixes=(".html", ".htm"),
    check=check,
    parse=parse,
    also_fetched_as=("application/xhtml+xml",),
)
