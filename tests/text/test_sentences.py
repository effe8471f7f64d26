from app.text.sentences import sentence_spans


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_hard_wrapped_lines_stay_one_sentence():
    text = "The browser test uses\nDebian's chromium if present. Next one!"
    assert sentences(text) == ["The browser test uses\nDebian's chromium if present.", "Next one!"]


def test_blocks_end_sentences_but_list_numbers_and_abbreviations_do_not():
    text = "## Setup\nInstall it\n- fast\n- small\n\n1. First step, e.g. this one\n2) Second"
    assert sentences(text) == [
        "## Setup",
        "Install it",
        "- fast",
        "- small",
        "1. First step, e.g. this one",
        "2) Second",
    ]


def test_offsets_point_into_the_text():
    text = "  One.  Two?\n\nThree"
    assert [text[a:b] for a, b in sentence_spans(text, 2)] == ["One.", "Two?", "Three"]
