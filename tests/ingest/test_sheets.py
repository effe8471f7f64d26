"""Spreadsheets and delimited files: real files made in the test, hostile ones, properties."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import EmptyDocument
from app.ingest import sandbox
from app.ingest.chunk import chunk_text
from app.ingest.formats import for_filename, parse
from app.ingest.formats.base import IngestError
from tests import files

CSV = "text/csv"
TSV = "text/tab-separated-values"
_SHEET = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def words(text: str) -> int:
    return len(text.split())


def test_a_workbook_has_a_heading_and_a_table_per_sheet_with_a_merged_header_joined():
    data = files.xlsx(
        {
            "Revenue": [
                ["Region", "Revenue", None],
                [None, 2021, 2022],
                ["Eastmarch", 1200.5, 1350],
                ["Westfall", 800, "=B4*2"],
            ],
            "Staff": [["Name", "Joined"], ["Ann", dt.date(2019, 4, 1)]],
            "Empty": [],
            "Notes": [["Figures in thousands of euros"]],
        },
        merge={"Revenue": "B1:C1"},
        cached={"B4*2": "1600"},
    )
    text = parse(data, files.XLSX, "report.xlsx").text
    assert text == (
        "## Revenue\n\n"
        "| Region | Revenue 2021 | Revenue 2022 |\n| --- | --- | --- |\n"
        "| Eastmarch | 1200.5 | 1350 |\n| Westfall | 800 | 1600 |\n\n"
        "## Staff\n\n| Name | Joined |\n| --- | --- |\n| Ann | 2019-04-01 |\n\n"
        "## Notes\n\n| Figures in thousands of euros |\n| --- |"
    )
    assert "B4*2" not in text  # the formula's result, never the formula


def test_xlsm_and_ods_are_read_like_xlsx():
    xlsm = files.xlsx({"Data": [["Town", "Mayor"], ["Oslo", "Ann"]]})
    assert "| Oslo | Ann |" in parse(xlsm, for_filename("a.xlsm").media_type, "a.xlsm").text
    ods = files.ods([["Town", "Mayor"], ["Bergen", "Per | Kari"]], sheet="Towns")
    assert parse(ods, files.ODS, "a.ods").text == (
        "## Towns\n\n| Town | Mayor |\n| --- | --- |\n| Bergen | Per \\| Kari |"
    )


def test_a_long_sheet_is_chunked_by_rows_with_its_header_repeated():
    rows = [["Region", "Revenue 2022"]] + [[f"Town {i}", i * 100] for i in range(200)]
    parsed = parse(files.xlsx({"Revenue": rows}), files.XLSX, "long.xlsx")
    chunks = chunk_text(parsed.text, words, 60, markdown=True, overlap_tokens=10)
    assert len(chunks) > 5
    seen = []
    for chunk in chunks:
        lines = [line for line in chunk.text.split("\n") if line.startswith("| Town")]
        assert "| Region | Revenue 2022 |\n| --- | --- |" in chunk.text
        assert chunk.heading_path == ["Revenue"]
        assert chunk.token_count <= 60
        seen += lines
    assert seen == [f"| Town {i} | {i * 100} |" for i in range(200)]  # each row once, whole


def test_a_csv_with_a_bom_quoted_commas_and_line_breaks():
    data = b'\xef\xbb\xbfname,address,note\n"Smith, J","1 High St, Leeds",'
    data += b'"said ""hi""\nthen left"\n'
    assert parse(data, CSV, "people.csv").text == (
        "| name | address | note |\n| --- | --- | --- |\n"
        '| Smith, J | 1 High St, Leeds | said "hi" then left |'
    )


@pytest.mark.parametrize(
    ("data", "media_type", "row"),
    [
        ("Stadt;Einwohner\nMünchen;1500000\n".encode("cp1252"), CSV, "| München | 1500000 |"),
        ("town\tpeople\nOslo\t700000\n".encode("utf-16"), TSV, "| Oslo | 700000 |"),
        (b"town|people\nOslo|700000\n", CSV, "| Oslo | 700000 |"),
        (b"town,people\r\nOslo,700000\r\n", CSV, "| Oslo | 700000 |"),
    ],
    ids=["semicolons-cp1252", "tsv-utf16", "pipes", "crlf"],
)
def test_delimiter_and_encoding_are_sniffed(data, media_type, row):
    assert row in parse(data, media_type, "towns.csv").text


def test_an_upload_check_refuses_a_binary_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00\x00binary")
    with pytest.raises(IngestError, match="binary"):
        for_filename("x.csv").check(path, "x.csv")


def test_an_empty_csv_is_refused():
    with pytest.raises(EmptyDocument):
        parse(b"\n \n", CSV, "e.csv")


# Hostile input: each a clear message, fast, in the sandbox, which then parses the next file.


@pytest.fixture(scope="module")
def box():
    made = sandbox.Sandbox(sandbox.Limits(timeout_seconds=30, memory_mb=1024))
    yield made
    made.close()


def _refused(box: sandbox.Sandbox, data: bytes, media_type: str, source: str) -> str:
    began = time.monotonic()
    with pytest.raises(IngestError) as caught:
        box.parse(data, media_type, source)
    assert time.monotonic() - began < 30  # a bound, not a speed claim: the timeout is 30 s
    assert source in str(caught.value)
    assert "| a |" in box.parse(files.xlsx({"S": [["a"], ["b"]]}), files.XLSX, "ok.xlsx").text
    return str(caught.value)


def test_a_sheet_reaching_the_last_cell_is_refused_before_it_is_laid_out(box):
    far = (
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>b</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    message = _refused(box, files.xlsx_with_sheet_xml(_SHEET + far), files.XLSX, "far.xlsx")
    assert "column 16,384" in message


def test_a_million_empty_rows_are_skipped():
    rows = b"".join(b'<row r="%d" s="1" customFormat="1"/>' % i for i in range(2, 1_000_001))
    body = (
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>'
        + rows
        + b'<row r="1000001"><c r="A1000001" t="inlineStr"><is><t>Last</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    parsed = parse(files.xlsx_with_sheet_xml(_SHEET + body), files.XLSX, "empty.xlsx")
    assert parsed.text == "## Data\n\n| Name |\n| --- |\n| Last |"


def test_a_huge_shared_strings_part_is_refused_unread(box):
    strings = b"<sst>" + b"".join(b"<si><t>%08d</t></si>" % i for i in range(4_500_000)) + b"</sst>"
    data = files.xlsx_with_sheet_xml(_SHEET + b"<sheetData/></worksheet>", strings)
    assert "shared strings" in _refused(box, data, files.XLSX, "strings.xlsx")


def test_a_csv_with_one_50_mb_line_is_refused(box):
    data = b"a,b\n" + b"x," * (25 * 1024 * 1024) + b"\n"
    assert "line of" in _refused(box, data, CSV, "long.csv")


def test_a_csv_with_a_field_past_the_csv_modules_limit_is_refused(box):
    data = b'a,b\n"' + b"x" * 200_000 + b'",y\n'
    assert "field longer" in _refused(box, data, CSV, "field.csv")


# Properties: any table written by the csv module (any delimiter) or by openpyxl reads back
# cell for cell; any bytes at all end as a table or an IngestError, never another exception.

_cell = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co")), max_size=12
).map(lambda s: " ".join(s.split()))  # fmt: skip
_table = st.integers(1, 5).flatmap(
    lambda width: st.lists(st.lists(_cell, min_size=width, max_size=width), min_size=2, max_size=8)
)


def _cells(markdown: str) -> list[list[str]]:
    lines = markdown.split("\n")
    del lines[1]
    return [
        [c.strip().replace("\\|", "|").replace("\\\\", "\\") for c in _split(line)]
        for line in lines
    ]


def _split(line: str) -> list[str]:
    cells, current, escaped = [], "", False
    for char in line[2:-2]:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == "|":
            cells.append(current)
            current = ""
        else:
            current += char
    return [*cells, current]


def _expected(rows: list[list[str]]) -> list[list[str]]:
    rows = [row for row in rows if any(row)]
    keep = [c for c in range(len(rows[0])) if any(row[c] for row in rows)] if rows else []
    return [[row[c] for c in keep] for row in rows]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_table, st.sampled_from([",", ";", "\t"]))
def test_property_a_written_csv_reads_back_cell_for_cell(rows, delimiter):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=csv.QUOTE_ALL).writerows(rows)
    expected = _expected(rows)
    try:
        text = parse(buffer.getvalue().encode(), TSV if delimiter == "\t" else CSV, "p.csv").text
    except (EmptyDocument, IngestError):
        assert not expected
        return
    assert _cells(text) == expected


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_table)
def test_property_a_written_workbook_reads_back_cell_for_cell(rows):
    rows = [[cell if cell and cell[0] != "=" else cell.lstrip("=") for cell in r] for r in rows]
    expected = _expected(rows)
    try:
        text = parse(files.xlsx({"S": rows}), files.XLSX, "p.xlsx").text
    except IngestError:
        assert not expected
        return
    assert text.startswith("## S\n\n")
    assert _cells(text.removeprefix("## S\n\n")) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from([CSV, TSV, files.XLSX, files.ODS]))
def test_property_any_bytes_give_a_table_or_an_ingest_error(data, media_type):
    try:
        parsed = parse(data, media_type, "any")
    except (IngestError, EmptyDocument) as exc:
        assert "'any'" in str(exc)
        return
    assert parsed.text.strip()
