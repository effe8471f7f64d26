"""OCR of scanned pages and photos with Tesseract (through tesserocr's in-process API).

Tesseract over RapidOCR (rapidocr-onnxruntime, whose PP-OCR weights ship in its wheel),
measured by `python bench/ocr.py` on rendered pages of the GPL (Tesseract on 20 pages,
RapidOCR on 8: `--pages 8 --engines rapidocr`), one core each:

| engine | word accuracy, clean 300 dpi | noisy 200 dpi | pages per CPU second |
| --- | --- | --- | --- |
| Tesseract 5.5 (tesserocr) | 0.997 | 0.951 | 1.59 |
| RapidOCR 1.4 (PP-OCRv4) | 0.908 | 0.378 | 0.19 |

RapidOCR's models, trained for Chinese and English, lose the spaces between English words
(the "glued words" fault we removed from PDF text) and fall apart on noisy scans, at an
eighth of the speed. Tesseract's language packs are Debian packages
(`tesseract-ocr-eng`, `-deu`, ...), chosen by OCR_LANGUAGES.

The engine is loaded once per parsing child and kept; each page is recognised under a
deadline (Tesseract stops and returns what it has), so one pathological image cannot hold
the sandbox's whole time budget.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# The engine comes with tesserocr's wheel (requirements.txt); the language data is Debian's.
INSTALL = "apt-get install tesseract-ocr-eng"
# Pixels one image may have once decoded (a 600 dpi A3 page is ~70 million): past this a
# "photo" is a decompression bomb. Pillow's own warning is at 89 million.
MAX_PIXELS = 80_000_000
# Below this mean word confidence (0-100) a page's text is likely wrong.
LOW_CONFIDENCE = 60.0
_SPACES = re.compile(r"[ \t]+")


def provenance(confidence: float | None) -> str | None:
    """What a sources panel says of a passage read by OCR (None for one that was not)."""
    if confidence is None:
        return None
    if confidence < LOW_CONFIDENCE:
        return (
            f"text recognised from a scan, with low confidence ({confidence:.0f}%): "
            "words may be wrong"
        )
    return f"text recognised from a scan ({confidence:.0f}% confidence)"


class OcrUnavailable(Exception):
    """Tesseract or a language's data is not installed; the message says how to add it."""


@dataclass(frozen=True)
class PageText:
    text: str
    confidence: float  # mean word confidence, 0-100; 0 when no word was found


def tessdata() -> str | None:
    """Where the language data is: TESSDATA_PREFIX, else Debian's or Homebrew's folder."""
    if prefix := os.environ.get("TESSDATA_PREFIX"):
        return prefix
    found = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"))
    found += glob.glob("/usr/local/share/tessdata") + glob.glob("/opt/homebrew/share/tessdata")
    return found[-1] if found else None


def installed_languages() -> set[str]:
    folder = tessdata()
    if folder is None:
        return set()
    return {name.removesuffix(".traineddata") for name in os.listdir(folder)} - {"osd"}


class Tesseract:
    """One Tesseract engine for the given languages ("eng", "deu", ...)."""

    def __init__(self, languages: tuple[str, ...]) -> None:
        # One thread a page: the parsing children already run side by side.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        try:
            import tesserocr
        except ImportError:
            raise OcrUnavailable(
                "the OCR engine is not installed (pip install -r requirements.txt)"
            ) from None
        missing = set(languages) - installed_languages()
        if missing:
            packages = " ".join(
                f"tesseract-ocr-{lang.replace('_', '-')}" for lang in sorted(missing)
            )
            raise OcrUnavailable(
                f"install its language data with `apt-get install {packages}` "
                f"(or set OCR_LANGUAGES to languages that are installed)"
            )
        self.api = tesserocr.PyTessBaseAPI(
            path=tessdata(), lang="+".join(languages), psm=tesserocr.PSM.AUTO
        )
        # Scans are dark text on light paper: the second pass that tries each word inverted
        # costs a fifth of the time and finds nothing on them.
        self.api.SetVariable("tessedit_do_invert", "0")

    def read(self, image: Image.Image, *, timeout_seconds: float = 30.0) -> PageText:
        """The text of one page image and its mean word confidence."""
        self.api.SetImage(image.convert("L"))
        self.api.Recognize(int(timeout_seconds * 1000))
        text = self.api.GetUTF8Text()
        confidences = [c for c in self.api.AllWordConfidences() if c >= 0]
        lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
        # Tesseract separates paragraphs with blank lines: kept, so chunks keep them apart.
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        return PageText(cleaned, round(mean, 1))


@dataclass(frozen=True)
class Options:
    languages: tuple[str, ...] = ("eng",)  # OCR_LANGUAGES
    page_seconds: float = 30.0  # OCR_PAGE_SECONDS: the bound on one page


options = Options()
# Called after each page is recognised with (pages done, pages to do): the sandbox's child
# grants itself the page's CPU time and reports progress through it.
on_page: Callable[[int, int], None] | None = None
_engines: dict[tuple[str, ...], Tesseract] = {}


def configure(new: Options) -> None:
    global options
    options = new


def engine() -> Tesseract:
    """This process's engine for the configured languages, loaded on first use."""
    if options.languages not in _engines:
        _engines[options.languages] = Tesseract(options.languages)
    return _engines[options.languages]


def read_pages(images: Iterable[Image.Image], total: int) -> Iterator[PageText]:
    """Recognise page images one by one (each under the page bound), reporting progress."""
    for done, image in enumerate(images, 1):
        page = engine().read(image, timeout_seconds=options.page_seconds)
        if on_page is not None:
            on_page(done, total)
        yield page
