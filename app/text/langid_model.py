"""py3langid's model, unpacked once per machine into files every process maps read-only.

py3langid decompresses its model into each process's own memory: 74 MB, a quarter of a web
worker, loaded on the first question. Unpacked once into plain .npy files and mapped, the
arrays live in the page cache instead: one copy for every process on the machine, read in as
texts touch them (a question touches a few hundred KB), given back under memory pressure
like any file's pages. The classifier gets the same arrays, so the same answers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from app.cache_dir import built_once, cache_root, file_sha256

log = logging.getLogger(__name__)

MAPPED = ("ptc", "nextmove")  # the two large arrays (27 and 37 MB); the rest is small


def load_identifier() -> Any:
    """py3langid's LanguageIdentifier (probabilities normalised) on the mapped arrays; on its
    own in-memory model where no private cache directory can be written."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    packed = MODEL_DIR / MODEL_FILE
    try:
        folder = _unpacked(packed)
    except OSError as exc:
        log.warning("language model kept in memory (cannot unpack it: %s)", exc)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in MAPPED}
    small = {name: np.load(folder / f"{name}.npy") for name in ("pc", "nextmove_row", "out_feat")}
    classes = json.loads((folder / "classes.json").read_text())
    return LanguageIdentifier(
        arrays["ptc"],
        small["pc"],
        classes,
        # A memoryview indexes to plain ints, as fast as the array.array py3langid builds.
        memoryview(arrays["nextmove"]),
        small["out_feat"].tolist(),
        norm_probs=True,
        tk_row=memoryview(small["nextmove_row"]),
    )


def _unpacked(packed: Path) -> Path:
    """The folder of the model's unpacked arrays, written on first use (atomically: several
    processes may start together)."""
    digest = file_sha256(packed)[:16]

    def build(building: Path) -> None:
        from py3langid.modelio import load_model

        nb_ptc, nb_pc, classes, nextmove, row, output = load_model(packed)
        arrays = {
            "ptc": np.asarray(nb_ptc),
            "pc": np.asarray(nb_pc),
            "nextmove": np.frombuffer(nextmove, dtype=_dtype(nextmove)),
            "nextmove_row": np.frombuffer(row, dtype=_dtype(row)),
            "out_feat": np.asarray(output, dtype=np.int32),
        }
        for name, array in arrays.items():
            np.save(building / f"{name}.npy", array)
        (building / "classes.json").write_text(json.dumps(classes))  # last: marks it complete

    folder = cache_root() / f"langid-{digest}"
    return built_once(folder, build, lambda f: (f / "classes.json").exists())


def _dtype(values: Any) -> np.dtype[Any]:
    return np.dtype(values.typecode)
