"""Every embedding model's cosines are read on the bundled MiniLM's scale, where the answerer's
floors were tuned: with E5, whose unrelated texts sit near 0.73, nothing was ever declined."""

import numpy as np
import pytest

from app.config import load_settings
from app.embedders import load_embedder
from app.embedders.onnx import OnnxEmbedder
from app.llm import Passage
from app.llm.decline import DECLINED
from app.llm.extractive import choose, compose
from app.llm.similarity import REFERENCE, Scale, measure, scale_of
from app.rag.citations import unsupported_citations

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
async def e5():
    embedder = await load_embedder(load_settings({"EMBEDDING_BACKEND": "e5-small"}))
    yield embedder
    await embedder.close()


async def test_the_reference_is_the_bundled_models_own_scale():
    measured = await measure(await OnnxEmbedder.load())
    assert measured.unrelated == pytest.approx(REFERENCE.unrelated, abs=0.002)
    assert measured.related == pytest.approx(REFERENCE.related, abs=0.002)
    assert REFERENCE.to_reference(0.42) == pytest.approx(0.42)


async def test_e5s_unrelated_and_related_cosines_land_where_minilms_do(e5):
    scale = await scale_of(e5)
    assert scale.unrelated > 0.6  # E5's own: far above MiniLM's 0.05
    assert scale.to_reference(scale.unrelated) == pytest.approx(REFERENCE.unrelated)
    assert scale.to_reference(scale.related) == pytest.approx(REFERENCE.related)
    assert await scale_of(e5) is scale  # measured once per embedder


STEAM = (
    "Watt's steam engine used a separate condenser, so the cylinder stayed hot. "
    "It burned far less coal than the engine Newcomen built in 1712. "
    "The boiler heated water with a coal fire, and the steam pushed the piston."
)


async def test_an_e5_answer_declines_a_question_that_only_shares_words_with_its_documents(e5):
    """On E5's own cosines both near misses were answered (evidence 1.46 and 1.37)."""
    passages = [Passage(1, "d", "Steam", STEAM, STEAM[:20], None, [], 1.0)]
    scale = await scale_of(e5)

    async def chosen(question):
        vector = (await e5.embed_queries([question]))[0]
        return await choose(question, passages, e5, question_vector=vector, scale=scale)

    for near_miss in (
        "When was the first steam locomotive built?",
        "What temperature does a coal fire reach in a furnace?",
    ):
        assert not (await chosen(near_miss)).answered, near_miss
    asked = await chosen("Who built the engine that burned less coal?")
    assert asked.answered and "Newcomen" in asked.sentences[0].text
    vitamin = "What is the recommended daily dose of vitamin D?"
    vector = (await e5.embed_queries([vitamin]))[0]
    answer = await compose(vitamin, passages, e5, question_vector=vector, scale=scale)
    assert answer.startswith(DECLINED)


class Constant:
    """A degenerate model: every text gets the same vector."""

    async def embed(self, texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2


async def test_a_model_that_tells_nothing_apart_is_not_rescaled():
    assert await scale_of(Constant()) == REFERENCE
    assert Scale(0.5, 0.9).to_reference(0.5) == pytest.approx(REFERENCE.unrelated)


async def test_an_e5_citation_of_a_passage_that_says_nothing_of_it_is_flagged(e5):
    """The citation check's 0.45 support is a MiniLM cosine: every E5 pair passed it."""
    passages = [Passage(1, "d", "Steam", STEAM, STEAM[:20], None, [], 1.0)]
    answer = "Green tea is steeped at eighty degrees for two minutes [1]."
    assert await unsupported_citations(answer, passages, e5) == []  # E5's own cosines
    flagged = await unsupported_citations(answer, passages, e5, await scale_of(e5))
    assert [c["n"] for c in flagged] == [1]
    supported = "Newcomen's engine, built in 1712, burned much more coal [1]."
    assert await unsupported_citations(supported, passages, e5, await scale_of(e5)) == []
