"""Saying "not in your documents": the words every provider declines with, and how a
declined answer is recognised (the `answered` flag of `done`, /v1 and stored messages).

The extractive provider declines with DECLINED itself; a language model is told to (see
prompt.SYSTEM), and its own ways of saying it ("I don't know", "the sources do not
mention...") are recognised too, at the start of the answer, where a refusal sits.
"""

from __future__ import annotations

import re

DECLINED = "Your documents don't seem to answer this."
CLOSEST = "Closest, not an answer:"

# A refusal opens the answer; the same words later ("...does not say whether X [2]") are
# usually a caveat inside an answer, so only the first ~200 characters are read.
_OPENING_CHARS = 200
_REFUSAL = re.compile(
    r"your documents don.?t seem to answer"
    r"|\bi (?:do not|don.?t|cannot|can.?t) (?:know|tell|answer|find)"
    r"|\bi am not able to (?:answer|find)|\bi.?m not sure\b|\bunable to (?:answer|find)"
    r"|\b(?:the )?(?:uploaded |provided |given )?(?:documents?|sources?|passages?|context)"
    r" (?:do|does) not (?:seem to )?(?:contain|answer|mention|say|provide|include|cover|specify"
    r"|state)"
    r"|\b(?:the )?(?:uploaded |provided |given )?(?:documents?|sources?|passages?|context)"
    r" (?:don.?t|doesn.?t) (?:seem to )?(?:contain|answer|mention|say|provide|include|cover"
    r"|specify|state)"
    r"|\bno (?:information|answer|mention) (?:about|on|of|in|to)\b"
    r"|\bthere is no (?:information|answer|mention)\b"
    r"|\bnot (?:answered|mentioned|covered|found) in the (?:documents?|sources?|passages?)",
    re.IGNORECASE,
)


def is_declined(answer: str) -> bool:
    """Does the answer say the documents do not answer the question?"""
    opening = " ".join(answer[:_OPENING_CHARS].split()).replace("\u2019", "'")
    return not opening or bool(_REFUSAL.search(opening))
