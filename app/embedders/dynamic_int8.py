"""The bundled MiniLM with int8 activations as well as int8 weights, derived once per machine
(and the fp32 model onnx-int8 runs, fused the same way).

The shipped file is weight-only int8: each MatMul's weight is `Cast(int8) * scale`, which
ONNX Runtime folds into fp32 weights at load, so it runs fp32 kernels. Here those weights
are folded the same way and ONNX Runtime's `quantize_dynamic` quantizes each such MatMul
(per output column, symmetric int8: the shipped weights' own grid, so they come back bit
for bit): the activations are quantized per batch (uint8) and the product runs on int8
kernels (MatMulInteger). Only the activations' rounding moves the vectors
(docs/retrieval.md, "Embeddings: ONNX int8 against torch fp32"). Before that, attention and
GELU are fused into ONNX Runtime's kernels (app/embedders/graph_fusion.py); attention's
products between activations, and the embeddings' Gather, stay fp32.

The converted file is written under the per-user cache folder, keyed by the shipped file's
sha256, atomically (processes may start together), with its own sha256 beside it: a cached
file that no longer matches it is rebuilt.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

from app.cache_dir import built_once, cache_root, file_sha256
from app.embedders.graph_fusion import fuse, live_nodes, replace_nodes

log = logging.getLogger(__name__)

# Bumped when the conversion changes: a different conversion is a different cached file.
VERSION = 3
MODEL, DIGEST = "model.onnx", "model.sha256"
Kind = Literal["dq8", "fused"]
BUILD_SECONDS = 600  # a conversion takes 1-3 s on 2 cores; more means a stuck child


def dynamic_int8_path(source: Path, source_sha256: str) -> Path:
    """onnx-q8's model: `convert(source)` (whose sha256 the caller has checked)."""
    return _derived("dq8", source, source_sha256)


def fused_path(source: Path, source_sha256: str) -> Path:
    """onnx-int8's model: `fused(source)`, fp32 (its vectors are the shipped file's to float
    rounding, so they are stored under the same name)."""
    return _derived("fused", source, source_sha256)


def _derived(kind: Kind, source: Path, source_sha256: str) -> Path:
    """A model derived from the shipped file, built on first use; a cached copy whose digest
    no longer matches is built again."""
    folder = cache_root() / f"minilm-{kind}-v{VERSION}-{source_sha256[:16]}"

    def build(building: Path) -> None:
        _build(kind, source, building / MODEL)
        (building / DIGEST).write_text(file_sha256(building / MODEL))

    return built_once(folder, build, _intact) / MODEL


def _build(kind: Kind, source: Path, target: Path) -> None:
    """Write the derived model in a child process: ONNX's Python package (34 MB) and the
    conversion's peak (the child's RSS: 410-460 MB) stay out of the web or ingestion worker
    that first needs it. A failed child raises ChildProcessError (an OSError) with what it
    printed."""
    try:
        run = subprocess.run(
            [sys.executable, "-m", __name__, kind, str(source), str(target)],
            cwd=Path(__file__).resolve().parents[2],  # where this `app` package is imported from
            capture_output=True,
            text=True,
            timeout=BUILD_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ChildProcessError(f"deriving the {kind} model took over {BUILD_SECONDS} s") from None
    if run.returncode != 0:
        raise ChildProcessError(f"deriving the {kind} model failed: {run.stderr[-2000:]}")


def _intact(folder: Path) -> bool:
    try:
        return (folder / DIGEST).read_text().strip() == file_sha256(folder / MODEL)
    except OSError:
        return False


def convert(source: Path) -> bytes:
    """The serialized model: `fused(source)` with each MatMul by a constant weight quantized
    dynamically."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = fused(source)
    constants = {i.name for i in model.graph.initializer}
    matmuls = [
        n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in constants
    ]
    with tempfile.TemporaryDirectory() as tmp:  # quantize_dynamic reads and writes files
        folded, quantized = Path(tmp) / "folded.onnx", Path(tmp) / MODEL
        onnx.save(model, str(folded))
        quantize_dynamic(
            folded,
            quantized,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=matmuls,
            # One scale per output column, symmetric int8: the shipped weights' own grid, so
            # the weights come back bit for bit and only the activations are rounded anew.
            per_channel=True,
            reduce_range=False,
            weight_type=QuantType.QInt8,
        )
        return quantized.read_bytes()


def fused(source: Path) -> Any:
    """The shipped model with its int8 weights folded into fp32 constants and its attention
    and GELU fused (app/embedders/graph_fusion.py): an fp32 model, what gets quantized."""
    import onnx

    model = onnx.load(str(source))
    _fold_int8_weights(model.graph)
    fuse(model)
    return model


def _fold_int8_weights(graph: Any) -> None:
    """Give each MatMul fed `Cast(int8) * scale` that product as an fp32 initializer (what
    ONNX Runtime does at load)."""
    from onnx import numpy_helper

    initializers = {i.name: i for i in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    folded: set[str] = set()
    for node in graph.node:
        weight = _int8_weight(node, producers, initializers)
        if weight is None:
            continue
        quantized, scale = (numpy_helper.to_array(initializers[name]) for name in weight)
        product = quantized.astype(np.float32) * scale.astype(np.float32).reshape(1, -1)
        graph.initializer.append(numpy_helper.from_array(product, node.input[1]))
        folded.add(node.input[1])
    # The Mul that made each weight goes (its output is an initializer now), then its Cast.
    kept = [node for node in graph.node if not folded.intersection(node.output)]
    replace_nodes(graph, live_nodes(graph, kept))


def _int8_weight(
    node: Any, producers: dict[str, Any], initializers: dict[str, Any]
) -> tuple[str, str] | None:
    """(int8 initializer, scale initializer) of a MatMul fed `Cast(int8) * scale`; else None."""
    if node.op_type != "MatMul":
        return None
    mul = producers.get(node.input[1])
    if mul is None or mul.op_type != "Mul" or mul.input[1] not in initializers:
        return None
    cast = producers.get(mul.input[0])
    if cast is None or cast.op_type != "Cast" or cast.input[0] not in initializers:
        return None
    quantized = initializers[cast.input[0]]
    if quantized.data_type != 3 or len(quantized.dims) != 2:  # TensorProto.INT8, 2-D
        return None
    scale = initializers[mul.input[1]]
    if int(np.prod(scale.dims)) != quantized.dims[1]:  # one scale per output column
        return None
    return cast.input[0], mul.input[1]


if __name__ == "__main__":  # _build's child: KIND SOURCE TARGET
    kind, source, target = sys.argv[1:]
    model = convert(Path(source)) if kind == "dq8" else fused(Path(source)).SerializeToString()
    Path(target).write_bytes(model)
