"""Errors carry where they happened as attributes (httpx style), not only in the message."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from publisher.build import build, load_book
from publisher.errors import ConfigError, PublisherError, SourceError, SpeechError, error_context
from publisher.options import BuildOptions

from .helpers import write_book


def test_an_engine_failure_names_its_sentence_and_section(tmp_path: Path) -> None:
    source = write_book(tmp_path, "## One\n\nThis one is fine.\n\n## Two\n\nThis one breaks.\n")
    options = BuildOptions(out_root=tmp_path / "out", engine="fake", workers=1,
                           engine_options={"fail_on": "breaks"})
    with pytest.raises(SpeechError) as caught:
        build(source, options)
    book = load_book(source, options)
    broken = next(s for s in book.sentences if "breaks" in s.spoken)
    assert caught.value.sentence_id == broken.id
    assert caught.value.section == next(s.id for s in book.sections if broken in s.sentences)
    assert "Section " in str(caught.value) and broken.id in str(caught.value)


def test_a_source_problem_names_its_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    with pytest.raises(SourceError) as caught:
        load_book(missing, BuildOptions())
    assert Path(caught.value.path) == missing


def test_context_is_added_on_the_way_out_and_never_replaces_the_errors_own() -> None:
    with pytest.raises(PublisherError) as caught, error_context(path="book.md", section="s"):
        raise PublisherError("x", section="own")
    assert (caught.value.path, caught.value.section, caught.value.sentence_id) == (
        "book.md", "own", None)


def test_errors_keep_their_context_across_processes() -> None:
    error = pickle.loads(pickle.dumps(SpeechError("failed", sentence_id="s-1")))
    assert (str(error), error.sentence_id) == ("failed", "s-1")
    config = pickle.loads(pickle.dumps(ConfigError(["a", "b"], "book.md")))
    assert (config.problems, config.path) == (("a", "b"), "book.md")
