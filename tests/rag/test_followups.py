"""Follow-up questions without an LLM: a set of conversations of our own, measured.

Each case is (first question, follow-up, the document the follow-up is about). Half the
follow-ups point back ("they", "it"), half change the topic. Joining every follow-up to the
question before it (the old rule) drags the earlier topic into the search; joining only those
that lean on the conversation keeps both kinds right.
"""

from __future__ import annotations

import asyncio

from app.llm import Turn
from app.llm.extractive import ExtractiveLLM
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


def _top_document(client, query: str, titles: dict[str, str]) -> str:
    results = client.get("/api/search", params={"q": query, "k": 1}).json()["results"]
    return titles[results[0]["document_id"]]


def test_followups_search_the_topic_they_are_about(client):
    titles = {ingest(client, name, text)["id"]: name for name, text in DOCUMENTS.items()}
    llm = ExtractiveLLM.__new__(ExtractiveLLM)  # standalone_question needs no resources
    joined_hits = rule_hits = 0
    misses = []
    for first, followup, expected in CASES:
        history = [Turn("user", first), Turn("assistant", "...")]
        joined = f"{first} {followup}"  # the old rule: always join
        query = asyncio.run(llm.standalone_question(followup, history))
        joined_hits += _top_document(client, joined, titles) == expected
        found = _top_document(client, query, titles)
        rule_hits += found == expected
        if found != expected:
            misses.append((followup, found))
    print(f"\nfollow-ups, top-1 document: always joined {joined_hits}/{len(CASES)}, "
          f"joined when they lean on the conversation {rule_hits}/{len(CASES)}")  # fmt: skip
    assert rule_hits == len(CASES), misses
    assert rule_hits > joined_hits
