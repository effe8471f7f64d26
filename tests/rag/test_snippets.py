from app.rag.snippets import MAX_CHARS, MAX_WORDS, snippet

FILLER = "Other words fill the chunk here. " * 12


def test_a_snippet_shows_the_stretch_that_holds_the_question_words():
    text = FILLER + "Dust on the glass can reduce the output by five percent. " + FILLER
    got = snippet(text, "does dust reduce the output?")
    assert "Dust on the glass can reduce the output" in got
    assert len(got.split()) <= MAX_WORDS


def test_a_snippet_prefers_more_distinct_terms_to_one_term_repeated():
    text = "output output output output. " + FILLER + "Dust can reduce the output. " + FILLER
    assert "Dust can reduce the output" in snippet(text, "does dust reduce the output?")


def test_a_snippet_matches_words_by_their_stem_in_the_passage_language():
    text = FILLER + "O consumo de energia caiu muito no inverno. " + FILLER
    assert "consumo" in snippet(text, "Quanto consumia de energia?", "portuguese")


def test_a_snippet_without_any_question_word_is_the_start_of_the_passage():
    assert snippet(FILLER, "vitamin dose").startswith("Other words fill")


def test_a_text_without_spaces_is_cut_to_a_readable_length():
    got = snippet("東京の夜景は美しい。" * 100, "夜景", "simple")
    assert len(got) <= MAX_CHARS + 1 and got.endswith("…")


def test_a_snippet_leaves_out_the_headings_and_markup_above_the_prose():
    text = "# Guide\n## Efficiency\n\n| a | b |\n|---|---|\n\nPanels convert 22 percent."
    assert snippet(text, "how efficient are panels?") == "a b Panels convert 22 percent."
