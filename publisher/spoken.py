"""Spoken text: what a sentence sounds like, from its rendered text.

The input is already free of Markdown and HTML (parse.py takes it from the
rendered document). Here symbols and abbreviations that a speech engine would
read wrongly, or read as markup ("hash", "asterisk", "slash"), become words.
Rules are for English; other languages only get the language-neutral ones
(URLs, stray markup characters, white space).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")

_ENGLISH_ABBREVIATIONS = [
    (re.compile(r"\be\.\s?g\.(?=[\s,;:)]|$)", re.I), "for example"),
    (re.compile(r"\bi\.\s?e\.(?=[\s,;:)]|$)", re.I), "that is"),
    (re.compile(r"\betc\.(?=\s+[a-z]|\s*[)\],;:])"), "et cetera"),
    (re.compile(r"\betc\.", re.I), "et cetera."),
    (re.compile(r"\bvs\.?(?=\s)", re.I), "versus"),
    (re.compile(r"\bDr\.(?=\s+[A-Z])"), "Doctor"),
    (re.compile(r"\bMr\.(?=\s+[A-Z])"), "Mister"),
    (re.compile(r"\bMrs\.(?=\s+[A-Z])"), "Missus"),
    (re.compile(r"\bSt\.(?=\s+[A-Z])"), "Saint"),
    (re.compile(r"\bapprox\.(?=\s)", re.I), "approximately"),
    (re.compile(r"\bno\.(?=\s*\d)", re.I), "number"),
]

_ENGLISH_SYMBOLS = [
    (re.compile(r"(?<=\d)\s*%"), " percent"),
    (re.compile(r"%"), " percent "),
    (re.compile(r"\s*\+\s*(?=\d)"), " plus "),
    (re.compile(r"(?<=\w)\s*\+\s*(?=\w)"), " plus "),
    (re.compile(r"\s\+\s"), " plus "),
    (re.compile(r"\+"), " plus "),
    (re.compile(r"\s&\s|&"), " and "),
    (re.compile(r"(?<=\d)\s*°\s*C\b"), " degrees Celsius"),
    (re.compile(r"(?<=\d)\s*°\s*F\b"), " degrees Fahrenheit"),
    (re.compile(r"°"), " degrees"),
    (re.compile(r"\s=\s|="), " equals "),
    (re.compile(r"(?<=\d)\s*[x×]\s*(?=\d)"), " by "),
    (re.compile(r"~(?=\s*\d)"), "about "),
    (re.compile(r"\$(\d[\d,]*(?:\.\d+)?)"), r"\1 dollars"),
    (re.compile(r"£(\d[\d,]*(?:\.\d+)?)"), r"\1 pounds"),
    (re.compile(r"€(\d[\d,]*(?:\.\d+)?)"), r"\1 euros"),
    (re.compile(r"#(?=\d)"), "number "),
    (re.compile(r"(?<=\d)\s*/\s*(?=\d)"), " over "),
    # and/or, if/when, his/her: the slash is "or", never "slash"
    (re.compile(r"(?<=[^\W\d_])/(?=[^\W\d_])"), " or "),
    (re.compile(r"\s<\s"), " less than "),
    (re.compile(r"\s>\s"), " greater than "),
]

#: Every rule of _ENGLISH_ABBREVIATIONS matches where this does (and more rarely).
_ABBREVIATION_TRIGGERS = re.compile(r"e\.\s?g\.|i\.\s?e\.|etc\.|vs|dr\.|mrs?\.|st\.|approx\.|no\.",
                                    re.I)
#: Every rule of _ENGLISH_SYMBOLS needs one of these.
_SYMBOL_TRIGGERS = re.compile(r"[%+&°=×~$£€#/<>]|(?<=\d)\s*x\s*(?=\d)")

# Characters that are markup or decoration in any language: never spoken.
_MARKUP = re.compile(r"[#*_\[\]{}<>|\\^`~]")
_DASHES = re.compile(r"\s*[–—]\s*|\s+-\s+")
_QUOTES = re.compile(r"[\"“”„«»‹›]|(?<![^\W_])['‘’]|['‘’](?![^\W_])")
_SLASH = re.compile(r"\s*/\s*")


def speak(text: str, language: str = "en") -> str:
    """The words to synthesize for ``text`` (already free of markup)."""
    text = text.replace("\u00ad", "").replace("\u200b", "")
    if "@" in text:
        text = _EMAIL.sub(lambda m: m.group(0).replace("@", " at ").replace(".", " dot "), text)
    text = _URL.sub(_say_url, text)
    if language.split("-")[0].lower() == "en":
        # Most sentences have none of what these rules need: skipping them is
        # most of the time this takes on a long book, and changes nothing.
        if _ABBREVIATION_TRIGGERS.search(text):
            for pattern, words in _ENGLISH_ABBREVIATIONS:
                text = pattern.sub(words, text)
        if _SYMBOL_TRIGGERS.search(text):
            for pattern, words in _ENGLISH_SYMBOLS:
                text = pattern.sub(words, text)
    text = _DASHES.sub(", ", text)
    text = _QUOTES.sub("", text)
    text = _SLASH.sub(" ", text)
    text = _MARKUP.sub(" ", text)
    text = text.replace("…", "...")
    text = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split()))
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"^[,;:.\s]+", "", text)
    return text.strip()


def _say_url(match: re.Match[str]) -> str:
    """A web address is said as its site name, never letter by letter."""
    url = match.group(0).rstrip(".,;:!?")
    tail = match.group(0)[len(url):]
    host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    host = host.removeprefix("www.")
    return (" " + host.replace(".", " dot ") + " " if host else " ") + tail
