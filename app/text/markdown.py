"""Answers as safe HTML: Markdown rendered on the server, sanitised, citations as buttons."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

# html=False: raw HTML in an answer (an LLM can be talked into writing <script>) is escaped, and
# nh3 then removes anything the renderer or the citation step let through that is not allowed.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_md.enable("strikethrough")
_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a",
    "button",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "button": {"type", "class", "data-n"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "code": {"class"},
}
_CITATION = re.compile(r"\[(\d{1,3})\]")
# Code blocks and inline code keep their brackets: arr[1] is not a citation.
_CODE = re.compile(r"(<pre>.*?</pre>|<code>.*?</code>)", re.DOTALL)


def _cite(match: re.Match[str]) -> str:
    n = match.group(1)
    return f'<button type="button" class="cite" data-n="{n}">[{n}]</button>'


def render(text: str) -> str:
    """The answer's Markdown as sanitised HTML, each [n] a button for source n."""
    html = _md.render(text)
    parts = _CODE.split(html)
    # split with one group: odd indexes are the code blocks, left as they are
    html = "".join(p if i % 2 else _CITATION.sub(_cite, p) for i, p in enumerate(parts))
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
