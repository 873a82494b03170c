"""The language of a text, identified offline, for books whose front matter is silent.

py3langid (a maintained fork of langid.py) is used: a naive Bayes model over
byte n-grams, 4.5 MB installed, numpy only, no network, and deterministic
(the same text always gets the same answer). lingua-language-detector is more
accurate on a sentence or two, but installs some 100 MB of models; here the
input is a whole document, where py3langid is right, and short inputs below a
confidence floor are reported as not identified rather than guessed.
"""

from __future__ import annotations

import functools
import re
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


@functools.cache
def _identifier() -> Any:
    # deferred: py3langid and NumPy take ~0.2 s to import, only a book without a language
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    # Two-letter ISO 639-1 languages only: the model's rarer three-letter ones
    # win on short English texts ("Hello world" reads as Fulfulde) and no
    # speech engine or reading system here could use them.
    identifier.set_languages([tag for tag in identifier.labels if len(tag) == 2])
    return identifier


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
    tag, confidence = _identifier().classify(sample)
    if confidence < MIN_CONFIDENCE:
        return None
    return str(tag), float(confidence)
