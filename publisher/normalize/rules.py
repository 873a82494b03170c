"""The normalization rules, in the order they apply.

A rule finds spans of the *written* text and says what to say instead. Rules
run in order over what earlier rules left untouched, so a span is rewritten
once (a phone number is never read again as a range, a date never as a
fraction). Every rule reads its words from the language's table
(:mod:`publisher.normalize.languages`); none names a language.
"""

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import emoji
from babel import Locale

from . import words as w
from .languages import Language

#: A rule's finder: (start, end, words) of every span it rewrites in ``text``.
Finder = Callable[[str, Language], Iterator[tuple[int, int, str]]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One named rule: the name appears in ``publisher script``'s changes."""

    name: str
    find: Finder
    #: Every match holds a decimal digit (``\d``, any script's): a text without
    #: one is not searched (most sentences of prose; a third of the normalizing time).
    needs_digit: bool = False


def _regex(pattern: str | Callable[[Language], str], flags: int = 0) -> Callable[
        [Callable[[re.Match[str], Language], str | None]], Finder]:
    """Make a finder from a pattern (or a per-language pattern) and a handler."""
    def wrap(handler: Callable[[re.Match[str], Language], str | None]) -> Finder:
        def find(text: str, lang: Language, start: int = 0,
                 end: int | None = None) -> Iterator[tuple[int, int, str]]:
            # Searching the whole text between start and end (not a slice of it), a
            # pattern looks behind at what is written before the span ("</script>"'s
            # ">" is not a symbol standing alone) and a handler sees the sentence.
            compiled = _pattern_for(pattern, flags, lang)
            if compiled is None:
                return
            for match in compiled.finditer(text, start, len(text) if end is None else end):
                said = handler(match, lang)
                if said is not None:
                    yield match.start(), match.end(), said
        find.whole_text = True  # type: ignore[attr-defined]
        return find
    return wrap


@functools.cache
def _compiled(source: str, flags: int) -> re.Pattern[str]:
    return re.compile(source, flags)


_PATTERNS: dict[tuple[int, int, str, bool], re.Pattern[str] | None] = {}


def _pattern_for(pattern: str | Callable[[Language], str], flags: int,
                 lang: Language) -> re.Pattern[str] | None:
    """The rule's compiled pattern for ``lang``, built once per language (not per call)."""
    key = (id(pattern), flags, lang.code, lang.month_first)
    if key not in _PATTERNS:
        source = pattern(lang) if callable(pattern) else pattern
        _PATTERNS[key] = _compiled(source, flags) if source else None
    return _PATTERNS[key]


def _word(lang: Language, key: str) -> str:
    return lang.words.get(key, key)


def _num(lang: Language) -> str:
    return w.number_pattern(lang.code or "en")


# --- code spans ----------------------------------------------------------------------

#: Around a code span in the text to normalize (the parser puts them around ``<code>``);
#: a span between backticks is code too (plain text written the Markdown way).
CODE_OPEN, CODE_CLOSE = "\ue000", "\ue001"

#: Each symbol's key in the language's words (said one by one in code).
_CODE_SYMBOLS = {
    "-": "dash", "_": "underscore", ".": "dot", ",": "comma", ":": "colon",
    ";": "semicolon", "!": "exclamation", "?": "question", "'": "quote", "’": "quote",
    '"': "double_quote", "`": "backtick", "(": "open_paren", ")": "close_paren",
    "[": "open_bracket", "]": "close_bracket", "{": "open_brace", "}": "close_brace",
    "<": "less", ">": "greater", "=": "equals", "+": "plus", "*": "asterisk",
    "/": "slash", "\\": "backslash", "|": "pipe", "&": "ampersand", "^": "caret",
    "~": "tilde", "@": "at", "#": "hash", "$": "dollar", "%": "percent_sign",
}


def _code(text: str, lang: Language) -> Iterator[tuple[int, int, str]]:
    """A code span said as written: its words as they are, its numbers in words, and
    every symbol by its name, one by one (``a -> b``: "a dash greater than b";
    ``--force``: "dash dash force"), so a listener can type what a reader sees."""
    if CODE_OPEN not in text and "`" not in text:
        return
    for match in re.finditer(rf"{CODE_OPEN}([^{CODE_CLOSE}]*){CODE_CLOSE}|`([^`]+)`", text):
        code = match.group(1) if match.group(1) is not None else match.group(2)
        yield match.start(), match.end(), f" {say_code(code, lang)} "


def say_code(code: str, lang: Language) -> str:
    """The words for a piece of code (see :func:`_code`)."""
    out: list[str] = []
    # A hyphen inside a word is part of it (Content-Encoding, stale-if-error).
    for token in re.findall(r"\d+|[^\W\d_]+(?:-[^\W\d_]+)*|\S", code):
        if token.isdigit():
            out.append(w.cardinal(int(token), lang) if lang.has_rules else token)
        elif token[0].isalpha():
            out.append(token)
        elif token in _CODE_SYMBOLS:
            key = _CODE_SYMBOLS[token]
            out.append(lang.words.get(key) or _EN_CODE_WORDS.get(key, key))
        elif not emoji.is_emoji(token):
            out.append(unicodedata.name(token, "").lower() or token)
    return " ".join(out)


_EN_CODE_WORDS = {"dash": "dash", "underscore": "underscore", "dot": "dot"}


# --- hexadecimal, code points, percent-encoding --------------------------------------

def _hex_digits(text: str, lang: Language) -> str:
    return " ".join(w.cardinal(int(c), lang) if c.isdigit() else c.upper() for c in text)


@_regex(r"(?<![\w.])0[xX]([0-9A-Fa-f]+)\b|(?<![\w])U\+([0-9A-Fa-f]{4,6})\b"
        r"|(?<![\w%])%([0-9A-Fa-f]{2})(?![\w])")
def _hexadecimal(match: re.Match[str], lang: Language) -> str | None:
    """0x202F, U+202F, %20: the marks by name, then digit by digit (hexadecimal)."""
    if not lang.has_rules:
        return None
    if match.group(1):
        return f"{w.cardinal(0, lang)} x {_hex_digits(match.group(1), lang)}"
    if match.group(2):
        return f"U {_word(lang, 'plus')} {_hex_digits(match.group(2), lang)}"
    return f"{_word(lang, 'percent_sign')} {_hex_digits(match.group(3), lang)}"


# --- web, e-mail, handles -----------------------------------------------------------

@_regex(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
def _url(match: re.Match[str], lang: Language) -> str:
    url = match.group(0).rstrip(".,;:!?")
    tail = match.group(0)[len(url):]
    host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    host = host.removeprefix("www.")
    return host.replace(".", f" {_word(lang, 'dot')} ") + tail


@_regex(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
def _email(match: re.Match[str], lang: Language) -> str:
    user, _, host = match.group(0).partition("@")
    dot = f" {_word(lang, 'dot')} "
    return f"{user.replace('.', dot)} {_word(lang, 'at')} {host.replace('.', dot)}"


@_regex(r"(?<![\w@])@([A-Za-z_]\w{0,30})\b")
def _handle(match: re.Match[str], lang: Language) -> str:
    return f"{_word(lang, 'at')} {match.group(1).replace('_', ' ')}"


@_regex(r"(?<![\w&])#([^\W\d]\w*)")
def _hashtag(match: re.Match[str], lang: Language) -> str:
    # #SelfCareSunday -> Self Care Sunday
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", match.group(1)).replace("_", " ")
    return f"{_word(lang, 'hashtag')} {name}"


@_regex(r"(?<![^\W\d_&])#\s?(\d+(?:\.\d+)*)(?![\d,]\d|\.\d)")
def _number_sign(match: re.Match[str], lang: Language) -> str | None:
    """#3699 (an issue), #1, RFC2616#14.11: "number" and the number (never a year)."""
    if not lang.has_rules:
        return None
    point = _word(lang, "dot") if lang.code != "en" else "point"
    parts = f" {point} ".join(w.cardinal(int(p), lang) for p in match.group(1).split("."))
    return f"{_word(lang, 'number')} {parts}"


# --- emoji ---------------------------------------------------------------------------

#: Every emoji has a code point in these ranges (dashes and quotes, U+2010-203B, do not).
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c\u2049\u2122-\u2bff\u3030\u303d\u3297\u3299"
                          "\ufe0f\u200d\U0001F000-\U0001FFFF]")


def _emoji(text: str, lang: Language) -> Iterator[tuple[int, int, str]]:
    """Emoji: silent where they decorate (the start, the end, beside another emoji),
    said by their CLDR name in the book's language where they stand for a word."""
    if not _MAYBE_EMOJI.search(text):
        return  # most sentences: the emoji tokenizer is the slowest rule
    found = emoji.emoji_list(text)
    for item in found:
        start, end = item["match_start"], item["match_end"]
        before, after = text[:start], text[end:]
        decorative = (not re.search(r"\w", before) or not re.search(r"\w", after)
                      or bool(emoji.emoji_list(before[-2:])) or bool(emoji.emoji_list(after[:2])))
        name = ""
        if not decorative and lang.code in emoji.LANGUAGES:
            name = emoji.demojize(item["emoji"], language=lang.code, delimiters=("", ""))
            name = "" if name == item["emoji"] else emoji_name(name, lang)
        yield start, end, f" {name} " if name else " "
    # A stray variation selector or joiner is never said.
    for match in re.finditer(r"[\ufe0e\ufe0f\u200d\u20e3]", text):
        if not any(i["match_start"] <= match.start() < i["match_end"] for i in found):
            yield match.start(), match.end(), ""


def emoji_name(name: str, lang: Language) -> str:
    """A CLDR emoji name as the ``emoji`` package gives it ("weinendes_gesicht",
    "drapeau_france") with the capitals the language writes: German nouns
    ("weinendes Gesicht"), and in every language the proper nouns (country and
    region names from CLDR via Babel, "drapeau France", "árbol de Navidad")."""
    words = name.replace("_", " ").split()
    if lang.code == "de":
        words = [_german_capital(word, words[i + 1:], lang) for i, word in enumerate(words)]
    text = " ".join(words)
    for proper in _proper_nouns(lang.code, lang.emoji_proper_nouns):
        text = re.sub(rf"(?<![\w-]){re.escape(proper)}(?![\w-])", proper, text,
                      flags=re.IGNORECASE)
    return text


def _german_capital(word: str, rest: list[str], lang: Language) -> str:
    """A word of a German CLDR name with its capital when it is a noun."""
    lower = word.lower()
    if lower in lang.emoji_lowercase or not lower[:1].isalpha():
        return lower
    if rest and any(r.lower() not in lang.emoji_lowercase for r in rest) and (
            any(lower.removesuffix(e) in lang.emoji_adjective_stems
                for e in ("em", "en", "er", "es", "e", ""))
            or lower.endswith(lang.emoji_adjective_endings)):
        return lower  # an adjective before its noun: "weinendes Gesicht"
    if not rest and lower.removesuffix("e") in lang.emoji_adjective_stems:
        return lower  # "Daumen hoch", "Ampel rot"
    # Nouns (and each part of "Lehrer(in)", "IT-Experte/IT-Expertin") take a capital.
    capital = re.sub(r"(?:(?<=^)|(?<=[/-]))([^\W\d_])", lambda m: m.group(1).upper(), lower)
    return re.sub(r"(?:(?<=^)|(?<=/))It-", "IT-", capital)  # IT-Experte


@functools.cache
def _proper_nouns(code: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Country and region names in ``code`` (CLDR, via Babel) and the table's own."""
    try:
        names = [str(n) for n in Locale.parse(code).territories.values()] if code else []
    except (ValueError, LookupError):
        names = []
    names = [n for n in names if n[:1].isupper() and "(" not in n]
    return tuple(sorted(set(names) | set(extra), key=len, reverse=True))


# --- abbreviations -------------------------------------------------------------------

def _abbreviations(text: str, lang: Language) -> Iterator[tuple[int, int, str]]:
    for pattern, said in lang.abbreviations:
        for match in _compiled(pattern, 0).finditer(text):
            tail = ""
            # "etc." ending a sentence: the period still ends it.
            if match.group(0).endswith(".") and not text[match.end():].strip():
                tail = "."
            yield match.start(), match.end(), said + tail


# --- phone numbers, references, versions ---------------------------------------------

@_regex(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?\(\d{2,4}\)\s?\d{3,4}[-.\s]\d{3,4}\b"
        r"|(?<![\w.-])\d{3}[-.]\d{3}[-.]\d{4}\b"
        r"|(?<![\w+])\+\d{1,3}(?:[\s.-]\d{1,4}){2,5}\b(?![/.,]\d)")
def _phone(match: re.Match[str], lang: Language) -> str:
    groups = re.findall(r"\d+", match.group(0))
    plus = f"{_word(lang, 'plus')} " if match.group(0).startswith("+") else ""
    return plus + ", ".join(w.digits(g, lang) for g in groups)


def _identifier(text: str, lang: Language) -> str:
    """A reference like ``301-10.450(c)``: numbers as numbers, the marks by name."""
    out: list[str] = []
    for token in re.findall(r"\d+|[A-Za-z]+|[.\-–]", text):
        if token.isdigit():
            out.append(w.cardinal(int(token), lang))
        elif token == ".":
            out.append(_word(lang, "dot"))
        elif token in "-–":
            out.append(_word(lang, "dash"))
        else:
            out.append(token)
    return " ".join(out)


@_regex(r"(§§?|¶)\s*(\d[\w.\-–]*(?:\([A-Za-z0-9]+\))*)")
def _section_sign(match: re.Match[str], lang: Language) -> str:
    key = {"§": "section", "§§": "sections", "¶": "paragraph"}[match.group(1)]
    ref = match.group(2).rstrip(".")
    tail = match.group(2)[len(ref):]
    return f"{_word(lang, key)} {_identifier(ref, lang)}{tail}"


@_regex(r"[§¶]")
def _lone_section_sign(match: re.Match[str], lang: Language) -> str:
    return f" {_word(lang, 'section' if match.group(0) == '§' else 'paragraph')} "


#: Names a two-part version follows ("Python 3.12", "httpcore 1.0"), in any language.
VERSIONED = ("Python", "Django", "Node", "Node.js", "Java", "PHP", "Ruby", "Perl", "Rust",
             "Go", "macOS", "iOS", "Android", "Windows", "Ubuntu", "Debian", "Fedora",
             "Firefox", "Chrome", "Safari", "HTTP", "TLS", "SSL", "OAuth", "Unicode",
             "CommonMark", "GFM", "pandoc", "Pandoc", "Markdown", "MkDocs", "httpcore",
             "httpx", "HTTPX", "urllib3", "Kubernetes", "Docker", "Git", "npm", "pip",
             "Bootstrap", "jQuery", "React", "Vue", "Angular", "Qt", "GTK", "OpenSSL",
             "version", "Version", "versión", "Versión", "versione", "versão", "Versão")


def _version_pattern(lang: Language) -> str:
    names = "|".join(re.escape(n) for n in VERSIONED)
    return (r"\b[vV](\d+(?:\.\d+)+)\b|(?<![\d.])(\d+\.\d+\.\d+(?:\.\d+)*)(?![\d.]*\d)"
            rf"|(?<![\w.])(?P<name>(?:{names}) )(\d+\.\d+)\b(?![.,]\d)"
            r"|(?<![\w.,])(\d+\.\d+)(?= (?:release|releases|branch|series|beta)\b)")


@_regex(_version_pattern)
def _version(match: re.Match[str], lang: Language) -> str | None:
    name = match.group("name") or ""
    text = next(g for g in match.groups() if g and g != name)
    parts = text.split(".")
    if not match.group(1) and len(parts) == 3 and _date_of(parts, lang) is not None:
        return None  # 9.11.2030 is a date
    if "." in w.separators(lang.code or "en")[1] and all(len(p) == 3 for p in parts[1:]):
        return None  # 1.234.567 is a number where "." groups thousands
    point = _word(lang, "dot") if lang.code != "en" else "point"
    said = f" {point} ".join(w.cardinal(int(p), lang) for p in parts)
    return f"{_word(lang, 'version')} {said}" if match.group(1) else name + said


# --- dates and times -----------------------------------------------------------------

def _date_of(parts: list[str], lang: Language) -> tuple[int, int, int] | None:
    """(year, month, day) of a numeric date written in the language's order."""
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    if len(parts[0]) == 4:
        y, m, d = (int(p) for p in parts)
    elif len(parts[2]) == 4:
        a, b, y = (int(p) for p in parts)
        m, d = (a, b) if lang.month_first else (b, a)
        if m > 12 and d <= 12:
            m, d = d, m
    else:
        return None
    if not (1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]):
        return None
    return y, m, d


def say_date(y: int | None, m: int, d: int | None, lang: Language, case: str = "",
             day_first: bool = False) -> str:
    """A date in words, in the language's order ("September sixteenth, 2030" in words);
    in English a date written day first keeps its order ("the sixteenth of September")."""
    month = w.month_name(m, lang.code)
    if lang.code == "en" and (day_first or not lang.month_first) and d is not None:
        said = f"the {w.ordinal(d, lang)} of {month}"
        return f"{said}, {w.year(y, lang)}" if y else said
    if d is None:
        day = ""
    elif lang.date_day == "ordinal":
        day = w.ordinal(d, lang)
        if lang.code == "de" and case:
            day += case
    elif lang.date_day == "first-ordinal" and d == 1:
        day = w.ordinal(1, lang)
    else:
        day = w.cardinal(d, lang)
    template = lang.date_template
    if y is None:
        template = re.sub(r",?\s*(?:de\s+)?\{year\}", "", template)
    if d is None:
        template = re.sub(r"\s*\{day\},?\s*(?:de\s+)?", " ", template)
    return template.format(day=day, month=month, year=w.year(y, lang) if y else "").strip()


@_regex(r"(?<![\d/.-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d/.-]*\d)"
        r"|(?<![\d/.-])(\d{1,2})([/.])(\d{1,2})\6(\d{4})(?![\d/.]*\d)")
def _numeric_date(match: re.Match[str], lang: Language) -> str | None:
    if not lang.has_rules:
        return None
    parts = ([match.group(1), match.group(3), match.group(4)] if match.group(1)
             else [match.group(5), match.group(7), match.group(8)])
    date = _date_of(parts, lang)
    if date is None:
        return None
    y, m, d = date
    return say_date(y, m, d, lang, _german_case(match.string[:match.start()], lang))


def _german_case(before: str, lang: Language) -> str:
    """The ending of a German ordinal: "am neunten", "der neunte", else "neunter"."""
    if lang.code != "de":
        return ""
    if re.search(r"\b(?:am|im|vom|zum|beim|bis zum|ab dem|seit dem|dem|den|des)\s*$", before,
                 re.IGNORECASE):
        return "n"
    if re.search(r"\b(?:der|die|das)\s*$", before, re.IGNORECASE):
        return ""
    return "r"


def _month_alternatives(lang: Language) -> str:
    names = sorted(w.month_names(lang.code), key=len, reverse=True)
    return "|".join(re.escape(n) for n in names if len(n) >= 3)


def _written_date_pattern(lang: Language) -> str:
    if not lang.has_rules or lang.code in ("zh", "ar"):
        return ""
    months = _month_alternatives(lang)
    suffix = lang.ordinal_suffix if lang.code != "de" else r"\."
    day_first = (rf"(?P<pre>\b(?:am|vom|zum|bis zum|ab dem|seit dem)\s+)?"
                 rf"\b(?P<d1>\d{{1,2}})(?:{suffix})?\s+(?:de\s+|of\s+)?(?P<m1>{months})\b\.?"
                 rf"(?:,?\s+(?:de\s+)?(?P<y1>\d{{4}})\b)?")
    month_first = (rf"\b(?P<m2>{months})\b\.?\s+(?P<d2>\d{{1,2}})(?:{suffix})?\b"
                   rf"(?:,?\s+(?P<y2>\d{{4}})\b)?")
    month_year = rf"\b(?P<m3>{months})\b\s+(?:de\s+)?(?P<y3>\d{{4}})\b"
    return f"{day_first}|{month_first}|{month_year}"


@_regex(_written_date_pattern, re.IGNORECASE)
def _written_date(match: re.Match[str], lang: Language) -> str | None:
    g = match.groupdict()
    months = w.month_names(lang.code)
    name = g["m1"] or g["m2"] or g["m3"]
    m = months.get(name.lower().rstrip("."))
    if m is None:
        return None
    day_text = g["d1"] or g["d2"]
    d = int(day_text) if day_text else None
    y = int(g["y1"] or g["y2"] or g["y3"]) if (g["y1"] or g["y2"] or g["y3"]) else None
    if d is not None and not 1 <= d <= 31:
        return None
    pre = g["pre"] or ""
    case = "n" if pre else _german_case(match.string[:match.start()], lang)
    said = say_date(y, m, d, lang, case, day_first=bool(g["d1"]))
    wide = w.month_name(m, lang.code).lower()
    if match.group(0).endswith(".") and name.lower() == wide and not (y and not g["m3"]):
        said += "."  # the period ends the sentence; it was not an abbreviation's
    return pre + said


def _day_month_pattern(lang: Language) -> str:
    return r"(?<![\d/.,-])(\d{1,2})/(\d{1,2})(?![\d/])(?P<unit>\s?(?:inch|in\b|cups?|tsp|tbsp|miles?|of)\b)?" \
        if lang.has_rules else ""


@_regex(_day_month_pattern)
def _fraction_or_date(match: re.Match[str], lang: Language) -> str:
    """``a/b`` without a year: a fraction or a day and month. The rule, in order:

    1. a unit or "of" right after it ("3/4 cup", "3/4 of them") makes it a fraction;
    2. a date word right before it ("on 3/4", "el 3/4", "am 3/4", a weekday; the
       table's ``date_cues``) makes it a date, read in the book's order (month first
       in en-US, day first elsewhere) when it is a valid one;
    3. a number that can only be the day (9/16 in en-US, 16/9 elsewhere) makes it a date;
    4. anything else is a fraction: "three quarters", "two thirds", "tres cuartos",
       else "a over b" ("tres entre siete").
    """
    a, b = int(match.group(1)), int(match.group(2))
    m, d = (a, b) if lang.month_first else (b, a)
    unit = match.group("unit") or ""
    if (a, b) == (24, 7):
        return _fraction(a, b, lang) + unit  # open 24/7
    if m > 12 >= d:
        m, d = d, m  # 16/9 in a US book: only the 16 can be the day
    valid = 1 <= m <= 12 and 1 <= d <= calendar.monthrange(2024, m)[1]
    cue = re.search(r"([^\W\d_]+)\W*$", match.string[:match.start()])
    if not unit and valid and (d > 12 or (cue is not None and cue.group(1).lower()
                                           in lang.date_cues)):
        return say_date(None, m, d, lang, _german_case(match.string[:match.start()], lang))
    return _fraction(a, b, lang) + unit


def _fraction(a: int, b: int, lang: Language) -> str:
    """``a/b`` said as a fraction in ``lang``."""
    if (a, b) == (24, 7) and lang.code == "en":
        return "twenty-four seven"
    if lang.code == "en" and b in (2, 4) and 0 < a < b:
        key = ("half", "halves") if b == 2 else ("quarter", "quarters")
        return f"{w.cardinal(a, lang) if a > 1 else 'one'} {_word(lang, key[a > 1])}"
    if lang.code == "en" and 0 < a < b <= 10:
        return f"{w.cardinal(a, lang)} {w.ordinal(b, lang)}{'s' if a > 1 else ''}"
    if b in (2, 4) and 0 < a < b and "quarter" in lang.words:
        key = ("half", "halves") if b == 2 else ("quarter", "quarters")
        noun = _word(lang, key[a > 1])
        return f"{agree(w.cardinal(a, lang), noun.capitalize() if lang.code == 'de' else noun, lang)} {noun}"
    return f"{w.cardinal(a, lang)} {_word(lang, 'over')} {w.cardinal(b, lang)}"


@_regex(r"(?<![\d:])([01]?\d|2[0-3]):([0-5]\d)(?::[0-5]\d)?(?![\d:])"
        r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?(?!\w)|\s?(?P<uhr>Uhr)\b)?")
def _time(match: re.Match[str], lang: Language) -> str | None:
    if not lang.has_rules:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    said = say_time(hour, minute, lang, match.group("ampm"))
    rest = match.string[match.end():]
    if match.group(0).endswith(".") and (not rest.strip() or re.match(r"\s+[A-Z]", rest)):
        said += "."  # "p.m." ending a sentence: its period ends the sentence too
    return said


@_regex(r"(?<![\d])([01]?\d|2[0-3])\s?h\s?([0-5]\d)\b")
def _french_time(match: re.Match[str], lang: Language) -> str | None:
    if lang.code != "fr":
        return None
    return say_time(int(match.group(1)), int(match.group(2)), lang, None)


def say_time(hour: int, minute: int, lang: Language, ampm: str | None) -> str:
    """A clock time in words ("ten thirty p m", "zehn Uhr dreißig")."""
    if lang.code == "en":
        h = w.cardinal(hour, lang)
        if minute == 0:
            said = f"{h} {_word(lang, 'oclock')}" if not ampm else h
        elif minute < 10:
            said = f"{h} {_word(lang, 'oh')} {w.cardinal(minute, lang)}"
        else:
            said = f"{h} {w.cardinal(minute, lang)}"
        if ampm:
            said += " " + _word(lang, "am" if ampm.lower() == "a" else "pm")
        return said
    template = lang.time_template
    if minute == 0:
        template = re.sub(r"\s*(?:y|e)?\s*\{minute\}", "", template)
        if lang.code in ("es", "it", "pt"):
            template += " " + _word(lang, "hours")
    hour_words = w.cardinal(hour, lang)
    if lang.code == "fr" and hour == 1:
        template = template.replace("heures", "heure")
        hour_words = "une"
    return template.format(hour=hour_words, minute=w.cardinal(minute, lang)).strip()


# --- money, percentages, ranges, units -----------------------------------------------

_SYMBOLS = {"US$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "R$": "BRL",
            "₹": "INR", "CHF": "CHF", "EUR": "EUR", "USD": "USD", "GBP": "GBP"}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "mil": 10**3, "millones": 10**6, "millón": 10**6, "millions": 10**6,
           "milliards": 10**9, "Millionen": 10**6, "Million": 10**6, "Milliarden": 10**9,
           "milioni": 10**6, "milhões": 10**6}


def _money_pattern(lang: Language) -> str:
    if not lang.has_rules:
        return ""
    num = _num(lang)
    symbol = r"US\$|R\$|\$|€|£|¥|₹"
    scale = "|".join(sorted(_SCALES, key=len, reverse=True))
    return (rf"(?P<s1>{symbol})\s?(?P<n1>\d+\.\d\d(?![\d.])|{num})(?:\s(?P<k1>{scale})\b)?"
            rf"|(?P<n2>{num})(?:\s(?P<k2>{scale})\b)?\s?(?P<s2>€|\$|£|EUR\b|USD\b|CHF\b|GBP\b)")


@_regex(_money_pattern)
def _money(match: re.Match[str], lang: Language) -> str | None:
    g = match.groupdict()
    code = _SYMBOLS[g["s1"] or g["s2"]]
    names = lang.currencies.get(code)
    if names is None:
        return None
    (major_one, major_many), (minor_one, minor_many) = names
    written = g["n1"] or g["n2"]
    if re.fullmatch(r"\d+\.\d\d", written):
        whole, _, fraction = written.partition(".")  # $51.75 in any language
    else:
        whole, fraction = w.parse_number(written, lang.code)
    scale = g["k1"] or g["k2"]
    if scale:
        amount = w.number(g["n1"] or g["n2"], lang)
        connector = " de " if lang.code in ("es", "fr", "pt") else " "
        return f"{amount} {scale}{connector}{major_many}"
    major = int(whole)
    said = _apocope(f"{w.cardinal(major, lang)} {major_one if major == 1 else major_many}", lang)
    if fraction and int(fraction):
        cents = int(fraction.ljust(2, "0")[:2])
        minor = f"{w.cardinal(cents, lang)} {minor_one if cents == 1 else minor_many}"
        connector = {"es": "con", "en": "and"}.get(lang.code, _word(lang, "and"))
        said = f"{said} {connector} {_apocope(minor, lang)}" if major else _apocope(minor, lang)
    return said


def _apocope(said: str, lang: Language) -> str:
    """A number then its noun ("21 libros", "1 semana"): the number agrees with the noun."""
    head, _, noun = said.rpartition(" ")
    return f"{agree(head, noun, lang)} {noun}" if head else said


def is_feminine(noun: str, lang: Language) -> bool:
    """True when ``noun`` is feminine in ``lang`` (its table: nouns, endings, exceptions)."""
    word = noun.lower().strip(".,;:!?)")
    if not word or word in lang.masculine_nouns:
        return False
    return word in lang.feminine_nouns or word.endswith(lang.feminine_endings)


def agree(number: str, noun: str, lang: Language, before: str = "") -> str:
    """Number words before ``noun`` in the form the noun asks for: "veintiuna personas",
    "una semana", "vingt et une heures", "duas horas", "eine Woche", "veintiún libros".

    Words up to a "million" keep their form (un millón de personas); a decimal is left
    as it is (uno coma cinco horas). ``before``: the word before the number; a
    preposition there gives "one" its case (:attr:`Language.case_prepositions`:
    "mit einer Woche", "für einen Tag").
    """
    if not noun or not (lang.feminine_forms or lang.before_noun_forms):
        return number
    if lang.decimal_word in number.split() or noun.lower() in lang.not_nouns:
        return number
    if lang.code == "de" and not noun[:1].isupper():
        return number  # German nouns have a capital; "1 von 5" is no noun
    head, tail = "", number
    for million in lang.million_words:
        at = number.rfind(million)
        if at >= 0 and len(number[:at + len(million)]) > len(head):
            head, tail = number[:at + len(million)], number[at + len(million):]
    word = noun.lower().strip(".,;:!?)")
    feminine = is_feminine(noun, lang)
    invariable = word in lang.invariable_nouns
    forms = lang.feminine_forms if feminine and not invariable else lang.before_noun_forms
    if lang.code == "it" and not feminine and re.match(
            r"(?:s[^aeiouàèéìòù]|z|gn|ps|x|y)", noun.lower()):
        forms = ()  # uno studente, uno zaino
    for pattern, replacement in forms:
        tail = re.sub(pattern, replacement, tail.strip() if "^" in pattern else tail)
        if "^" in pattern and head:
            tail = " " + tail
    case = lang.case_prepositions.get(before.lower())
    if case and not head and not invariable and tail in ("ein", "eine"):
        gender = ("f" if feminine else
                  "m" if word in lang.common_masculine_nouns or word in lang.masculine_nouns
                  else "n")
        tail = lang.case_forms.get((case, gender), tail)
    return head + tail


def _next_word(text: str) -> str:
    """The word right after a number (its noun, when it has one)."""
    match = re.match(r"\s+([^\W\d_][\w'’-]*)", text)
    return match.group(1) if match else ""


def _percent_pattern(lang: Language) -> str:
    return rf"(?P<n>-?{_num(lang)})\s?%" if lang.code else ""


@_regex(_percent_pattern)
def _percent(match: re.Match[str], lang: Language) -> str:
    amount = _amount(match.group("n"), lang)
    if lang.code == "zh":
        return f"{_word(lang, 'percent')}{amount}"
    return f"{amount} {_word(lang, 'percent')}"


def _amount(text: str, lang: Language) -> str:
    if text.startswith("-"):
        space = "" if lang.code == "zh" else " "
        return f"{_word(lang, 'minus')}{space}{w.number(text[1:], lang)}"
    return w.number(text, lang)


@functools.cache
def _unit_alternatives(code: str, units: tuple[str, ...]) -> str:
    return "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))


def _range_pattern(lang: Language) -> str:
    if not lang.has_rules:
        return ""
    num = _num(lang)
    units = _unit_alternatives(lang.code, tuple(lang.units))
    unit = rf"(?:\s?(?P<unit>%|{units})(?![\w/]))?" if units else r"(?:\s?(?P<unit>%))?"
    return (rf"(?<![\w.,/-])(?P<a>{num})\s?[-–]\s?(?P<b>{num})(?![\w/-]|[.,]\d){unit}")


@_regex(_range_pattern)
def _range(match: re.Match[str], lang: Language) -> str | None:
    a, b = match.group("a"), match.group("b")
    to = _word(lang, "to")
    unit = match.group("unit")
    if (len(a) > 1 and a.startswith("0")) or (len(b) > 1 and b.startswith("0")):
        return None  # an identifier (44-0553234): its digits are read below
    if not unit and "," not in a + b and "." not in a + b and int(b) < int(a) and int(a) > 24:
        # ISO 639-1, RFC 2616-2: a name with a dash, not a range
        return f"{w.cardinal(int(a), lang)} {_word(lang, 'dash')} {w.cardinal(int(b), lang)}"
    if re.fullmatch(r"\d{4}", a) and re.fullmatch(r"\d{2,4}", b):
        if len(b) == 2:
            b = a[:2] + b
        if int(b) <= int(a):
            return None
        said = f"{w.year(int(a), lang)} {to} {w.year(int(b), lang)}"
    else:
        noun = lang.units[unit][1] if unit and unit != "%" else _next_word(
            match.string[match.end():])
        said = f"{agree(w.number(a, lang), noun, lang)} {to} {agree(w.number(b, lang), noun, lang)}"
    if unit == "%":
        said += " " + (_word(lang, "percent"))
    elif unit:
        said += " " + lang.units[unit][1]
    return said


def _unit_pattern(lang: Language) -> str:
    if not lang.units:
        return ""
    units = _unit_alternatives(lang.code, tuple(lang.units))
    return rf"(?P<n>-?{_num(lang)})\s?(?P<unit>{units})(?![\w/²³])"


@_regex(_unit_pattern)
def _unit(match: re.Match[str], lang: Language) -> str:
    value = w.number_value(match.group("n").lstrip("-"), lang)
    singular, plural = lang.units[match.group("unit")]
    return _apocope(f"{_amount(match.group('n'), lang)} {singular if value == 1 else plural}",
                    lang)


def _degree_pattern(lang: Language) -> str:
    return rf"(?P<n>-?{_num(lang)})\s?°(?![CF])" if lang.has_rules else ""


@_regex(_degree_pattern)
def _degree(match: re.Match[str], lang: Language) -> str:
    return f"{_amount(match.group('n'), lang)} {_word(lang, 'degrees')}"


# --- ordinals, decades, roman numerals -----------------------------------------------

def _ordinal_pattern(lang: Language) -> str:
    if not lang.ordinal_suffix:
        return ""
    return rf"(?<![\w.,])(?P<n>\d+)(?P<suffix>{lang.ordinal_suffix})"


@_regex(_ordinal_pattern)
def _ordinal(match: re.Match[str], lang: Language) -> str | None:
    suffix = match.group("suffix")
    n = int(match.group("n"))
    if lang.code == "en":
        expected = {1: "st", 2: "nd", 3: "rd"}.get(n % 10 if n % 100 not in (11, 12, 13) else 0,
                                                  "th")
        if suffix != expected:
            return None
    feminine = bool(re.search(r"ª|a$|as$|re$|res$|ère", suffix))
    said = w.ordinal(n, lang, feminine)
    after = match.string[match.end():]
    if lang.code == "de" and said.endswith("e"):
        said += _german_case(match.string[:match.start()], lang).replace("r", "")
    if lang.code == "es" and re.match(r"\s+(?!de\b|del\b)[a-záéíóúñ]", after):
        said = re.sub(r"\b(primer|tercer)o$", r"\1", said)  # el tercer piso
    if lang.code == "fr" and n > 1 and suffix.endswith("s"):
        said += "s"
    return said


@_regex(r"(?<![\w'’])(?:(?P<century>1\d|20)(?P<decade>\d0)|['’](?P<short>\d0))s\b")
def _decade(match: re.Match[str], lang: Language) -> str | None:
    if lang.code != "en":
        return None
    if match.group("short"):
        base = w.cardinal(int(match.group("short")), lang)
    elif match.group("decade") == "00":
        return f"{w.year(int(match.group('century') + '00'), lang)}s"
    else:
        base = w.year(int(match.group("century") + match.group("decade")), lang)
    head, _, last = base.rpartition(" ")
    last = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return f"{head} {last}".strip()


_ROMAN = re.compile(r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_ROMAN_VALUES = {"M": 1000, "D": 500, "C": 100, "L": 50, "X": 10, "V": 5, "I": 1}
_REGNAL_NAMES = frozenset(
    "Elizabeth Henry George Edward William Charles James Richard Louis Philip Felipe Carlos "
    "Luis Juan Enrique Alfonso Fernando Isabel John Paul Pius Leo Benedict Gregory Innocent "
    "Clement Alexander Nicholas Peter Frederick Friedrich Wilhelm Ludwig Karl Otto Heinrich "
    "Napoleon Catherine Mary Anne Victoria Pedro Manuel João Vittorio Umberto Francis "
    "Francisco François Jean Pierre Mohammed Hassan Ramses Amenhotep Thutmose Rama "
    "Benoît Benedikt Benedetto Bento Clemente Grégoire Gregorio Léon León Leone Pie Pío Pio "
    "Pablo Paolo Paulo Guillaume Henri Enrico Carlo Giovanni Juana Isabelle Élisabeth "
    "Jacques Jaime Giacomo Ricardo Riccardo Eduardo Edoardo Jorge Giorgio Georg".split())


def roman_value(text: str) -> int | None:
    """The value of a well-formed roman numeral, or None."""
    if not text or not _ROMAN.fullmatch(text):
        return None
    total = 0
    for i, ch in enumerate(text):
        value = _ROMAN_VALUES[ch]
        nxt = _ROMAN_VALUES[text[i + 1]] if i + 1 < len(text) else 0
        total += -value if value < nxt else value
    return total


def _roman_pattern(lang: Language) -> str:
    if not lang.has_rules or lang.code in ("zh", "ar"):
        return ""
    keys = "|".join(re.escape(k) for k in sorted(lang.roman_cardinal_after, key=len,
                                                  reverse=True))
    cardinal = rf"(?P<key>\b(?:{keys}) )(?P<c>[IVXLCDM]+)\b(?!['’]\w)" if keys else ""
    regnal = (r"(?P<name>\b[A-ZÉ][a-zäöüéèáíóúçîôûâêëïñãõ]{1,14} )(?P<r>[IVXLCDM]+)\b(?![’']\w)"
              r"(?:\.(?=\s+[a-zäöüß]))?")
    return f"{cardinal}|{regnal}" if cardinal else regnal


@_regex(_roman_pattern)
def _roman(match: re.Match[str], lang: Language) -> str | None:
    text = match.group("c") or match.group("r")
    value = roman_value(text)
    if value is None:
        return None
    if match.group("c"):
        key = match.group("key")
        if lang.code == "es" and key.strip() in ("siglo", "Siglo") and value <= 10:
            return key + w.ordinal(value, lang)
        return key + w.cardinal(value, lang)
    name = match.group("name")
    if not lang.regnal_ordinal or (name.strip() not in _REGNAL_NAMES
                                   and (len(text) < 2 or value > 30)):
        return None
    if lang.regnal_cardinal_from and value >= lang.regnal_cardinal_from:
        return name + w.cardinal(value, lang)
    said = w.ordinal(value, lang)
    if lang.code == "en":
        return f"{name}the {said}"
    if lang.code == "de":
        return f"{name}der {said[0].upper()}{said[1:]}"
    return name + said


# --- acronyms, slashes, symbols -------------------------------------------------------

def shouted(text: str) -> bool:
    """True when ``text`` is words mostly in capitals (a shouted heading, not acronyms);
    one or two words ("FAQ", "RFC7231, RFC2616") are acronyms."""
    letters = [c for c in text if c.isalpha()]
    if len(re.findall(r"[^\W\d_]+", text)) < 3:
        return False
    return not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters)


def acronyms(keep: frozenset[str], loud: bool = False) -> Finder:
    """Acronyms said letter by letter (``CBT`` -> ``C B T``, in English ``C.B.T``;
    ``RFC7235``; ``APIs`` -> ``A.P.I's``: :attr:`Language.letter_joiner`) unless said as
    a word (the language's table) or the lexicon has them (it has the last word).
    ``loud``: the whole sentence is in capitals, so nothing is an acronym."""
    def find(text: str, lang: Language) -> Iterator[tuple[int, int, str]]:
        if not lang.has_rules or loud:
            return
        for match in re.finditer(r"\b([A-Z]{2,6})(s?)(?:\b|(?=\d))", text):
            word = match.group(1)
            if word in keep or word + match.group(2) in keep or word in lang.acronym_words:
                continue
            vowels = sum(c in "AEIOUY" for c in word)
            if len(word) >= 5 and vowels >= 2 and vowels >= 0.3 * len(word):
                continue  # README, VISION, ASCII, UNESCO: said as a word
            if roman_value(word) is not None and len(word) > 1 and word in ("II", "III", "IV",
                                                                             "VI", "VII", "VIII",
                                                                             "IX", "XI", "XII"):
                continue
            plural = lang.acronym_plural if match.group(2) else ""
            yield match.start(), match.end(), lang.letter_joiner.join(word) + plural
    return find


@_regex(r"(?<![\w/])(?:~|\.{1,2})?/?(?:[\w.-]+/)+[\w.-]+(?<!\.)"
        r"|(?<![\w/])/(?:[\w.-]+/?)+")
def _path(match: re.Match[str], lang: Language) -> str | None:
    text = match.group(0)
    parts = text.split("/")
    is_path = text.startswith(("/", "~", ".")) or len(parts) > 2 or any(
        re.search(r"\w\.[A-Za-z]{1,4}$", p) for p in parts)
    if not is_path or not lang.has_rules:
        return None
    slash, dot = _word(lang, "slash"), _word(lang, "dot")
    said = []
    for part in parts:
        part = part.replace(".", f" {dot} ").replace("_", " ").replace("~", "tilde")
        part = re.sub(r"\d+", lambda m: f" {w.cardinal(int(m.group(0)), lang)} ", part)
        said.append(" ".join(part.split()))
    spoken = f" {slash} ".join(p for p in said if p)
    return f"{slash} {spoken}" if text.startswith("/") else spoken


@_regex(r"(?<=[^\W\d_])/(?=[^\W\d_])")
def _word_slash(match: re.Match[str], lang: Language) -> str:
    """and/or, his/her: the slash is "or"; and/or itself is "and or"."""
    before = match.string[:match.start()].rsplit(" ", 1)[-1]
    after = match.string[match.end():].split(" ", 1)[0]
    or_word = _word(lang, "or")
    if re.sub(r"\W", "", after).lower() == or_word or re.sub(r"\W", "", before).lower() == or_word:
        return " "
    return f" {or_word} "


@_regex(r"\s?&\s?")
def _ampersand(match: re.Match[str], lang: Language) -> str:
    return f" {_word(lang, 'and')} "


_MATH = {"+": "plus", "=": "equals", "×": "times", "÷": "over", "±": "plus_minus",
         "≈": "approx", "≤": "less_eq", "≥": "greater_eq", "<": "less", ">": "greater",
         "−": "minus", "≠": "not_equal"}


@_regex(r"(?<=[\w)])\s?([+=×÷±≈≤≥−≠])\s?(?=[\w(-])|(?<=\s)([+=×÷±≈≤≥<>−≠])(?=\s)"
        r"|(?<!\S)([±≈~])(?=\d)")
def _math(match: re.Match[str], lang: Language) -> str:
    sign = match.group(1) or match.group(2) or match.group(3)
    if sign == "~":
        return f"{_word(lang, 'approx')} "
    if sign == "≠":
        return " not equal to " if lang.code == "en" else f" {_word(lang, 'equals')} "
    return f" {_word(lang, _MATH[sign])} "


def _times_pattern(lang: Language) -> str:
    return r"(?<=\d)\s?[x×]\s?(?=\d)" if lang.has_rules else ""


@_regex(_times_pattern)
def _times(match: re.Match[str], lang: Language) -> str:
    return f" {_word(lang, 'by')} "


_SYMBOL_NAMES = {"|": "pipe", ">": "greater", "<": "less", "*": "asterisk", "\\": "backslash",
                 "~": "tilde", "^": "caret", "_": "underscore", "#": "hash", "=": "equals",
                 "+": "plus", "/": "slash", "&&": "and", "||": "or", ">>": "greater",
                 "<<": "less", ">=": "greater_eq", "<=": "less_eq", "==": "equals",
                 "!=": "not_equal", "->": "to", "=>": "to"}


@_regex(r"(?<!\S)(\|\||&&|>>|<<|>=|<=|==|!=|->|=>|[|><*\\~^_#=+/])(?!\S)"
        r"|(?<=[\"“‘'])(\|\||&&|>=|<=|==|!=|[|><*\\~^_#=+/])(?=[\"”’'])"
        r"|[\"“‘']([@$%&{}\[\]()!?;:,.`-])[\"”’']")
def _symbol(match: re.Match[str], lang: Language) -> str | None:
    """A symbol standing on its own (a sentence about the ``>`` operator) is said by name,
    and so is one quoted ("contains unescaped '@'")."""
    if not lang.has_rules:
        return None
    if match.group(3):
        return say_code(match.group(3), lang)
    sign = match.group(1) or match.group(2)
    key = _SYMBOL_NAMES[sign]
    if key == "not_equal":
        return "not equal to" if lang.code == "en" else _word(lang, "equals")
    said = _word(lang, key)
    if sign in (">>", "<<") and lang.code == "en":
        said = "double " + ("greater than" if sign == ">>" else "less than")
    return said


# --- numbers: whatever is left ---------------------------------------------------------

def _year_pattern(lang: Language) -> str:
    if lang.code == "zh":
        return r"(\d{4})(?=年)"
    # A year ends a clause as often as a sentence: "(Smith, 2019)", "Smith 2019, p. 3",
    # "in 2019, we"; a citation may add a letter ("Smith 2019a").
    return (r"(?<![\w.,:/-])(1[1-9]\d\d|20\d\d)(?P<letter>[a-z](?![\w]))?"
            r"(?![\w:/-]|[.,]\d)") if lang.year_form else ""


@_regex(_year_pattern)
def _year(match: re.Match[str], lang: Language) -> str:
    if lang.code == "zh":
        return "".join(w.cardinal(int(d), lang) for d in match.group(1))  # 二零二六年
    letter = match.group("letter")
    return w.year(int(match.group(1)), lang) + (f" {letter}" if letter else "")


def _cardinal_pattern(lang: Language) -> str:
    # A minus sign after a word is a hyphen (COVID-19), but not after a Chinese one (是-5).
    return rf"(?P<sign>(?<![.,]|[^\W\u2e80-\u9fff])-)?{_num(lang)}" if lang.has_rules else ""


@_regex(_cardinal_pattern)
def _number(match: re.Match[str], lang: Language) -> str:
    written = match.group(0)
    if len(written) > 2 and written.startswith("0") and written.isdigit():
        return w.digits(written, lang)  # 0553234, 007: an identifier, digit by digit
    said = _amount(written, lang)
    if said == "二" and match.string[match.end():match.end() + 1] in _word(lang, "classifiers"):
        return "两"  # 两个苹果: two of something is 两 before a measure word
    noun = _next_word(match.string[match.end():])
    if not noun:
        return said
    before = re.search(r"([^\W\d_]+)\s+$", match.string[:match.start()])
    # veintiún libros, veintiuna personas; mit einer Woche
    return agree(said, noun, lang, before.group(1) if before else "")


def _digit_pattern(lang: Language) -> str:
    return r"\d+" if lang.has_rules else ""


@_regex(_digit_pattern)
def _digits(match: re.Match[str], lang: Language) -> str:
    # Digits inside a word (mp3, COVID-19's 19 once split): a number, spaced.
    return f" {w.cardinal(int(match.group(0)), lang)} "


@_regex(r"[٠-٩۰-۹]+")
def _eastern_digits(match: re.Match[str], lang: Language) -> str:
    value = int("".join(str(ord(c) - (0x660 if c <= "٩" else 0x6F0)) for c in match.group(0)))
    return w.cardinal(value, lang) if lang.has_rules else str(value)


@functools.lru_cache(maxsize=256)
def rules_for(keep: frozenset[str], loud: bool = False) -> tuple[Rule, ...]:
    """Every rule, in the order it applies (earlier rules win their spans)."""
    def digits(name: str, find: Finder) -> Rule:
        return Rule(name, find, needs_digit=True)

    return (
        Rule("code", _code), Rule("url", _url), Rule("hexadecimal", _hexadecimal),
        Rule("e-mail", _email), Rule("handle", _handle),
        Rule("hashtag", _hashtag), Rule("emoji", _emoji),
        Rule("abbreviation", _abbreviations), digits("phone", _phone),
        Rule("section sign", _section_sign), Rule("section sign", _lone_section_sign),
        digits("date", _numeric_date), digits("version", _version),
        digits("date", _written_date),
        digits("time", _time), digits("time", _french_time), digits("money", _money),
        digits("range", _range), digits("percent", _percent), digits("unit", _unit),
        digits("unit", _degree), digits("date or fraction", _fraction_or_date),
        digits("number sign", _number_sign), digits("ordinal", _ordinal),
        digits("decade", _decade), Rule("roman numeral", _roman),
        Rule("acronym", acronyms(keep, loud)), Rule("path", _path), Rule("slash", _word_slash),
        Rule("symbol", _symbol), Rule("ampersand", _ampersand), Rule("math", _times),
        Rule("math", _math), digits("number", _eastern_digits), digits("year", _year),
        digits("number", _number), digits("number", _digits),
    )
