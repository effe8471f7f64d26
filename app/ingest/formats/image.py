"""Images of pages (PNG, JPEG, TIFF, WebP): their text recognised by OCR (ocr.py).

Each frame of a TIFF is a page, so chunks cite it; a photo's EXIF orientation is applied
before recognition. Image headers are read before any pixel is decoded: an image whose
dimensions exceed ocr.MAX_PIXELS (a decompression bomb, or a poster) is refused unread.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from app.ingest.formats import ocr
from app.ingest.formats.base import Format, IngestError, Parsed, join_pages
from app.ingest.formats.pagetext import join_hyphens

MAX_FRAMES = 500  # pages of a multi-page TIFF, as for a scanned PDF


def _open(data: bytes | Path, source: str, kind: str):
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = ocr.MAX_PIXELS  # Pillow refuses past twice this by itself
    try:
        image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise IngestError(f"{source!r} is not a {kind} image we can read ({exc})") from None
    width, height = image.size
    if width * height > ocr.MAX_PIXELS:
        raise IngestError(
            f"{source!r} is {width:,} x {height:,} pixels, more than the "
            f"{ocr.MAX_PIXELS:,} a page image needs; it may be a decompression bomb"
        )
    return image


def parse(data: bytes, source: str, *, kind: str) -> Parsed:
    image = _open(data, source, kind)
    frames = getattr(image, "n_frames", 1)
    if frames > MAX_FRAMES:
        raise IngestError(
            f"{source!r} has {frames} pages; at most {MAX_FRAMES} are recognised (OCR) in "
            "one document (split it into smaller files)"
        )
    try:
        ocr.engine()
    except ocr.OcrUnavailable as exc:
        raise IngestError(f"{source!r} is an image, and OCR is not available: {exc}") from None
    try:
        found = list(ocr.read_pages(_pages(image, source), frames))
    except (OSError, ValueError) as exc:  # truncated or corrupt pixel data
        raise IngestError(f"{source!r} could not be decoded as a {kind} image ({exc})") from None
    pages = [page.text for page in found]
    if not any(pages):
        raise IngestError(f"{source!r} is an image in which OCR found no text")
    text, starts = join_pages(join_hyphens(pages))
    confidences = {n: page.confidence for n, page in enumerate(found, 1) if page.text}
    return Parsed(text, page_starts=starts, markdown=False, ocr_pages=confidences)


def _pages(image, source: str) -> Iterator:
    from PIL import ImageOps

    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        width, height = image.size  # each TIFF frame has its own size
        if width * height > ocr.MAX_PIXELS:
            raise IngestError(f"{source!r} has a page of {width:,} x {height:,} pixels")
        yield ImageOps.exif_transpose(image.convert("L") if image.mode == "P" else image)


def check(path: Path, filename: str, *, kind: str) -> None:
    """The header must be an image of this kind, of a size a page can have."""
    image = _open(path, filename, kind)
    try:
        if (image.format or "").upper() not in _PIL_NAMES[kind]:
            raise IngestError(
                f"{filename!r} is not a {kind} image (it is {image.format or 'unknown'})",
                code="not_image",
            )
    finally:
        image.close()


_PIL_NAMES = {"PNG": {"PNG"}, "JPEG": {"JPEG", "MPO"}, "TIFF": {"TIFF"}, "WebP": {"WEBP"}}


def _format(kind: str, media_type: str, suffixes: tuple[str, ...]) -> Format:
    return Format(
        label=f"{kind} image (OCR)",
        media_type=media_type,
        suffixes=suffixes,
        check=partial(check, kind=kind),
        parse=partial(parse, kind=kind),
        pages="page" if kind == "TIFF" else None,
    )


PNG = _format("PNG", "image/png", (".png",))
JPEG = _format("JPEG", "image/jpeg", (".jpg", ".jpeg"))
TIFF = _format("TIFF", "image/tiff", (".tif", ".tiff"))
WEBP = _format("WebP", "image/webp", (".webp",))
