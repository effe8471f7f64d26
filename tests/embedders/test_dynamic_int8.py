"""onnx-q8: the bundled MiniLM with int8 activations, converted once per machine and cached."""

from __future__ import annotations

import asyncio
import os
import tempfile
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
    [folder] = _cached(private_tmp)
    assert folder.name.endswith(INT8_SHA256[:16])  # keyed by the shipped file


def test_quantizing_keeps_the_shipped_int8_weights_bit_for_bit(converted) -> None:
    # Only the activations' rounding is new: per-column symmetric int8 on the folded weights
    # lands on the shipped grid. A change of quantize_dynamic's settings would fail here.
    import onnx
    from onnx import numpy_helper

    shipped = {i.name: i for i in onnx.load(str(int8_model_path())).graph.initializer}
    ours = {i.name: i for i in onnx.load_from_string(converted).graph.initializer}
    weights = [name.removesuffix("_quantized") for name in ours if name.endswith("_quantized")]
    assert len(weights) == 36  # 6 layers: query, key, value, output, two feed-forward
    for weight in weights:
        for mine, theirs in (("_quantized", "_q"), ("_scale", "_scale")):
            np.testing.assert_array_equal(
                numpy_helper.to_array(ours[weight + mine]).ravel(),
                numpy_helper.to_array(shipped[weight + theirs]).ravel(),
            )


def test_the_converted_model_is_reused_not_rebuilt(private_tmp, converted, monkeypatch) -> None:
    monkeypatch.setattr(dynamic_int8, "convert", lambda source: converted)
    first = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)

    def fail(source: Path) -> bytes:
        raise AssertionError("converted again")

    monkeypatch.setattr(dynamic_int8, "convert", fail)
    again = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)
    assert again == first and first.read_bytes() == converted
    assert [p.name for p in _cached(private_tmp)] == [first.parent.name]  # no temp folder


def test_a_corrupt_cached_model_is_rebuilt(private_tmp, converted, monkeypatch) -> None:
    monkeypatch.setattr(dynamic_int8, "convert", lambda source: converted)
    path = dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256)
    path.write_bytes(converted[: len(converted) // 2])  # a disk error, a half copy
    assert dynamic_int8.dynamic_int8_path(int8_model_path(), INT8_SHA256) == path
    assert path.read_bytes() == converted


def test_processes_converting_at_once_keep_the_first_finished_copy(
    private_tmp, converted, monkeypatch
) -> None:
    # Another process renames its finished folder into place while this one converts: the
    # rename of ours fails, theirs is used, and ours leaves nothing behind.
    source = int8_model_path()
    target: list[Path] = []

    def convert_while_another_finishes(path: Path) -> bytes:
        monkeypatch.setattr(dynamic_int8, "convert", lambda source: converted)
        target.append(dynamic_int8.dynamic_int8_path(source, INT8_SHA256))
        return converted

    monkeypatch.setattr(dynamic_int8, "convert", convert_while_another_finishes)
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

    monkeypatch.setattr(dynamic_int8, "convert", lambda source: converted)

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
