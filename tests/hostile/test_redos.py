"""Regression tests: inputs on which a regular expression backtracked for seconds to minutes.

Each runs in a child process under a bound far above what the fixed code needs (well
under a second) and far below what the old patterns took.
"""

from tests.bounded import finishes_within

BOUND = 15  # seconds, interpreter start and imports included


def test_markdown_title_with_a_long_run_of_spaces_is_read_in_linear_time():
    # "# a" + 3,000 spaces + "b" took 118 s in the title pattern of formats/text.py.
    out = finishes_within(
        BOUND,
        """
        from app.ingest.formats.text import parse
        parsed = parse(("# a" + " " * 3000 + "b\\n\\nbody").encode(), "x.md", markdown=True)
        assert parsed.title.startswith("a ")
        parsed = parse(("# a" + " " * 200_000 + "b").encode(), "x.md", markdown=True)
        print("ok")
        """,
    )
    assert out.strip() == "ok"


def test_markdown_heading_with_a_long_run_of_spaces_is_chunked_in_linear_time():
    # The same pattern in the chunker, on the first line of every paragraph.
    finishes_within(
        BOUND,
        """
        from app.ingest.chunk import chunk_text
        text = "## a" + " " * 3000 + "b\\n\\nbody"
        chunks = chunk_text(text, lambda s: len(s.split()), 512, markdown=True)
        assert chunks[0].heading_path[0].endswith("b")
        chunk_text("# a" + " " * 200_000 + "b", lambda s: 1, 512, markdown=True)
        """,
    )


def test_compound_question_split_with_a_long_run_of_spaces_is_linear():
    # `,?\\s+and\\s+` retried every suffix of a run of spaces in rag/extractive._parts.
    finishes_within(
        BOUND,
        """
        from app.llm.extractive import _parts
        assert _parts("what is it and how is it made") == ["what is it", "how is it made"]
        _parts("what" + " " * 100_000 + "x")
        """,
    )


def test_sentences_after_many_abbreviations_in_a_row_are_split_in_linear_time():
    # Each abbreviation copied the text since the sentence began (quadratic).
    finishes_within(
        BOUND,
        """
        from app.text.sentences import sentence_spans
        assert len(sentence_spans("e.g. " * 200_000)) == 1
        """,
    )


def test_extractive_answer_with_trailing_spaces_is_tokenized_in_linear_time():
    # `\\s*\\S+` retried every suffix of a trailing run of spaces.
    finishes_within(
        BOUND,
        """
        from app.llm.extractive import tokens
        assert list(tokens(" a  b" + " " * 200_000)) == [" a", "  b"]
        """,
    )


def test_citation_with_thousands_of_digits_is_not_a_crash():
    # int() refuses more than 4,300 digits: "[111...1]" raised ValueError mid-answer.
    finishes_within(
        BOUND,
        """
        from app.rag.citations import cited_sentences
        assert cited_sentences("Claim [" + "1" * 5000 + "]. Fact [2].") == [("Fact", [2])]
        """,
    )


def test_deeply_nested_html_fails_fast_with_a_message():
    # 100,000 nested divs took 101 s to ingest (lexbor's tree building is quadratic in depth).
    finishes_within(
        BOUND,
        """
        from app.ingest.formats.html import parse
        from app.ingest.formats.base import IngestError
        data = b"<html><body>" + b"<div>" * 100_000 + b"x" + b"</div>" * 100_000
        try:
            parse(data, "deep.html")
        except IngestError as exc:
            assert "levels deep" in str(exc)
        else:
            raise AssertionError("parsed")
        """,
    )


def test_nested_blocks_in_html_are_read_in_linear_time():
    # Walking every <p>'s ancestors to the root was quadratic in depth (20,000: 86 s).
    finishes_within(
        BOUND,
        """
        from app.ingest.formats.html import parse
        n = 1000
        data = ("<body>" + "<div><p>x " * n + "</p></div>" * n).encode()
        for _ in range(20):
            assert parse(data, "p.html").text.count("x") == n
        """,
    )
