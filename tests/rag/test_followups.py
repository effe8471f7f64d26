"""Follow-up questions without an LLM: a set of conversations of our own, measured.

Each case is (first question, follow-up, the document the follow-up is about). Half the
follow-ups point back ("they", "it"), half change the topic. Joining every follow-up to the
question before it at full weight drags the earlier topic into the search; the Retriever's
lower weight for the earlier question and its answer keeps both kinds right.
"""

from __future__ import annotations

import asyncio

from app.db.pool import create_pool
from app.embedders import load_embedder
from app.llm import Turn
from app.llm.decline import CLOSEST, DECLINED
from app.rag.followup import followup_of
from app.rag.retriever import Retriever
from tests.helpers import ingest

DOCUMENTS = {
    "solar.md": "# Solar panels\n\nMonocrystalline solar panels convert about 22 percent of "
    "sunlight into electricity. Panels should be cleaned twice a year, because dust and pollen "
    "reduce their output. A panel array is installed facing south at a tilt of 30 degrees.",
    "battery.md": "# Home batteries\n\nA typical home battery stores 13.5 kilowatt hours of "
    "energy. Lithium iron phosphate cells last for about 6000 charge cycles. A battery should be "
    "installed in a cool, dry room and it costs about 9000 euros.",
    "garden.md": "# Vegetable garden\n\nTomatoes should be watered twice a week in summer. They "
    "need at least six hours of sun a day. Lettuce and peas grow well in early spring and are "
    "planted in rows 30 centimetres apart.",
    "wind.md": "# Wind turbines\n\nA 3 MW wind turbine powers about 1500 homes. The tower of a "
    "modern turbine is about 100 metres tall and its blades turn 15 times a minute. Turbines are "
    "serviced once a year.",
    "heatpump.md": "# Heat pumps\n\nA heat pump moves heat from the outside air into the house. "
    "In winter its efficiency, the coefficient of performance, is about 3. Running one costs "
    "about 800 euros a year, and its filters should be cleaned every three months.",
}

CASES = [
    # follow-ups that point back
    ("How efficient are monocrystalline solar panels?", "How often should they be cleaned?",
     "solar.md"),
    ("How much energy does a home battery store?", "How many cycles do they last?",
     "battery.md"),
    ("When should tomatoes be watered?", "And how much sun do they need?", "garden.md"),
    ("How many homes does a wind turbine power?", "How tall is it?", "wind.md"),
    ("How does a heat pump heat a house?", "What does it cost to run?", "heatpump.md"),
    ("How much energy does a home battery store?", "Where should it be installed?",
     "battery.md"),
    # follow-ups that change the topic
    ("How efficient are monocrystalline solar panels?",
     "How many homes does a 3 MW wind turbine power?", "wind.md"),
    ("When should tomatoes be watered?", "What is the efficiency of a heat pump in winter?",
     "heatpump.md"),
    ("How much energy does a home battery store?", "How often should solar panels be cleaned?",
     "solar.md"),
    ("How does a heat pump heat a house?", "Which vegetables grow well in early spring?",
     "garden.md"),
    ("How many homes does a wind turbine power?",
     "How many charge cycles do lithium iron phosphate cells last?", "battery.md"),
    ("How often should heat pump filters be cleaned?", "How tall is a wind turbine tower?",
     "wind.md"),
]  # fmt: skip


# What the extractive answerer says to each first question: sentences of its document, as
# they join the follow-up's context (the old topic's words, for a follow-up that moves on).
ANSWERS = {
    "How efficient are monocrystalline solar panels?": "Monocrystalline solar panels convert "
    "about 22 percent of sunlight into electricity [1].",
    "How much energy does a home battery store?": "A typical home battery stores 13.5 "
    "kilowatt hours of energy [1].",
    "When should tomatoes be watered?": "Tomatoes should be watered twice a week in summer [1].",
    "How many homes does a wind turbine power?": "A 3 MW wind turbine powers about 1500 homes [1].",
    "How does a heat pump heat a house?": "A heat pump moves heat from the outside air into the "
    "house [1].",
    "How often should heat pump filters be cleaned?": "Its filters should be cleaned every "
    "three months [1].",
}


def _top_documents(settings, cases) -> list[tuple[str, str]]:
    """Per case: the first document for the follow-up joined at full weight, and for the
    follow-up searched with its history."""

    async def run() -> list[tuple[str, str]]:
        pool = await create_pool(settings.database_url, max_size=2)
        embedder = await load_embedder(settings)
        retriever = Retriever(pool, embedder)
        found = []
        try:
            for first, followup, _ in cases:
                history = [Turn("user", first), Turn("assistant", ANSWERS[first])]
                joined = await retriever.retrieve(f"{first} {followup}", k=1)
                weighted = await retriever.retrieve(followup, k=1, history=history)
                found.append((joined.passages[0].document_id, weighted.passages[0].document_id))
        finally:
            await embedder.close()
            await pool.close()
        return found

    return asyncio.run(run())


def test_followups_search_the_topic_they_are_about(client, settings):
    titles = {ingest(client, name, text)["id"]: name for name, text in DOCUMENTS.items()}
    joined_hits = rule_hits = 0
    misses = []
    for (_, followup, expected), (joined, weighted) in zip(
        CASES, _top_documents(settings, CASES), strict=True
    ):
        joined_hits += titles[joined] == expected
        rule_hits += titles[weighted] == expected
        if titles[weighted] != expected:
            misses.append((followup, titles[weighted]))
    print(f"\nfollow-ups, top-1 document: joined at full weight {joined_hits}/{len(CASES)}, "
          f"earlier questions at a lower weight {rule_hits}/{len(CASES)}")  # fmt: skip
    assert rule_hits == len(CASES), misses
    assert rule_hits > joined_hits


def test_a_followup_is_searched_with_the_first_last_questions_and_last_answer():
    # "she" in the fifth question points back to the topic the first one named.
    history = [
        Turn("user", "Who keeps the Norvale lighthouse?"),
        Turn("assistant", "Ada Brenn [1]."),
        Turn("user", "Since when?"),
        Turn("assistant", "Since 1990 [1]."),
        Turn("user", "Is she paid?"),
        Turn("assistant", "Yes [2]."),
        Turn("user", "By whom?"),
        Turn("assistant", "By the town [2]."),
    ]
    followup = followup_of("What does she eat?", history, 0.3)
    assert followup.context == (
        "Who keeps the Norvale lighthouse? Is she paid? By whom? By the town."
    )
    # A declined answer says nothing about the topic: it joins nothing.
    declined = [*history[:1], Turn("assistant", f"{DECLINED} {CLOSEST} A keeper [1].")]
    assert followup_of("Who keeps it?", declined, 0.3).context == history[0].content
