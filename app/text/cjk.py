"""CJK text as character bigrams: the Python twin of the database's `cjk_bigrams` (0016).

Chinese, Japanese and Korean put no spaces between words; like Lucene's CJKAnalyzer, each
run of CJK characters becomes its overlapping bigrams (a lone character stays itself) and
other text is left as it is. The database applies it to chunks and queries alike; this twin
serves the bm25s baseline of `python -m app eval`, which must tokenize as the index does.
"""

from __future__ import annotations

import re

# Hangul Jamo, Hiragana and Katakana, Hangul compatibility Jamo, CJK extension A, unified
# ideographs, Hangul Jamo extended A, Hangul syllables, compatibility ideographs, half-width
# Katakana: the same ranges as the SQL function.
CJK_CLASS = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
)
_RUNS = re.compile(f"([{CJK_CLASS}]+)|([^{CJK_CLASS}]+)")
_ANY = re.compile(f"[{CJK_CLASS}]")


def cjk_bigrams(text: str) -> str:
    """The text with every CJK run replaced by its bigrams, separated by spaces."""
    if not _ANY.search(text):
        return text
    parts = []
    for run, other in _RUNS.findall(text):
        if not run:
            parts.append(other)
        elif len(run) == 1:
            parts.append(run)
        else:
            parts.append(" ".join(run[i : i + 2] for i in range(len(run) - 1)))
    return " ".join(parts)
