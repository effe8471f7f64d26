"""OCR: scans and photos made in the test are read; hostile images fail with a message.

Regression tests for issue 24: a scanned PDF was accepted and yielded nothing to search,
and a PNG of a page was refused.
"""

from __future__ import annotations

import io
import os
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ingest import sandbox
from app.ingest.formats import for_filename, ocr, parse
from app.ingest.formats.base import IngestError
from tests import files

PDF = "application/pdf"
PAGE_ONE = ["Eastmarch Water Board", "Annual report of the reservoir levels", "Signed by the clerk"]
PAGE_TWO = ["The northern dam holds", "fourteen million cubic metres", "of drinking water"]

# CI installs the language data (.ci/run), so there these tests fail rather than skip.
pytestmark = pytest.mark.skipif(
    "eng" not in ocr.installed_languages() and not os.environ.get("CI"),
    reason=f"OCR language data missing: {ocr.INSTALL}",
)


def words_of(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def test_a_scanned_pdf_is_read_page_by_page_and_marked_as_ocr():
    parsed = parse(files.scanned_pdf([PAGE_ONE, PAGE_TWO]), PDF, "scan.pdf")
    first = parsed.text[: parsed.page_starts[1]]
    second = parsed.text[parsed.page_starts[1] :]
    assert {"eastmarch", "reservoir", "clerk"} <= words_of(first)
    assert {"northern", "fourteen", "drinking"} <= words_of(second)
    assert set(parsed.ocr_pages) == {1, 2}
    assert all(confidence > 80 for confidence in parsed.ocr_pages.values())


def test_a_pdf_with_a_text_layer_is_not_ocred():
    parsed = parse(files.pdf(["Solar panels convert sunlight into power every day."]), PDF, "t")
    assert parsed.ocr_pages == {}


def test_a_noisy_turned_photo_of_a_page_is_read():
    data = files.photo(PAGE_TWO)
    parsed = parse(data, for_filename("photo.jpg").media_type, "photo.jpg")
    assert {"northern", "dam", "fourteen", "drinking", "water"} <= words_of(parsed.text)
    assert parsed.page_starts == [0] and parsed.ocr_pages[1] > 50


@pytest.mark.parametrize("kind", ["PNG", "TIFF", "WEBP"])
def test_png_tiff_and_webp_pages_are_read(kind):
    buffer = io.BytesIO()
    files.page_image(PAGE_ONE).save(buffer, kind)
    suffix = {"PNG": "png", "TIFF": "tif", "WEBP": "webp"}[kind]
    parsed = parse(buffer.getvalue(), for_filename(f"p.{suffix}").media_type, f"p.{suffix}")
    assert {"eastmarch", "reservoir"} <= words_of(parsed.text)


def test_a_multi_page_tiff_keeps_its_pages():
    buffer = io.BytesIO()
    one, two = files.page_image(PAGE_ONE), files.page_image(PAGE_TWO)
    one.save(buffer, "TIFF", save_all=True, append_images=[two])
    parsed = parse(buffer.getvalue(), "image/tiff", "two.tif")
    assert len(parsed.page_starts) == 2
    assert "fourteen" in words_of(parsed.text[parsed.page_starts[1] :])


def test_an_image_bomb_is_refused_from_its_header(tmp_path):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000), 1).save(buffer, "PNG")  # 400 million pixels, ~50 kB
    began = time.monotonic()
    with pytest.raises(IngestError, match="decompression bomb"):
        parse(buffer.getvalue(), "image/png", "bomb.png")
    path = tmp_path / "bomb.png"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(IngestError, match="decompression bomb"):
        for_filename("bomb.png").check(path, "bomb.png")
    assert time.monotonic() - began < 10  # a bound on "refused unread", not a speed claim


def test_an_image_named_png_that_is_a_jpeg_is_refused_at_upload(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(files.photo(["text"]))
    with pytest.raises(IngestError, match="not a PNG image"):
        for_filename("x.png").check(path, "x.png")


def test_a_2000_page_scan_is_refused_before_any_page_is_recognised():
    began = time.monotonic()
    with pytest.raises(IngestError, match="2000 scanned pages; at most 500"):
        parse(files.many_page_scan(2000), PDF, "archive.pdf")
    assert time.monotonic() - began < 60


def test_without_the_language_data_a_scan_fails_with_the_command_that_installs_it():
    ocr.configure(ocr.Options(languages=("zzz",)))
    try:
        with pytest.raises(IngestError) as caught:
            parse(files.scanned_pdf([PAGE_ONE]), PDF, "scan.pdf")
    finally:
        ocr.configure(ocr.Options())
    message = str(caught.value)
    assert "'scan.pdf' is a scan" in message
    assert "apt-get install tesseract-ocr-zzz" in message


def test_in_the_sandbox_each_recognised_page_reports_progress():
    # Each page recognised also grants the child OCR_PAGE_SECONDS more CPU time. The first
    # budget covers the child's start and the text layer: 2 s ran out on a machine at load 20.
    box = sandbox.Sandbox(sandbox.Limits(timeout_seconds=6, ocr_page_seconds=30))
    seen: list[tuple[str, int, int]] = []
    try:
        parsed = box.parse(
            files.scanned_pdf([PAGE_ONE, PAGE_TWO, PAGE_ONE]),
            PDF,
            "scan.pdf",
            lambda stage, done, total: seen.append((stage, done, total)),
        )
    finally:
        box.close()
    # The text layer is read page by page first (empty here), then each page is recognised.
    assert seen == [("parsing", n, 3) for n in (1, 2, 3)] + [("ocr", n, 3) for n in (1, 2, 3)]
    assert set(parsed.ocr_pages) == {1, 2, 3}


def test_a_low_confidence_page_says_its_words_may_be_wrong():
    assert ocr.provenance(None) is None
    assert ocr.provenance(93.4) == "text recognised from a scan (93% confidence)"
    assert "words may be wrong" in ocr.provenance(41.0)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["image/png", "image/jpeg", "image/tiff"]))
def test_property_any_bytes_as_an_image_give_text_or_an_ingest_error(data, media_type):
    try:
        parse(data, media_type, "any")
    except IngestError as exc:
        assert "'any'" in str(exc)
