"""Recognising a declined answer, whoever wrote it (issue 20): the extractive provider's own
words, and the usual ways a language model says the sources do not answer."""

import pytest

from app.llm.decline import DECLINED, is_declined


@pytest.mark.parametrize(
    "answer",
    [
        DECLINED,
        f"{DECLINED} Closest, not an answer: Panels are cleaned twice a year. [1]",
        "Your documents don’t seem to answer this.",  # a typographic apostrophe
        "I don't know.",
        "I do not know: the sources are about solar panels.",
        "The provided sources do not mention vitamin D.",
        "The uploaded documents do not seem to answer this question.",  # the old extractive
        "The documents don't contain information about this.",
        "There is no information about vitamin D in the sources.",
        "",  # nothing said is nothing answered
    ],
)
def test_refusals_are_recognised(answer):
    assert is_declined(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "Panels should be cleaned twice a year [1].",
        "Monocrystalline panels convert about 22 percent of sunlight [1]. " * 4
        + "The sources do not say how often to clean them.",  # a caveat late in an answer
        "I know of two ways: apt and dpkg [2].",
    ],
)
def test_answers_are_not_taken_for_refusals(answer):
    assert not is_declined(answer)
