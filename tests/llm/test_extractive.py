"""The extractive provider answers from what it is given: it holds no pool and no cache."""

import asyncio

import pytest

from app.config import load_settings
from app.embedders.local import LocalEmbedder
from app.llm import Passage, Vectors, load_llm
from app.llm.extractive import ExtractiveLLM
from app.text.sentences import sentence_spans

TEXT = (
    "Monocrystalline solar panels convert about 22 percent of sunlight into electricity. "
    "The football world cup of 1998 was won by France."
)
QUESTION = "How efficient are monocrystalline solar panels?"


class CountingEmbedder:
    def __init__(self, embedder: LocalEmbedder) -> None:
        self._embedder = embedder
        self.texts: list[str] = []

    async def embed(self, texts):
        self.texts += texts
        return await self._embedder.embed(texts)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return asyncio.run(LocalEmbedder.load(None))


def test_load_llm_needs_only_settings(tmp_path):
    llm = load_llm(load_settings({"DATA_DIR": str(tmp_path)}))
    assert isinstance(llm, ExtractiveLLM) and llm.needs_vectors


async def test_extractive_streams_from_the_vectors_it_is_given(embedder):
    passage = Passage(1, "d", "Energy", TEXT, TEXT[:20], None, [], 1.0)
    _, pooled = await embedder.embed_spans([TEXT], [sentence_spans(TEXT)])
    counting = CountingEmbedder(embedder)
    vectors = Vectors((await embedder.embed([QUESTION]))[0], pooled, counting)
    tokens = [t async for t in ExtractiveLLM().stream(QUESTION, [passage], vectors)]
    answer = "".join(tokens)
    assert answer.startswith("Monocrystalline solar panels convert about 22 percent")
    assert answer.endswith("[1]") and "France" not in answer
    assert counting.texts == []  # the stored sentence vectors and the question's were enough


async def test_extractive_without_vectors_is_a_programming_error():
    passage = Passage(1, "d", "Energy", TEXT, TEXT[:20], None, [], 1.0)
    with pytest.raises(TypeError, match="vectors"):
        [t async for t in ExtractiveLLM().stream(QUESTION, [passage])]
