"""The language of a text, identified offline, for books whose front matter is silent.

py3langid (a maintained fork of langid.py) is used: a naive Bayes model over
byte n-grams, 4.5 MB installed, numpy only, no network, and deterministic
(the same text always gets the same answer). lingua-language-detector is more
accurate on a sentence or two, but installs some 100 MB of models; here the
input is a whole document, where py3langid is right, and short inputs below a
confidence floor are reported as not identified rather than guessed.

The same model marks passages in another language inside a book
(publisher/semantics.py), so every build loads it. The package ships it
LZMA-compressed, about 0.8 s to decompress (1.3 s beside a build's imports);
``make setup`` runs :func:`prepare`, which keeps it decompressed in the
environment (``share/publisher/`` under ``sys.prefix``, 68 MB), where it loads
in about 0.14 s. Without it (a plain ``pip install``) every build decompresses
the package's copy: the same answers, 0.6 s slower. (Loading it in a thread
beside the build's imports was tried: it made a text-only build 0.4 s slower,
both fighting for the interpreter.) The audio stage gives it back
(:func:`release`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import lzma
import os
import re
import shutil
import sys
import threading
from array import array
from pathlib import Path
from typing import Any

#: Below this normalised probability the answer is a guess: not used.
MIN_CONFIDENCE = 0.5
#: A document's first this many characters of prose are enough to tell.
_SAMPLE_CHARS = 20_000

_STRIP = [
    re.compile(r"^(```|~~~).*?^\1", re.M | re.S),  # fenced code
    re.compile(r"`[^`\n]*`"),                       # code spans
    re.compile(r"<[^>\n]+>"),                       # HTML tags
    re.compile(r"\]\([^)\s]*\)|https?://\S+|\S+@\S+"),  # link targets, URLs, e-mail
    re.compile(r"\{[%{].*?[%}]\}"),                 # template tags
    re.compile(r"[#*_>|\[\]{}()=~^\\-]+"),           # Markdown punctuation
]


_LOCK = threading.Lock()
_LOADED: list[Any] = []


def _base() -> Any:
    """py3langid's identifier over every language its model knows (loaded once)."""
    with _LOCK:
        return _load()


def _load() -> Any:
    if not _LOADED:
        # deferred: py3langid and NumPy take ~0.1 s to import, for the
        # first passage or book that needs them
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        prepared = prepared_path()
        if prepared.is_file():
            _LOADED.append(_from_npz(prepared, LanguageIdentifier))
        else:
            _LOADED.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
    return _LOADED[0]


def _package_model() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE  # deferred: NumPy, ~0.1 s

    return Path(MODEL_DIR) / MODEL_FILE


@functools.cache
def prepared_path() -> Path:
    """Where :func:`prepare` keeps the model decompressed, named by the py3langid
    version and the compressed model's digest (a new model is never mistaken
    for the old one)."""
    version = importlib.metadata.version("py3langid")
    digest = hashlib.sha256(_package_model().read_bytes()).hexdigest()[:16]
    return Path(sys.prefix) / "share" / "publisher" / f"py3langid-{version}-{digest}.npz"


def prepare() -> Path:
    """Decompress py3langid's model into the environment (``make setup`` runs it)."""
    target = prepared_path()
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with lzma.open(_package_model()) as packed, partial.open("wb") as out:
            shutil.copyfileobj(packed, out, length=1 << 20)
        os.replace(partial, target)
    return target


def _stdlib_array(values: Any) -> array:
    """A NumPy array of unsigned integers as a stdlib array, as py3langid walks
    its automaton (indexing one is several times faster than indexing NumPy)."""
    out = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(values.tobytes())
    return out


def _from_npz(path: Path, identifier_class: Any) -> Any:
    import numpy as np  # deferred: NumPy, imported with py3langid above

    with np.load(path, allow_pickle=False) as data:
        return identifier_class(
            data["ptc"], data["pc"], data["classes"].tolist(),
            _stdlib_array(data["nextmove"]), data["out_feat"].tolist(),
            norm_probs=True, tk_row=_stdlib_array(data["nextmove_row"]))


def release() -> None:
    """Give the model back (about 70 MB). The audio stage calls this: it identifies
    nothing, and it is the stage that holds audio; the next book loads it again."""
    with _LOCK:
        _LOADED.clear()
        restricted.cache_clear()
        labels.cache_clear()


@functools.cache
def labels() -> tuple[str, ...]:
    """Every language the model knows."""
    return tuple(sorted(set(_base().nb_classes)))


@functools.lru_cache(maxsize=64)
def restricted(languages: tuple[str, ...]) -> Any:
    """An identifier that weighs only ``languages`` (made once per set: py3langid's
    ``set_languages`` copies a slice of the model, some 80 ms)."""
    identifier = copy.copy(_base())  # shares the full model, restricts its own view
    identifier.set_languages(list(languages))
    return identifier


def _two_letter() -> tuple[str, ...]:
    # Two-letter ISO 639-1 languages only: the model's rarer three-letter ones
    # win on short English texts ("Hello world" reads as Fulfulde) and no
    # speech engine or reading system here could use them.
    return tuple(tag for tag in labels() if len(tag) == 2)


def classify(text: str, languages: tuple[str, ...]) -> tuple[str, float]:
    """(language, probability) of ``text`` among ``languages``; ('', 0.0) if unscorable."""
    try:
        tag, probability = restricted(languages).classify(text)
    except ValueError:  # nothing it could score
        return "", 0.0
    return str(tag), float(probability)


def prose_sample(text: str) -> str:
    """The words of a Markdown text, without code, addresses and markup."""
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    return " ".join(text.split())[:_SAMPLE_CHARS]


def identify_language(text: str) -> tuple[str, float] | None:
    """(ISO 639-1 code, confidence) of a Markdown text's language, or None if unsure."""
    sample = prose_sample(text)
    if sum(ch.isalpha() for ch in sample) < 3:
        return None
    tag, confidence = classify(sample, _two_letter())
    if confidence < MIN_CONFIDENCE:
        return None
    return str(tag), float(confidence)
