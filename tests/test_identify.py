"""Language identification: the model prepared at setup answers as the package's own."""

from __future__ import annotations

import pytest

from publisher import identify

TEXTS = [
    ("This is a longer English sentence that someone quoted in the German text.", "en"),
    ("Dieses Kapitel erklärt, wie ein Projekt seine Mitwirkenden gut begleitet.", "de"),
    ("Un paragraphe en français, écrit pour l'essai de l'identification.", "fr"),
    ("Este párrafo está escrito en español para probar la identificación.", "es"),
]


@pytest.fixture
def fresh():
    """No model loaded before or after the test."""
    identify.release()
    yield
    identify.release()


def test_setup_prepared_the_model_and_it_answers_as_the_package_copy(fresh, monkeypatch):
    prepared = identify.prepared_path()
    # `make setup` (and CI) prepares it; without it every build is 0.6 s slower.
    assert prepared.is_file(), "run `make setup` (identify.prepare())"
    assert identify.prepare() == prepared  # already there: nothing written again
    languages = ("de", "en", "es", "fr", "it", "nl", "pt")
    from_prepared = [identify.classify(text, languages) for text, _ in TEXTS]
    assert [tag for tag, _ in from_prepared] == [tag for _, tag in TEXTS]

    identify.release()
    monkeypatch.setattr(identify, "prepared_path", lambda: prepared.with_name("absent.npz"))
    from_package = [identify.classify(text, languages) for text, _ in TEXTS]
    assert from_package == from_prepared  # the same model, to the last digit


def test_release_gives_the_model_back_and_the_next_call_loads_it_again(fresh):
    assert identify.classify(TEXTS[0][0], ("de", "en"))[0] == "en"
    assert identify._LOADED and identify.restricted.cache_info().currsize == 1
    identify.release()
    assert not identify._LOADED and identify.restricted.cache_info().currsize == 0
    assert identify.classify(TEXTS[1][0], ("de", "en"))[0] == "de"


def test_nothing_to_score_is_never_sure(fresh):
    # No features: every language equally likely, far below any bar a caller uses.
    assert identify.classify("", ("de", "en"))[1] == pytest.approx(0.5)
    assert identify.identify_language("12 34") is None
