"""Property tests, run in a child process by test_properties.py (which bounds their time).

Any input gives either a result that keeps its promises or an IngestError (or another
error a person can read): never a crash, never a hang. Profiles: "ci" (the default, few
examples) and "dev" (HYPOTHESIS_PROFILE=dev, many more).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import AppError
from app.ingest.chunk import chunk_text
from app.ingest.formats import DOCX, parse, pptx
from app.ingest.formats.base import IngestError
from app.rag.citations import cited_sentences
from app.text.sentences import sentence_spans
from tests.hostile.corpus import docx_archive, pptx_with_slide

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,  # time is bounded by the parent, not measured in here
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Characters that steer the splitters: headings, list numbers, abbreviations, quotes,
# citations, every kind of space.
_TRICKY = list("#.!?\"')]-*+>|1234567890eg[] \t\n\r\x0b\x0c\u00a0\u2028\u3000aZé")
text_strategy = st.one_of(
    st.text(max_size=3000),
    st.text(alphabet=st.sampled_from(_TRICKY), max_size=3000),
    st.lists(st.sampled_from(["# ", "## T", "e.g. ", "1. ", "\n", "\n\n", " " * 50, "x", "."]))
    .map("".join),
    # Long runs of one piece: where backtracking and quadratic copies show.
    st.lists(
        st.tuples(st.sampled_from(["# a", " ", "e.g. ", "#", "\n", "x", "[1]", ".)"]),
                  st.integers(1, 4000)).map(lambda t: t[0] * t[1]),
        max_size=4,
    ).map("".join),
)  # fmt: skip


def _words(text: str) -> int:
    return len(text.split())


def check_chunks(text: str, markdown: bool, max_tokens: int, overlap: int) -> None:
    chunks = chunk_text(text, _words, max_tokens, markdown=markdown, overlap_tokens=overlap)
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text.strip() and chunk.token_count <= max_tokens
    if text.strip():
        assert chunks
    else:
        assert not chunks


@given(text_strategy, st.booleans(), st.integers(1, 64), st.integers(0, 16))
def chunker(text: str, markdown: bool, max_tokens: int, overlap: int) -> None:
    check_chunks(text, markdown, max_tokens, overlap)


@given(text_strategy)
def sentences(text: str) -> None:
    end = 0
    for start, stop in sentence_spans(text):
        assert end <= start < stop <= len(text)
        assert text[start:stop] == text[start:stop].strip()
        end = stop


@given(text_strategy)
def citations(answer: str) -> None:
    for sentence, numbers in cited_sentences(answer):
        assert isinstance(sentence, str) and sentence
        assert numbers and all(isinstance(n, int) and n >= 0 for n in numbers)


def _parse_then_chunk(data: bytes, media_type: str) -> None:
    try:
        parsed = parse(data, media_type, "fuzzed")
    except (IngestError, AppError) as exc:
        assert str(exc)
        return
    check_chunks(parsed.text, parsed.markdown, 32, 8)
    assert parsed.title is None or len(parsed.title) <= 200
    assert parsed.page_starts == sorted(parsed.page_starts)


_MEDIA = ["text/plain", "text/markdown", "text/html", "application/pdf", DOCX, pptx.MEDIA_TYPE]


@given(st.binary(max_size=4000), st.sampled_from(_MEDIA))
def any_bytes(data: bytes, media_type: str) -> None:
    _parse_then_chunk(data, media_type)


_markup = st.lists(
    st.sampled_from(
        ["<p>", "</p>", "<h1>", "</h1>", "<li>", "<div>", "</div>", "<script>", "<title>",
         "<main>", "<pre>", "&amp;", "&#0;", "\x00", "text ", "<!--", "-->", "<![CDATA["]
    ) | st.text(max_size=20),
    max_size=300,
).map("".join)  # fmt: skip


@given(_markup)
def html(markup: str) -> None:
    _parse_then_chunk(markup.encode("utf-8", "surrogatepass"), "text/html")


@given(st.binary(max_size=3000))
def pdf(body: bytes) -> None:
    _parse_then_chunk(b"%PDF-1.4\n" + body, "application/pdf")


_xml = st.lists(
    st.sampled_from(
        ['<w:p>', '</w:p>', '<w:r>', '</w:r>', '<w:t>', '</w:t>', 'words ', '<w:tbl>',
         '<w:tr>', '<w:tc>', '</w:tbl>', '<w:pStyle w:val="Heading1"/>', '<w:pPr>', '</w:pPr>',
         '&lt;', '<!DOCTYPE x [<!ENTITY a "aaaa">]>', '&a;']
    ) | st.text(max_size=10),
    max_size=200,
).map("".join)  # fmt: skip


@given(_xml)
def docx(body: str) -> None:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    document = f'<w:document xmlns:w="{ns}"><w:body>{body}</w:body></w:document>'
    _parse_then_chunk(docx_archive(document.encode("utf-8", "surrogatepass")), DOCX)


_slide_xml = st.lists(
    st.sampled_from(
        ['<p:sp>', '</p:sp>', '<p:txBody>', '</p:txBody>', '<a:p>', '</a:p>', '<a:r>',
         '</a:r>', '<a:t>', '</a:t>', 'words ', '<p:grpSp>', '</p:grpSp>', '<p:nvSpPr>',
         '<p:cNvPr id="9" name="x"/>', '<p:ph type="title"/>', '</p:nvSpPr>', '<a:br/>',
         '<p:graphicFrame>', '<a:tbl>', '<a:tr>', '<a:tc>', '&lt;', '&a;']
    ) | st.text(max_size=10),
    max_size=200,
).map("".join)  # fmt: skip


@given(_slide_xml)
def slides(shapes: str) -> None:
    _parse_then_chunk(pptx_with_slide(shapes.encode("utf-8", "surrogatepass")), pptx.MEDIA_TYPE)
