"""Which source sentences an extractive answer may quote: prose, never a heading, a command or
code line, a table fragment or page furniture (they stay in the passage as context)."""

from __future__ import annotations

import re

MIN_WORDS = 4
# A manual page's running header: "BASH(1) General Commands Manual BASH(1)".
_MAN_HEADER = re.compile(r"\b[A-Z][A-Z0-9_.-]*\(\d[a-z]?\)")
# "GNU Bash 5.2 2022 September 19 56", "Page 3 of 10", "- 12 -": a line ending in a page number
# after a date or a version, or a bare page label.
_FOOTER = re.compile(
    r"(?:\b(?:19|20)\d\d\b.*\b\d{1,4}$)|(?:^page \d+(?: of \d+)?$)|(?:^[-–—]\s*\d+\s*[-–—]$)", re.I
)
# A shell prompt or a line that starts like a command: "$ ls", "# apt install", "sudo ...".
_PROMPT = re.compile(r"^(?:[$#>%]\s|sudo\s|apt(?:-get)?\s|pip\s|git\s|cd\s|export\s|\./)")
# Characters that are rare in prose and common in code.
_CODE_CHARS = re.compile(r"[{}();=<>\[\]|&$`\\]|::|->|=>|&&|\|\|")
_WORD = re.compile(r"[^\W\d_]{2,}")
# A path of menus or sections: "Settings > Display > Screen timeout" (a breadcrumb).
_PATH_STEP = re.compile(r"\s+[>›»]\s+")
# A manual's task heading: "Connecting the Samsung Smart Remote to the TV".
_GERUND = re.compile(r"^[A-Z][a-z]+ing\b")
_END = ".!?:;\"')]"


def is_quotable(sentence: str) -> bool:
    """A whole sentence of prose worth quoting as an answer."""
    text = " ".join(sentence.split())
    words = text.split()
    if len(words) < MIN_WORDS or text.startswith(("#", "|", "```", "~~~")):
        return False
    # A question (an FAQ's, or one a section asks itself) is not an answer; a line of
    # numbers and units (a table's row read as text) is not prose.
    if text.endswith("?") or len(_WORD.findall(text)) < 3:
        return False
    if _PROMPT.match(text) or _MAN_HEADER.search(text) or _FOOTER.search(text):
        return False
    if is_code(text):
        return False
    return not _looks_like_heading(text, words)


def is_code(text: str) -> bool:
    """A line that reads as code or a command: many code characters, few words."""
    marks = len(_CODE_CHARS.findall(text))
    words = len(_WORD.findall(text))
    return marks >= 3 and marks * 2 >= words


def _looks_like_heading(text: str, words: list[str]) -> bool:
    """A title or a run of labels: no sentence punctuation, and short, or (nearly) every word
    capitalised ("Color Tone Try Now White Balance Try Now ..."), or a path of short steps
    (a breadcrumb), or a task heading ("Setting the screen to black and white")."""
    if text[-1] in _END:
        return False
    lettered = [w for w in words if w[0].isalpha()]
    capitalised = sum(1 for w in lettered if w[0].isupper())
    if len(words) <= 6 or capitalised >= 0.7 * max(len(lettered), 1):
        return True
    steps = _PATH_STEP.split(text)
    if len(steps) > 1 and all(len(step.split()) <= 6 for step in steps):
        return True
    return len(words) <= 12 and bool(_GERUND.match(text))


# "How do I ...?", "How to ...", "What are the steps ...": a question asking for steps.
_ASKS_STEPS = re.compile(
    r"\bhow (?:do|can|could|should|would) (?:i|you|we)\b|\bhow to\b|\bsteps\b|\bwhere can i\b",
    re.IGNORECASE,
)
# A step: an instruction, after an optional place or purpose ("From Settings, tap ...",
# "To add a city, tap ...", "Press and hold the VOL button ...").
_STEP = re.compile(
    r"^(?:(?:from|in|on|to)\b[^,.]{1,60},\s*)?(?:then\s+)?(?:tap|touch|press|select|go to|open|"
    r"swipe|drag|click|choose|enter|navigate|launch|slide|hold|turn|run|type)\b",
    re.IGNORECASE,
)


def asks_for_steps(question: str) -> bool:
    """Whether the question asks how to do something (its answer is an instruction)."""
    return bool(_ASKS_STEPS.search(question))


def is_step(sentence: str) -> bool:
    """Whether the sentence is an instruction ("From Settings, tap Display > Screen timeout")."""
    return bool(_STEP.match(" ".join(sentence.split())))
