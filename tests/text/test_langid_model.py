"""The language detector on its unpacked, mapped model: the same answers as py3langid's own."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from app.text import langid_model

TEXTS = [
    "How do heat pumps move warmth from the outside air into a house in winter?",
    "¿Cómo funcionan las bombas de calor cuando hace frío?",
    "Wie funktionieren Wärmepumpen im Winter, wenn es draußen kalt ist?",
    "Comment fonctionnent les pompes à chaleur en hiver ?",
    "Как работают тепловые насосы зимой?",
    "热泵在冬天是如何工作的？",
    "define visceral?",
    "",
]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """tempfile's directory (where the model is unpacked) in the test's own folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_mapped_model_answers_as_py3langids_own(private_tmp) -> None:
    own = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    mapped = langid_model.load_identifier()
    assert isinstance(mapped.nb_ptc, np.memmap)  # mapped, not read into the process
    again = langid_model.load_identifier()  # the second process finds it unpacked
    for text in TEXTS:
        assert mapped.classify(text) == own.classify(text) == again.classify(text)


def test_model_is_not_unpacked_where_other_users_can_write(private_tmp, caplog) -> None:
    # A shared /tmp: another user's folder of that name, or one anybody may write into, could
    # hold a model of theirs.
    root = private_tmp / f"rag-cache-{os.getuid()}"
    root.mkdir(mode=0o777)
    os.chmod(root, 0o777)
    identifier = langid_model.load_identifier()
    assert not isinstance(identifier.nb_ptc, np.memmap)  # py3langid's in-memory model
    assert identifier.classify(TEXTS[3])[0] == "fr"
    assert list(root.iterdir()) == []
    assert "kept in memory" in caplog.text
