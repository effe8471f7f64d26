"""The models derived from the bundled MiniLM once per machine and cached: onnx-q8's (int8
activations) and onnx-int8's (fp32, attention and GELU fused)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app.embedders import dynamic_int8
from app.embedders.onnx import INT8_SHA256, NAME, OnnxEmbedder, int8_model_path
from app.text.sentences import sentence_spans

TEXTS = [
    "Modern monocrystalline solar panels convert about 22 percent of sunlight into electricity.",
    "Sourdough bread rises slowly thanks to wild yeast. It needs flour, water and salt.",
    "Espresso is brewed by forcing hot water through finely ground coffee. Crema forms on top.",
    "what is the normal body temperature of a dog",
    "short",
]
# Against the shipped model on 2,000 msmarco passages, 500 business-reports passages and 100
# queries: mean 0.994, min 0.979 (docs/retrieval.md); below this the conversion has changed,
# not the activations' rounding.
FLOOR = 0.975


@pytest.fixture
def private_tmp(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's directory (where the cache folder lives) in the test's own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def converted() -> bytes:
    """The real conversion of the shipped file, done once for the tests that only cache it."""
    return dynamic_int8.convert(int8_model_path())


def _cached(root: Path) -> list[Path]:
    return sorted((root / f"rag-cache-{os.getuid()}").iterdir())


def test_onnx_q8_vectors_stay_close_to_the_shipped_models(private_tmp) -> None:
    async def run():
        shipped = await OnnxEmbedder.load()
        dynamic = await OnnxEmbedder.load(dynamic=True)
        spans = [sentence_spans(t) for t in TEXTS]
        got = await dynamic.embed_spans(TEXTS, spans)
        want = await shipped.embed_spans(TEXTS, spans)
        await shipped.close()
        await dynamic.close()
        return dynamic, got, want

    dynamic, (vectors, sentences), (ref_vectors, ref_sentences) = asyncio.run(run())
    assert (vectors * ref_vectors).sum(axis=1).min() >= FLOOR
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    for mine, theirs in zip(sentences, ref_sentences, strict=True):
        assert mine is not None and theirs is not None
        assert (mine * theirs).sum(axis=1).min() >= FLOOR
    # Its own recorded name: stored vectors of the shipped model are reindexed, not mixed.
    assert dynamic.name != NAME
    assert dynamic.languages == frozenset({"en"})
    dq8, fused = _cached(private_tmp)  # onnx-q8's, onnx-int8's
    assert fused.name.startswith("minilm-fused-") and dq8.name.startswith("minilm-dq8-")
    assert dq8.name.endswith(INT8_SHA256[:16])  # keyed by the shipped file


def test_quantizing_keeps_the_shipped_int8_weights_bit_for_bit(converted) -> None:
    # Only the activations' rounding is new: per-column symmetric int8 on the folded weights
    # lands on the shipped grid. Every quantized column (with its scale) is one of the shipped
    # model's, Q, K and V's now side by side; a change of quantize_dynamic's settings, or of
    # how the fusion joins the weights, would fail here.
    import onnx
    from onnx import numpy_helper

    def columns(initializers, suffix: str) -> Counter[tuple[bytes, bytes]]:
        arrays = {i.name: numpy_helper.to_array(i) for i in initializers}
        found: Counter[tuple[bytes, bytes]] = Counter()
        for name, weight in arrays.items():
            scale = arrays.get(name.removesuffix(suffix) + "_scale", np.zeros(0)).ravel()
            if name.endswith(suffix) and weight.ndim == 2 and len(scale) == weight.shape[1]:
                found.update(
                    (weight[:, j].tobytes(), scale[j].tobytes()) for j in range(len(scale))
                )
        return found

    shipped = columns(onnx.load(str(int8_model_path())).graph.initializer, "_q")
    ours = columns(onnx.load_from_string(converted).graph.initializer, "_quantized")
    # 6 layers: query, key and value (384 columns each), output (384), feed-forward (1536, 384)
    assert ours.total() == 6 * (3 * 384 + 384 + 1536 + 384)
    assert not ours - shipped


def test_fused_attention_and_gelu_compute_what_the_export_did() -> None:
    # The fused graph in fp32 (before quantizing) against the shipped file, on a padded batch
    # of texts of different lengths: every real token's vector agrees to float rounding, so
    # the mask, the scale and the heads' order are right.
    import onnxruntime as ort

    model = dynamic_int8.fused(int8_model_path())
    ops = Counter(node.op_type for node in model.graph.node)
    assert ops["MultiHeadAttention"] == ops["Gelu"] == 6
    assert not ops["Softmax"] + ops["Erf"] + ops["IsNaN"]
    encodings = _shipped_tokenizer().encode_batch(TEXTS)
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(TEXTS), width), np.int64)
    mask = np.zeros_like(ids)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)], mask[row, : len(encoding.ids)] = encoding.ids, 1
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    options = ort.SessionOptions()
    options.log_severity_level = 3
    want, got = (
        ort.InferenceSession(source, options, providers=["CPUExecutionProvider"]).run(None, feed)[0]
        for source in (str(int8_model_path()), model.SerializeToString())
    )
    real = mask.astype(bool)
    assert mask.sum(axis=1).min() < width  # some rows padded
    np.testing.assert_allclose(got[real], want[real], atol=2e-4, rtol=0)


def test_a_graph_of_another_shape_is_not_rewritten_half_way() -> None:
    # A GELU whose constant differs is not the exact GELU: the fusion refuses the whole graph
    # (the conversion fails, loudly) rather than fusing what it knows and leaving the rest.
    import onnx
    from onnx import numpy_helper

    from app.embedders import graph_fusion

    model = onnx.load(str(int8_model_path()))
    dynamic_int8._fold_int8_weights(model.graph)
    constants = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    halves = {name for name, array in constants.items() if array.size == 1 and array == 0.5}
    half = next(n for n in model.graph.node if n.op_type == "Mul" and halves & set(n.input))
    model.graph.initializer.append(numpy_helper.from_array(np.array(0.4, np.float32), "not_half"))
    half.input[next(k for k, i in enumerate(half.input) if i in halves)] = "not_half"
    before = model.SerializeToString()
    with pytest.raises(ValueError, match="not the exact GELU"):
        graph_fusion.fuse(model)
    assert model.SerializeToString() == before  # untouched


def _running(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The model files sessions are opened on, from now on."""
    from app.embedders import onnx

    opened: list[Path] = []
    real = onnx._session

    def session(model: Path, threads: int = 0):
        opened.append(model)
        return real(model, threads)

    monkeypatch.setattr(onnx, "_session", session)
    return opened


def test_onnx_int8_runs_the_fused_model_with_the_shipped_files_vectors(
    private_tmp, monkeypatch
) -> None:
    opened = _running(monkeypatch)

    async def run():
        fused = await OnnxEmbedder.load()
        got = await fused.embed(TEXTS)
        await fused.close()
        return got

    vectors = asyncio.run(run())
    [model] = opened
    assert model.parent.name.startswith("minilm-fused-") and model.parent.parent == (
        private_tmp / f"rag-cache-{os.getuid()}"
    )
    shipped = OnnxEmbedder(_session_on(int8_model_path()), _shipped_tokenizer(), NAME)
    np.testing.assert_allclose(vectors, shipped._encode(TEXTS), atol=1e-5)


def test_a_cache_folder_others_can_write_runs_the_shipped_model(private_tmp, monkeypatch) -> None:
    # A model another user could have put there is never run: the embedder falls back to the
    # shipped file (same vectors, unfused) instead of failing to start.
    (private_tmp / f"rag-cache-{os.getuid()}").mkdir(mode=0o777)
    os.chmod(private_tmp / f"rag-cache-{os.getuid()}", 0o777)
    opened = _running(monkeypatch)

    async def run():
        embedder = await OnnxEmbedder.load()
        got = await embedder.embed(TEXTS[:1])
        await embedder.close()
        return got

    vectors = asyncio.run(run())
    assert opened == [int8_model_path()]
    assert vectors.shape == (1, 384)


def _session_on(model: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])


def _shipped_tokenizer():
    from app.embedders.onnx import MAX_SEQ_LENGTH, TOKENIZER, _tokenizer

    return _tokenizer(TOKENIZER, MAX_SEQ_LENGTH)


def _writing(converted: bytes):
    """A stand-in for `_build`'s child that writes the conversion done once for the module
    (onnx-q8's; onnx-int8's fused model is built for real)."""
    real = dynamic_int8._build

    def build(kind: str, source: Path, target: Path) -> None:
        if kind != "dq8":
            return real(kind, source, target)
        target.write_bytes(converted)

    return build


def test_the_converted_model_is_reused_not_rebuilt(private_tmp, converted, monkeypatch) -> None:
    monkeypatch.setattr(dynamic_int8, "_build", _writing(converted))
    first = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)

    def fail(kind: str, source: Path, target: Path) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(dynamic_int8, "_build", fail)
    again = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)
    assert again == first and first.read_bytes() == converted
    assert [p.name for p in _cached(private_tmp)] == [first.parent.name]  # no temp folder


def test_a_corrupt_cached_model_is_rebuilt(private_tmp, converted, monkeypatch) -> None:
    monkeypatch.setattr(dynamic_int8, "_build", _writing(converted))
    path = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)
    path.write_bytes(converted[: len(converted) // 2])  # a disk error, a half copy
    assert dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256) == path
    assert path.read_bytes() == converted


def test_a_failed_conversion_says_why_and_leaves_nothing(private_tmp, tmp_path) -> None:
    # The child process's own error reaches the caller (onnx-int8 then runs the shipped file:
    # test_a_cache_folder_others_can_write_runs_the_shipped_model); no half-built folder stays.
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ChildProcessError, match="(?s)deriving the dq8 model failed: .*DecodeError"):
        dynamic_int8.dynamic_int8_path(broken, INT8_SHA256)
    assert _cached(private_tmp) == []


def test_a_stuck_conversion_runs_the_shipped_model(private_tmp, monkeypatch) -> None:
    # A child past its time limit fails like any other failed child (ChildProcessError), so
    # onnx-int8 falls back to the shipped file instead of failing to start; nothing is cached.
    monkeypatch.setattr(dynamic_int8, "BUILD_SECONDS", 0.01)
    with pytest.raises(ChildProcessError, match="took over 0.01 s"):
        dynamic_int8.fused_path(int8_model_path(), INT8_SHA256)
    opened = _running(monkeypatch)

    async def run():
        embedder = await OnnxEmbedder.load()
        await embedder.close()

    asyncio.run(run())
    assert opened == [int8_model_path()]
    assert _cached(private_tmp) == []


def test_processes_converting_at_once_keep_the_first_finished_copy(
    private_tmp, converted, monkeypatch
) -> None:
    # Another process renames its finished folder into place while this one converts: the
    # rename of ours fails, theirs is used, and ours leaves nothing behind.
    source = int8_model_path()
    target: list[Path] = []

    def convert_while_another_finishes(kind: str, source: Path, path: Path) -> None:
        monkeypatch.setattr(dynamic_int8, "_build", _writing(converted))
        target.append(dynamic_int8.dynamic_int8_path(source, INT8_SHA256))
        path.write_bytes(converted)

    monkeypatch.setattr(dynamic_int8, "_build", convert_while_another_finishes)
    path = dynamic_int8.dynamic_int8_path(source, INT8_SHA256)
    assert target == [path] and path.read_bytes() == converted
    assert [p.name for p in _cached(private_tmp)] == [path.parent.name]


def test_switching_to_onnx_q8_asks_for_a_reindex(
    empty_database, private_tmp, converted, monkeypatch
) -> None:
    # Vectors stored by onnx-int8 must not be searched with onnx-q8's queries, nor mixed with
    # its new chunks: startup refuses until `python -m app reindex` has re-embedded them.
    import asyncpg

    from app.errors import ModelMismatch
    from app.ingest.reindex import check_model
    from app.resources import run_migrations

    monkeypatch.setattr(dynamic_int8, "_build", _writing(converted))

    async def run() -> None:
        await run_migrations(empty_database)
        shipped = await OnnxEmbedder.load()
        dynamic = await OnnxEmbedder.load(dynamic=True)
        conn = await asyncpg.connect(empty_database)
        try:
            await check_model(conn, shipped)  # the first start records onnx-int8's name
            with pytest.raises(ModelMismatch, match="reindex"):
                await check_model(conn, dynamic)
        finally:
            await conn.close()
            await shipped.close()
            await dynamic.close()

    asyncio.run(run())
