"""Spreadsheets (XLSX, XLSM, ODS) with python-calamine: one heading and one table a sheet.

calamine (Rust) reads the values a spreadsheet stores, so a formula gives its last result
(what Excel shows), never its text; numbers are written as people read them (1350, not
1350.0). A header row made of merged cells ("Revenue" over 2021, 2022) is joined with the
row below it ("Revenue 2022"), so each column keeps a name that answers questions.

calamine holds a sheet as a dense grid: a sheet whose cells reach from A1 to XFD1048576
would need billions of them. Before calamine reads an XLSX sheet, the cell references in
its XML are scanned (streamed, never inflated whole) and a sheet spanning more than
MAX_CELLS is refused; the sandbox's memory limit backs this up for ODS.
"""

from __future__ import annotations

import io
import re
import zipfile
from functools import partial
from typing import Any

from app.ingest.formats import ooxml
from app.ingest.formats.base import Format, IngestError, Parsed
from app.ingest.formats.table import joined_header, markdown_table

MAX_CELLS = 5_000_000  # rows x columns of one sheet's grid
MAX_ROWS = 200_000  # rows with text, all sheets together: beyond, it is a database dump
# calamine holds every shared string in memory at once; real workbooks' are a few MB.
MAX_SHARED_STRINGS = 64 * 1024 * 1024
_CELL_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
_XLSX_PART = "xl/workbook.xml"
_ODS_PART = "content.xml"


def parse(data: bytes, source: str, *, kind: str) -> Parsed:
    part = _ODS_PART if kind == "ODS" else _XLSX_PART
    ooxml.check_archive(io.BytesIO(data), source, kind=kind, part=part)
    if kind != "ODS":
        _check_extent(data, source)
    from python_calamine import CalamineError, CalamineWorkbook

    blocks: list[str] = []
    rows_read = 0
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for name in workbook.sheet_names:
            sheet = workbook.get_sheet_by_name(name)
            # Empty rows (a million formatted ones, say) are skipped, not counted.
            top, left = sheet.start or (0, 0)
            numbered = [
                (top + i, row)
                for i, row in enumerate(sheet.iter_rows())
                if any(v != "" for v in row)
            ]
            rows = [row for _, row in numbered]
            rows_read += len(rows)
            if rows_read > MAX_ROWS:
                raise IngestError(
                    f"{source!r} has more than {MAX_ROWS:,} rows; it reads as a data export, "
                    "not a document (split it, or keep only the rows people ask about)"
                )
            merged = _merged(sheet)
            header_row = numbered[0][0] if numbered else 0
            table = markdown_table(_with_header(rows, merged, header_row, left))
            if table:
                blocks.append(f"## {_heading(name)}\n\n{table}")
    except IngestError:
        raise
    except (CalamineError, ValueError, KeyError, zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"{source!r} could not be read as an {kind} file ({exc})") from None
    if not blocks:
        raise IngestError(f"{source!r} has no cells with text on any sheet")
    return Parsed("\n\n".join(blocks))


def _heading(name: str) -> str:
    return " ".join(name.split()) or "Sheet"


def _merged(sheet: Any) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    try:
        return list(sheet.merged_cell_ranges or [])
    except Exception:  # not every format records merges
        return []


def _with_header(
    rows: list[list[Any]],
    merged: list[tuple[tuple[int, int], tuple[int, int]]],
    header_row: int,
    left: int,
) -> list[list[Any]]:
    """Rows with merged header cells filled in, a merged header joined with the next row.

    `header_row` is the sheet's row number of rows[0]; `left` its first column's number.
    """
    if not rows:
        return rows
    rows = [list(row) for row in rows]
    spans_header = False
    for (r0, c0), (_, c1) in merged:
        c0, c1 = c0 - left, c1 - left
        # Only a header merged across columns is filled (a value merged down stays once).
        if r0 != header_row or c1 <= c0 or not 0 <= c0 < len(rows[0]):
            continue
        spans_header = True
        for c in range(c0 + 1, min(c1 + 1, len(rows[0]))):
            rows[0][c] = rows[0][c0]
    if spans_header and len(rows) > 1:
        return [joined_header(rows[0], rows[1]), *rows[2:]]
    return rows


def _check_extent(data: bytes, source: str) -> None:
    """Refuse a sheet whose cell references span more than MAX_CELLS, reading each sheet's
    XML in pieces (a 100 MB part is scanned in bounded memory)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename == "xl/sharedStrings.xml" and info.file_size > MAX_SHARED_STRINGS:
                raise IngestError(
                    f"{source!r} holds {info.file_size // (1024 * 1024)} MB of shared strings, "
                    f"more than the {MAX_SHARED_STRINGS // (1024 * 1024)} MB a workbook of "
                    "documents needs (save it without unused sheets and upload it again)"
                )
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            max_row = max_col = 0
            tail = b""
            with archive.open(info) as part:
                while piece := part.read(1 << 20):
                    window = tail + piece
                    for match in _CELL_REF.finditer(window):
                        max_col = max(max_col, _column(match.group(1)))
                        max_row = max(max_row, int(match.group(2)))
                    tail = window[-64:]
                    if max_row * max_col > MAX_CELLS:
                        raise IngestError(
                            f"{source!r} has a sheet reaching row {max_row:,} and column "
                            f"{max_col:,}: more than {MAX_CELLS:,} cells to lay out "
                            "(remove the empty rows and columns and upload it again)"
                        )


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


XLSX = Format(
    label="Excel (XLSX)",
    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    suffixes=(".xlsx",),
    check=ooxml.upload_check("XLSX", _XLSX_PART, "not_xlsx"),
    parse=partial(parse, kind="XLSX"),
)
XLSM = Format(
    label="Excel with macros (XLSM)",
    media_type="application/vnd.ms-excel.sheet.macroenabled.12",
    suffixes=(".xlsm",),
    check=ooxml.upload_check("XLSM", _XLSX_PART, "not_xlsm"),
    parse=partial(parse, kind="XLSM"),
)
ODS = Format(
    label="OpenDocument spreadsheet (ODS)",
    media_type="application/vnd.oasis.opendocument.spreadsheet",
    suffixes=(".ods",),
    check=ooxml.upload_check("ODS", _ODS_PART, "not_ods"),
    parse=partial(parse, kind="ODS"),
)
