"""One similarity scale for every embedding model: the cosines the answerer's thresholds were
tuned in (the bundled all-MiniLM-L6-v2's).

Models spread cosines differently. MiniLM puts a question and an unrelated sentence near 0.05
and the sentence that answers it near 0.68; multilingual-e5-small puts them near 0.73 and
0.89. A floor tuned on one model (the extractive answerer's relevance and decline floors, the
citation check's support) means nothing on another: with E5 every sentence passed it. So each
model's cosines are mapped onto MiniLM's by the straight line through two points, measured
once per process on PAIRS: the mean cosine of a question to the other questions' answers, and
to its own.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.llm.base import TextEmbedder

# Questions and the sentence that answers each, on unrelated topics and in several languages
# (other languages are where models differ most).
PAIRS = (
    ("How long does the warranty last?",
     "The warranty covers parts and labour for two years from the date of purchase."),
    ("Who painted the ceiling of the Sistine Chapel?",
     "Michelangelo painted the Sistine Chapel ceiling between 1508 and 1512."),
    ("What temperature does water boil at?", "At sea level, water boils at 100 degrees Celsius."),
    ("How do I reset my password?",
     "Open Settings, choose Account and press Reset password to receive a link by email."),
    ("Which command lists the files in a directory?",
     "Run ls -l to list a directory's files with their sizes and dates."),
    ("When did the Berlin Wall fall?",
     "The Berlin Wall fell on 9 November 1989, opening the border between East and West."),
    ("What causes tides?", "Tides are caused mainly by the Moon's gravity pulling on the oceans."),
    ("How many players are on a football team?",
     "Each football team fields eleven players, including the goalkeeper."),
    ("Where is the headquarters of the company?",
     "The company's head office is located in Rotterdam, in the Netherlands."),
    ("What is the capital of Australia?",
     "Canberra, not Sydney, is the capital city of Australia."),
    ("How often should the filter be cleaned?",
     "Clean the air filter once a month to keep the unit running efficiently."),
    ("Quantos habitantes tem a cidade?", "A cidade tem cerca de dois milhões de habitantes."),
    ("Quem escreveu Os Lusíadas?",
     "Os Lusíadas foram escritos por Luís Vaz de Camões no século XVI."),
    ("¿Cuándo abre el museo?", "El museo abre todos los días a las diez de la mañana."),
    ("Pourquoi le ciel est-il bleu ?",
     "Le ciel paraît bleu parce que l'air diffuse davantage la lumière bleue."),
    ("Wie viel kostet die Fahrkarte?", "Eine einfache Fahrkarte kostet drei Euro fünfzig."),
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    """A model's mean cosine between a question and an unrelated answer, and its own."""

    unrelated: float
    related: float

    def to_reference(self, cosines: Any) -> Any:
        """The cosines (a float or an array) as the reference model would give them."""
        slope = (REFERENCE.related - REFERENCE.unrelated) / (self.related - self.unrelated)
        return REFERENCE.unrelated + (cosines - self.unrelated) * slope


# The bundled MiniLM's (onnx-int8) on PAIRS: tests/llm/test_similarity.py measures it again.
REFERENCE = Scale(0.0477, 0.6791)
# A model that tells its answers from unrelated text by less than this is not rescaled: its
# spread would be magnified into noise.
MIN_SPREAD = 0.05

_measured: weakref.WeakKeyDictionary[Any, Scale] = weakref.WeakKeyDictionary()


async def measure(embedder: TextEmbedder) -> Scale:
    """The embedder's Scale on PAIRS (questions through its query side, when it has one, as
    searches embed them)."""
    questions = [q for q, _ in PAIRS]
    embed_queries = getattr(embedder, "embed_queries", embedder.embed)
    cosines = (
        np.asarray(await embed_queries(questions))
        @ np.asarray(await embedder.embed([a for _, a in PAIRS])).T
    )
    own = np.eye(len(PAIRS), dtype=bool)
    return Scale(float(cosines[~own].mean()), float(cosines[own].mean()))


async def scale_of(embedder: TextEmbedder) -> Scale:
    """measure(), once per embedder object; REFERENCE's own scale for a model whose spread is
    too narrow to map."""
    if (known := _measured.get(embedder)) is not None:
        return known
    scale = await measure(embedder)
    if scale.related - scale.unrelated < MIN_SPREAD:
        scale = REFERENCE
    _measured[embedder] = scale
    return scale
