"""Table rows as answers: a Markdown table's row (what sheets, CSV, OCR and PDF tables are
stored as, app/ingest/formats/table.py) read with its header, "City: Lyon; Population:
522250", so a question about a cell is answered by its row and the names of its columns,
never by a loose cell."""

from __future__ import annotations

from app.text.tables import cells, is_separator


def row_texts(text: str) -> dict[int, str]:
    """Each data row of the text's Markdown tables, by the offset where its line starts, as
    "Header: cell; ..." (the header: the row above the table's `| --- |` separator)."""
    rows: dict[int, str] = {}
    header: list[str] | None = None
    previous: tuple[int, str] | None = None  # the line before, when it was a table row
    offset = 0
    for raw in text.splitlines(keepends=True):
        start = offset + len(raw) - len(raw.lstrip())
        offset += len(raw)
        line = raw.strip()
        if not line.startswith("|"):
            header, previous = None, None
            continue
        if is_separator(line) and previous is not None:
            header = cells(previous[1])
            rows.pop(previous[0], None)  # the header row is no answer of its own
        elif header is not None:
            rows[start] = _with_header(header, cells(line))
        previous = (start, line)
    return {start: row for start, row in rows.items() if row}


def _with_header(header: list[str], row: list[str]) -> str:
    pairs = zip(header + [""] * (len(row) - len(header)), row, strict=False)
    return "; ".join(f"{name}: {cell}" if name else cell for name, cell in pairs if cell)
