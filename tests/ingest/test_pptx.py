"""PowerPoint: slides are pages, so every chunk keeps its slide number."""

import pytest

from app.ingest import formats
from app.ingest.chunk import chunk_text
from app.ingest.formats import IngestError, parse
from app.ingest.formats.pptx import MEDIA_TYPE
from tests import files


def words(text: str) -> int:
    return len(text.split())


def test_each_slide_is_a_page_with_its_title_as_heading():
    data = files.pptx_file(
        [
            ("Solar", "Panels convert sunlight.\nThey face south."),
            (None, "Wind turbines need steady wind."),
            ("Storage", "Batteries store the surplus."),
        ],
        title="Energy deck",
        notes="Say thanks.",
    )
    parsed = parse(data, MEDIA_TYPE, "energy.pptx")
    assert parsed.title == "Energy deck"
    assert len(parsed.page_starts) == 3
    chunks = chunk_text(parsed.text, words, 100, markdown=True, page_starts=parsed.page_starts)
    assert [(c.page, c.heading_path, c.text) for c in chunks] == [
        (1, ["Solar"], "# Solar\n\nPanels convert sunlight.\nThey face south."),
        # An untitled slide is named by its number, not by the heading of the one before.
        (2, ["Slide 2"], "# Slide 2\n\nWind turbines need steady wind."),
        (3, ["Storage"], "# Storage\n\nBatteries store the surplus.\n\nSay thanks."),
    ]


@pytest.mark.parametrize(
    ("data", "words_in_error"),
    [
        (b"PK\x03\x04broken", "not a valid PPTX"),
        (files.docx_file("Handbook", {"Solar": "Panels."}), "no ppt/presentation.xml"),
        (files.pptx_file([(None, "")]), "no text"),
    ],
)
def test_unreadable_presentations_raise_ingest_errors_naming_the_file(data, words_in_error):
    with pytest.raises(IngestError, match=words_in_error) as caught:
        parse(data, MEDIA_TYPE, "deck.pptx")
    assert "deck.pptx" in str(caught.value)


def test_the_upload_check_refuses_a_zip_that_is_no_presentation(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(files.docx_file("Handbook", {"Solar": "Panels."}))
    fmt = formats.for_filename("deck.PPTX")
    assert fmt.media_type == MEDIA_TYPE
    with pytest.raises(IngestError, match="deck.pptx") as caught:
        fmt.check(path, "deck.pptx")
    assert caught.value.code == "not_pptx"
    path.write_bytes(files.pptx_file([("Solar", "Panels.")]))
    assert fmt.check(path, "deck.pptx") is None
