"""Numbers as words, per language: num2words where it has the language.

num2words spells cardinals, ordinals and years in every language we narrate
but Chinese; Chinese numerals are simple and regular, so they are spelled
here. Babel supplies the month names and the number symbols (CLDR).
"""

from __future__ import annotations

import functools
import re

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from num2words import num2words

from .languages import Language

_ZH_DIGITS = "零一二三四五六七八九"
_ZH_UNITS = ((10**8, "亿"), (10**4, "万"))


def cardinal(value: int, lang: Language) -> str:
    """``value`` as a cardinal number in words."""
    if value < 0:
        return f"{lang.words.get('minus', 'minus')} {cardinal(-value, lang)}"
    if lang.code == "zh":
        return _zh(value)
    words = " ".join(str(num2words(value, lang=lang.num2words or "en")).replace(",", " ").split())
    # num2words writes "one thousand, two hundred": the comma is not a pause; and
    # Arabic "و ستة": the conjunction is written on the word it joins (وستة).
    return re.sub(r"(?<!\S)و (?=\S)", "و", words) if lang.code == "ar" else words


def ordinal(value: int, lang: Language, feminine: bool = False) -> str:
    """``value`` as an ordinal number in words ("twenty-first", "premier")."""
    if lang.code == "zh":
        return "第" + _zh(value)
    words = str(num2words(value, lang=lang.num2words or "en", to="ordinal"))
    if feminine:
        if lang.code in ("es", "pt", "it"):
            words = " ".join(w[:-1] + "a" if w.endswith("o") else w for w in words.split())
        elif lang.code == "fr" and words == "premier":
            words = "première"
    return words


def year(value: int, lang: Language) -> str:
    """``value`` as a year ("nineteen ninety", "neunzehnhundertneunzig")."""
    if lang.year_form and 1000 <= value <= 2999:
        words = str(num2words(value, lang=lang.num2words, to="year"))
        return " ".join(words.replace(",", " ").split())
    return cardinal(value, lang)


def digits(text: str, lang: Language) -> str:
    """Each digit of ``text`` as a word (phone numbers, decimals in some languages)."""
    return " ".join(cardinal(int(d), lang) for d in text if d.isdigit())


def decimal(whole: str, fraction: str, lang: Language) -> str:
    """``whole`` point ``fraction``, the fraction said as the language says it."""
    head = cardinal(int(whole or "0"), lang)
    if lang.code == "zh":
        return head + "点" + "".join(_ZH_DIGITS[int(d)] for d in fraction)
    if lang.decimal_mode == "number" and not fraction.startswith("0"):
        tail = cardinal(int(fraction), lang)
    elif lang.decimal_mode == "number":
        zeros = len(fraction) - len(fraction.lstrip("0"))
        rest = fraction.lstrip("0")
        tail = " ".join([cardinal(0, lang)] * zeros + ([cardinal(int(rest), lang)] if rest else []))
    else:
        tail = digits(fraction, lang)
    return f"{head} {lang.decimal_word} {tail}"


@functools.cache
def month_names(code: str) -> dict[str, int]:
    """Month name (wide and abbreviated, lowercase) -> 1..12, from CLDR via Babel."""
    names: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for number, name in babel_dates.get_month_names(width, context, locale=code).items():
                names.setdefault(name.lower().rstrip("."), number)
    return names


def month_name(number: int, code: str) -> str:
    """The wide month name in ``code`` (CLDR)."""
    name = babel_dates.get_month_names("wide", "format", locale=code)[number]
    # CLDR capitalizes months only where the language does.
    return str(name)


@functools.cache
def separators(code: str) -> tuple[str, str]:
    """(decimal symbol, group symbols) of the language, from CLDR via Babel."""
    decimal_symbol = babel_numbers.get_decimal_symbol(code)
    group = babel_numbers.get_group_symbol(code)
    groups = group + (" \u00a0\u202f" if group in ("\u00a0", "\u202f", " ") else "")
    if code == "de" or code in ("es", "it", "pt"):
        groups += "\u202f\u00a0"
    return decimal_symbol, groups


@functools.cache
def number_pattern(code: str) -> str:
    """A regular expression for a number written the way ``code`` writes it."""
    decimal_symbol, groups = separators(code)
    group_class = "[" + re.escape(groups) + "]"
    dec = re.escape(decimal_symbol)
    return (rf"(?<![\d{dec}])(?:\d{{1,3}}(?:{group_class}\d{{3}})+|\d+)(?:{dec}\d+)?(?![\d])")


def parse_number(text: str, code: str) -> tuple[str, str]:
    """(whole digits, fraction digits) of a number written in ``code``'s way."""
    decimal_symbol, groups = separators(code)
    whole, _, fraction = text.partition(decimal_symbol)
    for group in groups:
        whole = whole.replace(group, "")
    return whole, fraction


def number(text: str, lang: Language) -> str:
    """A written number (``1,234.5`` in English, ``1.234,5`` in German) in words."""
    whole, fraction = parse_number(text, lang.code)
    if fraction:
        return decimal(whole, fraction, lang)
    return cardinal(int(whole), lang)


def number_value(text: str, lang: Language) -> float:
    """The numeric value of a written number, for singular or plural."""
    whole, fraction = parse_number(text, lang.code)
    return float(f"{whole}.{fraction or '0'}")


def _zh(value: int) -> str:
    """A non-negative integer in Chinese numerals (一千二百三十四)."""
    if value == 0:
        return "零"
    for unit, name in _ZH_UNITS:
        if value >= unit:
            high, low = divmod(value, unit)
            tail = "" if low == 0 else ("零" if low < unit // 10 else "") + _zh(low)
            return _zh(high) + name + tail
    out = ""
    zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d, value = divmod(value, unit)
        if d:
            if zero and out:
                out += "零"
            out += ("" if (unit == 10 and d == 1 and not out) else _ZH_DIGITS[d]) + name
            zero = False
        elif out:
            zero = True
    return out
