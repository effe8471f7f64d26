"""The ONNX int8 embedder is the bundled model: same tokens, same vectors within int8 error."""

import asyncio
import sys

import numpy as np
import pytest

from app.embedders.onnx import ModelMismatch, OnnxEmbedder
from app.text.sentences import sentence_spans

TEXTS = [
    "Modern monocrystalline solar panels convert about 22 percent of sunlight into electricity.",
    "Sourdough bread rises slowly thanks to wild yeast. It needs flour, water and salt.",
    "Espresso is brewed by forcing hot water through finely ground coffee. Crema forms on top.",
    "short",
]


def test_onnx_int8_vectors_match_the_torch_model():
    from app.embedders.local import LocalEmbedder

    async def run():
        onnx = await OnnxEmbedder.load()
        torch = await LocalEmbedder.load(None)
        spans = [sentence_spans(t) for t in TEXTS]
        got = await onnx.embed_spans(TEXTS, spans)
        want = await torch.embed_spans(TEXTS, spans)
        counts = [(onnx.count_tokens(t), torch.count_tokens(t)) for t in TEXTS]
        plain = await onnx.embed(TEXTS)
        await onnx.close()
        await torch.close()
        return got, want, counts, plain

    (vectors, sentences), (ref_vectors, ref_sentences), counts, plain = asyncio.run(run())
    assert all(a == b for a, b in counts)
    assert (vectors * ref_vectors).sum(axis=1).min() >= 0.99
    np.testing.assert_allclose(plain, vectors, atol=1e-5)  # batching changes nothing
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    for mine, theirs in zip(sentences, ref_sentences, strict=True):
        assert mine is not None and mine.shape == theirs.shape
        assert (mine * theirs).sum(axis=1).min() >= 0.99


def test_a_different_model_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not the model")
    monkeypatch.setattr("app.embedders.onnx.int8_model_path", lambda: fake)
    with pytest.raises(ModelMismatch):
        asyncio.run(OnnxEmbedder.load())


def test_the_default_embedder_runs_without_torch():
    # A fresh interpreter: what `serve` loads must not import torch.
    import subprocess

    code = (
        "import asyncio, sys\n"
        "from app.config import load_settings\n"
        "from app.embedders import load_embedder\n"
        "import app.asgi\n"
        "e = asyncio.run(load_embedder(load_settings({})))\n"
        "print(type(e).__name__, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["OnnxEmbedder", "False"]
