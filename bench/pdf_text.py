"""Which PDF text extractor reads real manuals best: word error and pages per second.

    python bench/pdf_text.py [--man bash find rsync tar]

Each manual page installed on this machine (`/usr/share/man/man1/NAME.1.gz`) is typeset by
groff twice: as a PDF (hyphenated, with running headers and footers, as printed) and as
plain text without hyphenation or page breaks (the reference). Every extractor reads the
PDF page by page; the same cleaning the PDF parser applies (furniture dropped, line-end
hyphens joined) runs on every extractor's pages, and the result is compared with the
reference as bags of words: word error = (reference words missing + words added) /
reference words, so a glued "belowunder" costs three and a split "sa ved" three.
Needs groff with its PDF device (Debian: groff). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.ingest.formats.pagetext import drop_furniture, join_hyphens  # noqa: E402

_FOLD = str.maketrans(
    {
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
        "−": "-",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "\ufffe": "-",
    }
)
_PUNCT = "\"'`.,;:!?()[]{}<>|"


def words(text: str) -> Counter[str]:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    # Table rules ("|", "---") written by the PDF parser are markup, not words.
    return Counter(w for w in (t.strip(_PUNCT) for t in text.split()) if w and w != "---")


def word_error(reference: Counter[str], extracted: Counter[str]) -> float:
    missing = sum((reference - extracted).values())
    added = sum((extracted - reference).values())
    return (missing + added) / sum(reference.values())


def pypdf_plain(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def pypdf_layout(data: bytes) -> list[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]


def pdfium(data: bytes) -> list[str]:
    from app.ingest.formats.pdf import pdfium_pages

    return pdfium_pages(data)


def pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages

    pages = []
    for layout in extract_pages(io.BytesIO(data)):
        pages.append("".join(box.get_text() for box in layout if hasattr(box, "get_text")))
    return pages


EXTRACTORS: dict[str, Callable[[bytes], list[str]]] = {
    "pypdf": pypdf_plain,
    "pypdf_layout": pypdf_layout,
    "pypdfium2": pdfium,
    "pdfminer.six": pdfminer,
}


def typeset(name: str) -> tuple[bytes, str]:
    source = gzip.decompress(Path(f"/usr/share/man/man1/{name}.1.gz").read_bytes())
    pdf = subprocess.run(["groff", "-man", "-Tpdf"], input=source, capture_output=True).stdout
    plain = subprocess.run(
        ["groff", "-man", "-Tutf8", "-rcR=1", "-rHY=0", "-P-cbou"],
        input=source,
        capture_output=True,
    ).stdout.decode()
    if not pdf.startswith(b"%PDF"):
        sys.exit("groff has no PDF device here (Debian: apt-get install groff)")
    return pdf, plain


def typeset_with_reportlab(path: Path, words_per_page: int = 300) -> tuple[bytes, str]:
    """Two pages of a text file, typeset by reportlab; the reference is the text itself."""
    import textwrap

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    words = path.read_text().split()[: 2 * words_per_page]
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    for start in range(0, len(words), words_per_page):
        y = 800
        for line in textwrap.wrap(" ".join(words[start : start + words_per_page]), 90):
            page.drawString(60, y, line)
            y -= 14
        page.showPage()
    page.save()
    return buffer.getvalue(), " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--man", nargs="+", default=["bash", "find", "rsync", "tar"])
    parser.add_argument(
        "--smoke", action="store_true", help="two pages of the GPL typeset by reportlab (no groff)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.man = ["GPL-3 (reportlab)"]
        manuals = {args.man[0]: typeset_with_reportlab(Path("/usr/share/common-licenses/GPL-3"))}
    else:
        manuals = {name: typeset(name) for name in args.man}
    results = {}
    for extractor, extract in EXTRACTORS.items():
        raw_errors, clean_errors, pages, seconds = [], [], 0, 0.0
        for pdf, plain in manuals.values():
            reference = words(plain)
            began = time.process_time()  # CPU time: holds on a machine shared with others
            texts = extract(pdf)
            seconds += time.process_time() - began
            pages += len(texts)
            raw_errors.append(word_error(reference, words("\n".join(texts))))
            cleaned = join_hyphens(drop_furniture(texts))
            clean_errors.append(word_error(reference, words("\n".join(cleaned))))
        results[extractor] = {
            "word_error_raw": round(sum(raw_errors) / len(raw_errors), 4),
            "word_error_cleaned": round(sum(clean_errors) / len(clean_errors), 4),
            "cpu_ms_per_page": round(1000 * seconds / pages, 2),
            "pages": pages,
        }
        print(f"{extractor:14} {results[extractor]}", flush=True)
    print(json.dumps({"manuals": args.man, "extractors": results}))


if __name__ == "__main__":
    main()
