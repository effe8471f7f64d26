"""OCR accuracy and speed on rendered pages: word accuracy (1 - WER) and pages per second.

    python bench/ocr.py [--pages 20] [--engines tesseract rapidocr]

Pages of real text (the GNU GPL 3 from /usr/share/common-licenses, prose nobody here
wrote) are typeset with reportlab and rasterised by PDFium: half clean at 300 dpi, half
noisy (200 dpi, turned 1.5 degrees, blurred, speckled, saved as a JPEG at quality 50).
Each engine reads every page on one thread (OMP_THREAD_LIMIT=1, ONNX Runtime with one
intra-op thread): pages per CPU second is pages per second per core, and unlike the wall
clock it holds on a machine shared with other work. Word error is the edit distance between
the word sequences over the reference's length. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import random
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesseract is loaded: one core

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageFilter  # noqa: E402

from app.ingest.formats.ocr import OcrUnavailable  # noqa: E402

SOURCE = Path("/usr/share/common-licenses/GPL-3")
_PUNCT = "\"'`.,;:!?()[]{}<>"


def page_texts(count: int, words_per_page: int = 220) -> list[str]:
    words = SOURCE.read_text().split()
    step = max(1, (len(words) - words_per_page) // count)
    return [" ".join(words[i * step : i * step + words_per_page]) for i in range(count)]


def render(text: str, dpi: int) -> Image.Image:
    import pypdfium2 as pdfium
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setFont("Times-Roman", 11)
    y = 780
    for line in textwrap.wrap(text, 90):
        page.drawString(60, y, line)
        y -= 15
    page.showPage()
    page.save()
    document = pdfium.PdfDocument(buffer.getvalue())
    image = document[0].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
    document.close()
    return image


def noisy(image: Image.Image, seed: int) -> Image.Image:
    import numpy as np

    rng = np.random.default_rng(seed)
    image = image.rotate(1.5, resample=Image.BICUBIC, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(0.7))
    pixels = np.asarray(image, dtype=np.int16)
    pixels = pixels + rng.normal(0, 18, pixels.shape).astype(np.int16)
    speckle = rng.random(pixels.shape) < 0.002
    pixels[speckle] = 0
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=50)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def word_error(reference: str, hypothesis: str) -> float:
    ref = [w.strip(_PUNCT).lower() for w in reference.split()]
    hyp = [w.strip(_PUNCT).lower() for w in hypothesis.split()]
    ref, hyp = [w for w in ref if w], [w for w in hyp if w]
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def tesseract() -> Callable[[Image.Image], str]:
    from app.ingest.formats.ocr import Tesseract

    engine = Tesseract(("eng",))
    return lambda image: engine.read(image).text


def rapidocr() -> Callable[[Image.Image], str]:
    # Measured, not shipped: requirements*.txt do not install it (it brings OpenCV along).
    rapid = importlib.import_module("rapidocr_onnxruntime")
    engine = rapid.RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def read(image: Image.Image) -> str:
        import numpy as np

        result, _ = engine(np.asarray(image.convert("RGB")))
        return "\n".join(text for _, text, _ in result or [])

    return read


ENGINES = {"tesseract": tesseract, "rapidocr": rapidocr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--smoke", action="store_true", help="2 pages, Tesseract only")
    args = parser.parse_args()
    if args.smoke:
        args.pages, args.engines = 2, ["tesseract"]
    texts = page_texts(args.pages)
    half = args.pages // 2
    pages = [("clean", t, render(t, 300)) for t in texts[:half]]
    pages += [("noisy", t, noisy(render(t, 200), i)) for i, t in enumerate(texts[half:])]
    random.seed(0)
    results = {}
    for name in args.engines:
        try:
            read = ENGINES[name]()
        except (ImportError, OcrUnavailable) as exc:
            results[name] = {"skipped": str(exc)}  # RapidOCR: pip install rapidocr-onnxruntime
            print(f"{name:10} skipped ({exc})")
            continue
        read(pages[0][2])  # warm up: models loaded before the clock starts
        errors: dict[str, list[float]] = {"clean": [], "noisy": []}
        began, cpu = time.perf_counter(), time.process_time()
        texts = [(kind, text, read(image)) for kind, text, image in pages]
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        for kind, text, found in texts:
            errors[kind].append(word_error(text, found))
        results[name] = {
            "accuracy_clean": round(1 - sum(errors["clean"]) / len(errors["clean"]), 4),
            "accuracy_noisy": round(1 - sum(errors["noisy"]) / len(errors["noisy"]), 4),
            "pages_per_cpu_second": round(len(pages) / cpu, 3),
            "pages_per_second_wall": round(len(pages) / seconds, 3),
        }
        print(f"{name:10} {results[name]}", flush=True)
    print(json.dumps({"pages": args.pages, "engines": results}))


if __name__ == "__main__":
    main()
