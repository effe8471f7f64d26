"""CSV and TSV: delimiter and encoding sniffed, read as one Markdown table.

The encoding is UTF-8 (a BOM is dropped), UTF-16 when a BOM says so, else Windows-1252
(what spreadsheet programs on Windows export); the delimiter is sniffed among , ; tab and |
from the first lines (a .tsv is always tab-separated). Quoted fields keep their commas and
line breaks. A physical line longer than MAX_LINE is refused before the csv module would
build a row of millions of fields from it.
"""

from __future__ import annotations

import codecs
import csv
import io
from functools import partial
from pathlib import Path

from app.errors import EmptyDocument
from app.ingest.formats.base import Format, IngestError, Parsed, head, refuse_blank
from app.ingest.formats.table import markdown_table

MAX_LINE = 1024 * 1024  # bytes in one line
MAX_ROWS = 200_000
_DELIMITERS = ",;\t|"


def decode(data: bytes) -> str:
    """The text of a CSV file in its sniffed encoding."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff(sample: str, *, tab: bool) -> str:
    """The delimiter: a tab for TSV, else the one csv.Sniffer finds (a comma by default)."""
    if tab:
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # one column, or too little to tell
        return ","


def read_rows(data: bytes, source: str, *, tab: bool = False) -> list[list[str]]:
    """The file's rows of fields; IngestError when it cannot be a table a person reads."""
    _check_lines(data, source)
    text = decode(data).replace("\x00", "")
    delimiter = sniff(text[: 64 * 1024], tab=tab)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise IngestError(
                    f"{source!r} has more than {MAX_ROWS:,} rows; it reads as a data export, "
                    "not a document (split it, or keep only the rows people ask about)"
                )
            rows.append(row)
    except csv.Error as exc:
        if "field limit" in str(exc):  # the csv module's own bound, csv.field_size_limit()
            raise IngestError(
                f"{source!r} has a field longer than {csv.field_size_limit():,} characters; "
                "a table cell that long is not a table (is a quote left unclosed?)"
            ) from None
        raise IngestError(f"{source!r} could not be read as CSV ({exc})") from None
    return rows


def _check_lines(data: bytes, source: str) -> None:
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end == -1 else end
        if end - start > MAX_LINE:
            raise IngestError(
                f"{source!r} has a line of {(end - start) // 1024:,} KB; a table row is "
                f"at most {MAX_LINE // 1024:,} KB (is it really a CSV file?)"
            )
        start = end + 1


def parse(data: bytes, source: str, *, tab: bool) -> Parsed:
    if not data.strip():
        raise EmptyDocument(f"{source!r} is empty")
    table = markdown_table(read_rows(data, source, tab=tab))
    if not table:
        raise IngestError(f"{source!r} has no fields with text")
    return Parsed(table)


def check(path: Path, filename: str) -> None:
    refuse_blank(path, filename)
    if b"\x00" in head(path, 8192) and not head(path, 2).startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"{filename!r} looks like binary data, not CSV", code="not_csv")


CSV = Format(
    label="CSV",
    media_type="text/csv",
    suffixes=(".csv",),
    check=check,
    parse=partial(parse, tab=False),
)
TSV = Format(
    label="TSV",
    media_type="text/tab-separated-values",
    suffixes=(".tsv", ".tab"),
    check=check,
    parse=partial(parse, tab=True),
)
