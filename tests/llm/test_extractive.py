"""The extractive provider answers from what it is given: it holds no pool and no cache."""

import asyncio

import pytest

from app.config import load_settings
from app.embedders.local import LocalEmbedder
from app.llm import Passage, Vectors, load_llm
from app.llm.decline import CLOSEST, DECLINED, is_declined
from app.llm.extractive import ExtractiveLLM, choose, compose
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


MANUAL = (
    "BASH(1) General Commands Manual BASH(1)\n\n"
    "HISTORY\n\n"
    "When the -o history option to the set builtin is enabled, the shell provides access "
    "to the command history. The text of the last HISTSIZE commands (default 500) is saved "
    "in a history list. The shell stores each command in the history list prior to "
    "parameter expansion.\n\n"
    "GNU Bash 5.2 2022 September 19 56"
)


async def test_the_sentence_that_answers_comes_first_and_furniture_is_never_quoted(embedder):
    passage = Passage(1, "d", "bash", MANUAL, MANUAL[:20], None, ["HISTORY"], 1.0)
    question = "How many commands are saved in the history list?"
    picked = await choose(question, [passage], embedder)
    assert picked.answered
    assert picked.sentences[0].text.startswith("The text of the last HISTSIZE commands")
    assert 1 <= len(picked.sentences) <= 3
    quoted = " ".join(s.text for s in picked.sentences)
    assert "BASH(1)" not in quoted and "September 19 56" not in quoted


async def test_a_how_do_i_question_is_answered_by_its_step_first(embedder):
    """A manual's "How do I ...?" wants the instruction, which vectors may rank under the
    sentence describing the feature (E-Manual QA: "From Settings, tap ...")."""
    text = (
        "The screen timeout turns the screen off after a set amount of time. "
        "From Settings, tap Display > Screen timeout, and tap a time limit."
    )
    passage = Passage(1, "d", "Screen timeout", text, text[:20], None, [], 1.0)
    picked = await choose("How do I change the screen timeout?", [passage], embedder)
    assert picked.answered
    assert picked.sentences[0].text.startswith("From Settings, tap Display")
    assert len(picked.sentences) == 2
    # A question that asks no steps keeps the best-scored sentence first.
    about = await choose("What does the screen timeout do?", [passage], embedder)
    assert about.sentences[0].text.startswith("The screen timeout turns")


async def test_an_unrelated_question_is_declined_with_the_closest_sentence(embedder):
    passage = Passage(1, "d", "bash", MANUAL, MANUAL[:20], None, ["HISTORY"], 1.0)
    answer = await compose("What is the recommended daily dose of vitamin D?", [passage], embedder)
    assert answer.startswith(f"{DECLINED} {CLOSEST} ") or answer == DECLINED
    assert is_declined(answer)


async def test_a_passage_of_headings_and_commands_only_is_declined(embedder):
    text = "Installing Packages\n\n# apt install -y nftables\n\n$ systemctl enable nftables"
    passage = Passage(1, "d", "nft", text, text[:20], None, [], 1.0)
    assert await compose("How do I install nftables?", [passage], embedder) == DECLINED


STEAM_PT = (
    "A máquina a vapor de Watt usava um condensador separado. "
    "Ela consumia muito menos carvão do que a máquina de Newcomen, construída em 1712."
)


async def test_a_question_in_a_language_the_model_reads_poorly_needs_shared_words(embedder):
    """All-MiniLM finds any two Portuguese sentences alike: a passage holding few of the
    question's own words does not answer it (issue 20, the Portuguese validation set)."""
    passage = Passage(1, "d", "Vapor", STEAM_PT, STEAM_PT[:20], None, [], 1.0)
    unrelated = await choose("Qual é a dose diária recomendada de vitamina D?", [passage], embedder)
    assert not unrelated.answered and unrelated.shared < 0.3
    asked = await choose("Em que ano foi construída a máquina de Newcomen?", [passage], embedder)
    assert asked.answered and "1712" in asked.sentences[0].text


HANDBOOK = [
    "Debian assigns user IDs from 1000 to 59999 to normal accounts created by adduser. "
    "System accounts get IDs below 1000, allocated dynamically from 100 to 999.",
    "The apt command downloads packages from the repositories listed in sources.list and "
    "installs them with their dependencies. apt update refreshes the package lists.",
    "Green tea is steeped at eighty degrees for two minutes. Black tea needs boiling water "
    "and steeps for four minutes.",
]


async def test_a_question_its_documents_cannot_answer_is_declined(embedder):
    passages = [
        Passage(n, f"d{n}", "Handbook", text, text[:20], None, [], 1.0)
        for n, text in enumerate(HANDBOOK, start=1)
    ]
    vitamin = await compose("What is the recommended daily dose of vitamin D?", passages, embedder)
    assert vitamin.startswith(DECLINED) and is_declined(vitamin)
    # The same documents do answer what they hold.
    uids = await choose("Which user IDs does Debian give to normal accounts?", passages, embedder)
    assert uids.answered and "1000 to 59999" in uids.sentences[0].text
