"""Sentence vectors pooled at ingestion (late chunking), and the extractive answer using them."""

import asyncio
import uuid

import asyncpg
import numpy as np
import pytest

from app.embedders.local import LocalEmbedder
from app.embedders.stored import sentence_vectors
from app.ingest.embed import embed_sorted
from app.llm import extractive
from app.llm.base import Passage
from app.text.sentences import sentence_spans
from tests.helpers import SOLAR_GUIDE, ingest

TEXT = (
    "Monocrystalline solar panels convert about 22 percent of sunlight into electricity. "
    "Heat pumps move warmth from the outside air into a house, even in winter. "
    "The football world cup of 1998 was won by France."
)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return asyncio.run(LocalEmbedder.load(None))


class CountingEmbedder:
    """The real model, counting how many texts it is asked to embed."""

    def __init__(self, embedder: LocalEmbedder) -> None:
        self._embedder = embedder
        self.dimension = embedder.dimension
        self.texts: list[str] = []

    async def embed(self, texts):
        self.texts += texts
        return await self._embedder.embed(texts)


async def test_span_vectors_come_from_the_same_pass_and_match_their_own_sentence(embedder):
    spans = sentence_spans(TEXT)
    vectors, pooled = await embedder.embed_spans([TEXT], [spans])
    assert np.allclose(vectors, await embedder.embed([TEXT]), atol=1e-5)
    alone = await embedder.embed([TEXT[a:b] for a, b in spans])
    similarity = pooled[0] @ alone.T
    # Each pooled vector is closest to its own sentence embedded on its own.
    assert list(similarity.argmax(axis=1)) == [0, 1, 2]
    assert np.allclose(np.linalg.norm(pooled[0], axis=1), 1, atol=1e-5)


async def test_a_span_cut_off_by_truncation_gets_no_pooled_vectors(embedder):
    long = "Panels need cleaning. " * 200 + "This last sentence is past the window."
    spans = sentence_spans(long)
    _, pooled = await embedder.embed_spans([long, TEXT], [spans, sentence_spans(TEXT)])
    assert pooled[0] is None and pooled[1] is not None


async def test_stored_bytes_round_trip_to_the_pooled_vectors(embedder):
    vectors, stored = await embed_sorted(embedder, [TEXT, "One more sentence here."])
    _, pooled = await embedder.embed_spans([TEXT], [sentence_spans(TEXT)])
    restored = sentence_vectors(stored[0], embedder.dimension)
    assert restored.shape == (3, embedder.dimension)
    assert np.abs(restored - pooled[0]).max() < 2e-3  # float16
    assert vectors.shape == (2, embedder.dimension)


async def test_compose_embeds_only_the_question_parts_when_sentences_are_stored(embedder):
    passage = Passage(1, "d", "Energy", TEXT, TEXT[:20], None, [], 1.0)
    _, pooled = await embedder.embed_spans([TEXT], [sentence_spans(TEXT)])
    counting = CountingEmbedder(embedder)
    question = "How efficient are monocrystalline solar panels?"
    question_vector = (await embedder.embed([question]))[0]
    answer = await extractive.compose(question, [passage], counting, pooled, question_vector)
    assert answer.startswith("Monocrystalline solar panels convert about 22 percent")
    assert "France" not in answer
    assert counting.texts == []  # no model run at all
    # Without stored vectors (older chunks, the openai provider) it embeds the sentences.
    again = await extractive.compose(question, [passage], counting, [None])
    assert again.startswith("Monocrystalline solar panels convert about 22 percent")
    assert len(counting.texts) == 4  # the question and its three sentences


async def test_stored_vectors_of_another_sentence_count_are_not_trusted(embedder):
    passage = Passage(1, "d", "Energy", TEXT, TEXT[:20], None, [], 1.0)
    counting = CountingEmbedder(embedder)
    wrong = np.ones((2, embedder.dimension), dtype=np.float32)  # two rows for three sentences
    answer = await extractive.compose(
        "Who won the world cup in 1998?", [passage], counting, [wrong]
    )
    assert "France" in answer and len(counting.texts) == 4


def test_ingestion_stores_one_vector_per_sentence_of_each_chunk(client, settings):
    document = ingest(client, "solar.md", SOLAR_GUIDE)

    async def rows():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch(
                "SELECT text, sentence_vectors FROM chunks WHERE document_id = $1",
                uuid.UUID(document["id"]),
            )
        finally:
            await conn.close()

    chunks = asyncio.run(rows())
    assert chunks
    for chunk in chunks:
        vectors = sentence_vectors(chunk["sentence_vectors"], 384)
        assert vectors is not None and len(vectors) == len(sentence_spans(chunk["text"]))
