"""Which writing system a text is in: whether an embedding model can read it at all."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

from app.text.cjk import CJK_CLASS

# The bundled embedding model (all-MiniLM-L6-v2) was trained on English: Latin-script text
# gets meaningful vectors (other Latin languages weaker ones); other scripts get noise.
LATIN = "LATIN"


def script_share(text: str, script: str = LATIN) -> float:
    """The share of the text's letters whose Unicode name starts with `script` (1.0 when it
    has no letters: digits and symbols are read by any model)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 1.0
    inside = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(script))
    return inside / len(letters)


def readable_by(scripts: frozenset[str] | None, text: str) -> bool:
    """Whether a model that reads `scripts` (None: any) can embed most of the text."""
    if scripts is None:
        return True
    return max((script_share(text, s) for s in scripts), default=0.0) >= 0.5


# A question is a few words: the detector's probability for one in its own language is
# mostly above 0.5 (Spanish XQuAD: 200 of 200, German 199 of 200), and the English keyword
# queries it misreads (msmarco: "define visceral?" as Italian) stay below 0.4.
QUERY_PROBABILITY = 0.5


def written_for(languages: frozenset[str] | None, text: str) -> bool:
    """Whether a model trained on `languages` (ISO 639-1 codes; None: any) was trained on
    the text's language; True when the detector cannot tell."""
    if languages is None or sum(1 for ch in text if ch.isalpha()) < 2:
        return True
    code, probability = _identifier().classify(text[:2000])
    return probability < QUERY_PROBABILITY or code in languages


# ISO 639-1 codes (py3langid's) of the languages every supported PostgreSQL (13 and later)
# has a Snowball configuration for; a text in another language is indexed with `simple`
# (lower-cased words, no stemming, no stopwords).
CONFIGS = {
    "ar": "arabic", "da": "danish", "de": "german", "el": "greek", "en": "english",
    "es": "spanish", "fi": "finnish", "fr": "french", "ga": "irish", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch",
    "no": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
    "ta": "tamil", "tr": "turkish",
}  # fmt: skip
# Below this probability, or for fewer letters, the detector is guessing: such a text keeps
# the English configuration (what every chunk used before detection).
MIN_PROBABILITY = 0.9
MIN_LETTERS = 20


_CJK = re.compile(f"[{CJK_CLASS}]")


@functools.cache
def _identifier() -> Any:
    from app.text.langid_model import load_identifier

    return load_identifier()


def text_search_config(text: str, default: str = "english") -> str:
    """The PostgreSQL text search configuration to index the text with (`default` when the
    text is too short or too mixed to tell)."""
    return _detect(text) or default


def _detect(text: str) -> str | None:
    """The text's configuration, or None when it is too short or too mixed to tell.

    Letters are counted with C-level `map` (a Python loop over every character cost as much
    as the detector itself, some 0.5 ms a chunk, on the ingestion worker's critical path).
    """
    head = text[:2000]
    letters = sum(map(str.isalpha, head))
    if letters < MIN_LETTERS:
        return None
    # Chinese, Japanese and Korean are indexed as bigrams (app.text.cjk), with no stemming:
    # `simple`. The detector is often unsure of Chinese (0.5-0.8), which left half of it
    # under the default.
    if _CJK.search(head) and sum(map(str.isalpha, "".join(_CJK.findall(head)))) * 2 >= letters:
        return "simple"
    code, probability = _identifier().classify(head)
    if probability < MIN_PROBABILITY:
        return None
    return CONFIGS.get(code, "simple")


def chunk_configs(texts: list[str]) -> list[str]:
    """Configurations for one document's chunks: each chunk's own language, or the
    document's where a chunk (a heading, a table row) is too short to tell (the document
    is only read when one is: most documents of one chunk would be detected twice)."""
    found = [_detect(text) for text in texts]
    if all(found):
        return found  # type: ignore[return-value]
    document = text_search_config(" ".join(texts)[:2000])
    return [config or document for config in found]
