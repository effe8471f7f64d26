"""Property tests (hypothesis) for the chunker, the sentence splitter, every format parser
and the citation parser, each in a child process under a time bound: any input must give
a result or an IngestError, quickly."""

import pytest

from tests.bounded import finishes_within

BOUND = 240  # seconds for all examples of one property (the "ci" profile), imports included


@pytest.mark.parametrize(
    "prop", ["chunker", "sentences", "citations", "any_bytes", "html", "pdf", "docx", "slides"]
)
def test_property_holds_for_any_input_within_the_time_bound(prop):
    finishes_within(BOUND, f"from tests.hostile.properties import {prop}; {prop}()")
