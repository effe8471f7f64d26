"""A conversation as Markdown: questions, answers, and each answer's citations as footnotes
naming the document and page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_CITATION = re.compile(r"\[(\d{1,3})\](?!\()")  # [n], not a [text](link)


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines() or [""])


def _footnote(label: int, source: dict[str, Any]) -> str:
    where = f"**{source.get('title') or 'Untitled'}**"
    if source.get("page"):
        where += f", page {source['page']}"
    if source.get("heading_path"):
        where += " (" + " › ".join(source["heading_path"]) + ")"
    snippet = " ".join(str(source.get("snippet") or "").split())
    return f"[^{label}]: {where}" + (f". “{snippet}”" if snippet else "")


def to_markdown(conversation: dict[str, Any], exported_at: str) -> str:
    """The conversation (as app.db.exports gives it) as a Markdown document. Footnote labels
    run through the whole document, since each answer numbers its own sources from 1."""
    lines = [f"# {conversation['title']}", ""]
    started = _when(conversation["created_at"])
    lines += [f"*Started {started}; exported {_when(exported_at)}.*", ""]
    label = 0
    for message in conversation["messages"]:
        if message["role"] == "user":
            lines += ["---", "", "**Question**", "", _quote(message["content"]), ""]
            continue
        sources = {s.get("n"): s for s in message.get("sources") or []}
        labels: dict[int, int] = {}

        def cite(match: re.Match[str], sources=sources, labels=labels) -> str:
            nonlocal label
            n = int(match.group(1))
            if n not in sources:
                return match.group(0)  # cites nothing that was retrieved: left as written
            if n not in labels:
                label += 1
                labels[n] = label
            return f"[^{labels[n]}]"

        lines += ["**Answer**", "", _CITATION.sub(cite, message["content"]), ""]
        if message.get("status") == "interrupted":
            lines += ["*(This answer was interrupted before it was finished.)*", ""]
        feedback = message.get("feedback")
        if feedback:
            verdict = "helpful" if feedback["rating"] > 0 else "not helpful"
            comment = f": {feedback['comment']}" if feedback.get("comment") else ""
            lines += [f"*Your feedback: {verdict}{comment}*", ""]
        lines += [_footnote(labels[n], sources[n]) for n in sorted(labels, key=labels.get)]
        if labels:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
