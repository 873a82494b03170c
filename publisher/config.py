"""Book metadata from front matter: load, validate, collect every problem.

Every problem is reported at once, each naming the key, the value found and
what is expected, so an author fixes the whole front matter in one pass.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import unicodedata
import uuid
from collections.abc import Callable
from difflib import SequenceMatcher
from pathlib import Path

import langcodes

from . import frontmatter
from .errors import ConfigError
from .identify import identify_language
from .model import BookMeta, Manuscript
from .speech import engine_names
from .speech.choose import piper_voice_language, voice_table

#: Scripts written right to left; a book in one of these gets dir="rtl".
RTL_LANGUAGES = frozenset({"ar", "arc", "dv", "fa", "ha", "he", "khw", "ks", "ku", "ps",
                           "sd", "syr", "ug", "ur", "yi"})

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: The role of the book's own voice in ``voices``.
NARRATOR = "narrator"
#: A role: a name a listener could be told (it is a WebVTT speaker too), no markup.
_ROLE_RE = re.compile(r"^[^\W\d_][\w .'-]{0,39}$")

KNOWN_KEYS = (
    "title", "subtitle", "author", "creator", "publisher", "language", "identifier",
    "date", "rights", "description", "subjects", "content_note", "cover", "cover_alt",
    "split_level", "slug", "base_url", "engine", "voice", "rate", "pronunciations",
    "lexicon", "fallback", "daisy", "voices",
)
#: Keys that static-site generators and editors put in front matter (Jekyll,
#: Hugo, MkDocs, Docusaurus, Eleventy, cSpell ...): about a web page, not a
#: book. They are reported once as a note, not warned about, so ``--strict``
#: does not fail a manuscript written for a site. A key missing here still
#: gets the "unknown key" warning, which catches typos of our own keys.
SITE_KEYS = frozenset({
    "layout", "permalink", "order", "weight", "nav_order", "nav_exclude", "parent",
    "grand_parent", "has_children", "has_toc", "class", "classes", "related", "image",
    "images", "thumbnail", "banner", "redirect_from", "redirect_to", "aliases", "draft",
    "published", "sidebar", "sidebar_position", "sidebar_label", "toc", "toc_depth",
    "hide", "template", "menu", "menus", "comments", "share", "search", "featured",
    "last_modified_at", "lastmod", "modified", "updated", "cspell", "proofread",
    "type", "section", "series", "canonical_url", "url", "og_image", "social_image",
    "pagination_label", "pagination_next", "pagination_prev", "custom_edit_url",
    "eleventynavigation", "eleventyexcludefromcollections", "translationkey",
})
log = logging.getLogger(__name__)

#: The DAISY editions a book can ask for (front matter ``daisy``, ``--daisy``).
DAISY_FORMATS = ("202", "3")


def slugify(text: str, max_length: int = 48) -> str:
    """ASCII, lower-case, hyphenated; cut at a hyphen; never empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0] or slug[:max_length]
    return slug or "section"


def load_meta(manuscript: Manuscript, overrides: dict[str, object] | None = None,
              ) -> tuple[BookMeta, tuple[str, ...]]:
    """Validate the front matter (plus command-line overrides) into BookMeta.

    Returns the metadata and warnings (unknown keys). Raises ConfigError with
    every problem found.
    """
    problems: list[str] = []
    warnings: list[str] = []
    path = manuscript.path
    # What other tools call a key, and what XML cannot hold, first: the rest of
    # the checks see only the publisher's keys and values a book can carry.
    fm, renamed = frontmatter.canonical_keys(manuscript.front_matter, str(path))
    fm, cleaned = frontmatter.clean_values(fm, str(path))
    fm = frontmatter.plain_values(fm)
    warnings.extend(renamed + cleaned)
    for key, value in (overrides or {}).items():
        if value is not None:
            fm[key] = value

    site_keys = sorted(k for k in fm if k not in KNOWN_KEYS and k.lower() in SITE_KEYS)
    if site_keys:
        log.info("%s: front matter for a web site, not used in the book: %s", path,
                 ", ".join(site_keys))
    for key in sorted(fm):
        if key not in KNOWN_KEYS and key not in site_keys:
            close = [k for k in KNOWN_KEYS if _similar(k, key)]
            hint = f" Did you mean '{close[0]}'?" if close else ""
            warnings.append(f"{path}: unknown front matter key '{key}' is ignored.{hint}")

    def text(key: str, required: bool = False, default: str = "") -> str:
        value = fm.get(key)
        if value is None:
            if required:
                problems.append(f"'{key}' is missing; expected a text, e.g. {key}: My Book.")
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, _dt.date):
            value = value.isoformat()
        if not isinstance(value, str):
            problems.append(f"'{key}' is {_show(value)}; expected a text.")
            return default
        value = value.strip()
        if required and not value:
            problems.append(f"'{key}' is empty; expected a text.")
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = fm.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip(),) if value.strip() else ()
        if isinstance(value, list):
            # pandoc's "author: [{name: ..., affiliation: ...}]" form names a person too.
            value = [v.get("name") if isinstance(v, dict) else v for v in value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(v.strip() for v in value if v.strip())
        problems.append(f"'{key}' is {_show(value)}; expected a text or a list of texts.")
        return ()

    title = text("title", required="title" in fm)
    if not title and "title" not in fm:
        title = _title_from_text(manuscript, warnings)
    subtitle = text("subtitle")
    authors = texts("author") or texts("creator")
    language = text("language", default="")
    if not language and "language" not in fm:
        language = _language_from_text(manuscript, warnings)
    if not language:
        problems.append("'language' is empty; expected a BCP 47 language tag such as "
                        "en, en-GB, fr or ar.")
    elif not _valid_language(language):
        problems.append(f"'language' is {language!r}, which is not a BCP 47 language tag; "
                        "expected e.g. en, en-US, fr, ar.")
    identifier = text("identifier")
    if not identifier:
        # A stable default: the same title and language always give the same id.
        identifier = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                  f"publisher:{title}:{language}"))
        warnings.append(f"{path}: no 'identifier' in the front matter; using {identifier}. "
                        "Add it to the front matter so it never changes.")
    date = text("date")
    if re.match(r"^\d{4}-\d{2}-\d{2}[T ]", date):
        date = date[:10]  # a time of day: the day is what a book's date is
    if date and not _DATE_RE.match(date):
        problems.append(f"'date' is {date!r}; expected YYYY, YYYY-MM or YYYY-MM-DD.")

    split_level = fm.get("split_level", 2)
    if isinstance(split_level, str) and split_level.strip().isdigit():
        split_level = int(split_level)  # from meta lines, where every value is text
    if isinstance(split_level, bool) or not isinstance(split_level, int) or not 1 <= split_level <= 6:
        problems.append(f"'split_level' is {_show(split_level)}; expected a whole number "
                        "from 1 to 6 (the heading level that starts a new section).")
        split_level = 2

    slug = text("slug") or slugify(path.stem, 80)
    if not _SLUG_RE.match(slug):
        problems.append(f"'slug' is {slug!r}; expected lower-case letters, digits and "
                        "hyphens only (it names the output folder).")
        slug = slugify(slug)

    base_url = text("base_url")
    if base_url and not re.match(r"^https?://[^\s/]+", base_url):
        problems.append(f"'base_url' is {base_url!r}; expected an http:// or https:// "
                        "address where the output folder will be published.")

    engine = text("engine")
    known_engines = engine_names()
    if engine and engine not in known_engines:
        problems.append(f"'engine' is {engine!r}; expected one of {', '.join(known_engines)}.")
    fallback = text("fallback")
    if fallback and fallback not in known_engines:
        problems.append(f"'fallback' is {fallback!r}; expected one of "
                        f"{', '.join(known_engines)}.")

    rate = fm.get("rate", 1.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.5 <= rate <= 2.0:
        problems.append(f"'rate' is {_show(rate)}; expected a number from 0.5 to 2.0 "
                        "(1.0 is the voice's normal speed).")
        rate = 1.0

    pronunciations: list[tuple[str, str]] = []
    raw_pron = fm.get("pronunciations")
    if raw_pron is not None:
        if not isinstance(raw_pron, dict):
            problems.append(f"'pronunciations' is {_show(raw_pron)}; expected 'word: how to "
                            "say it' lines, e.g.\n    pronunciations:\n      NSSI: N S S I")
        else:
            for word, said in raw_pron.items():
                if not isinstance(said, (str, int, float)) or not str(word).strip():
                    problems.append(f"'pronunciations' entry {word!r} is {_show(said)}; "
                                    "expected a text saying how the word is pronounced.")
                    continue
                pronunciations.append((str(word).strip(), str(said).strip()))

    daisy = _daisy_formats(fm.get("daisy", list(DAISY_FORMATS)), problems)
    # --voice overrides the narrator of ``voices`` as it does ``voice``: no conflict.
    asked_voice = "" if (overrides or {}).get("voice") is not None else text("voice")
    voices = _voices(fm.get("voices"), language, asked_voice, path, problems)
    cover = _path_key(fm, "cover", path, problems)
    lexicon = _path_key(fm, "lexicon", path, problems)
    if lexicon is None and path.with_suffix(".pls").is_file():
        lexicon = path.with_suffix(".pls")

    if problems:
        # A misspelt key is often the cause of a problem: its hint goes with them.
        hints = [w.split(": ", 1)[1] for w in warnings if "Did you mean" in w]
        raise ConfigError(problems + hints, where=str(path))

    primary = language.split("-")[0].lower()
    meta = BookMeta(
        title=title, subtitle=subtitle, authors=authors, publisher=text("publisher"),
        language=language, identifier=identifier, slug=slug, date=date,
        rights=text("rights"), description=text("description"),
        subjects=texts("subjects"), content_note=text("content_note"), cover=cover,
        cover_alt=text("cover_alt"), split_level=split_level,
        direction="rtl" if primary in RTL_LANGUAGES else "ltr", base_url=base_url.rstrip("/"),
        engine=engine, voice=text("voice"), rate=float(rate),
        pronunciations=tuple(pronunciations), lexicon=lexicon, fallback=fallback,
        daisy=daisy, voices=voices,
    )
    return meta, tuple(warnings)


def _title_from_text(manuscript: Manuscript, warnings: list[str]) -> str:
    """The single top heading of the text, else a title made from the file name."""
    found = frontmatter.headings(manuscript.text)
    path = manuscript.path
    if found:
        top = min(level for level, _ in found)
        tops = [title for level, title in found if level == top]
        if len(tops) == 1:
            # "# Title: Ten Days in a Mad-House" names the title it holds.
            title = re.sub(r"^title\s*:\s*", "", tops[0], flags=re.I) or tops[0]
            warnings.append(f"{path}: no 'title' in the front matter; using the top "
                            f"heading, '{title}'. Add 'title: ...' to the front matter "
                            "to set another.")
            return title
    title = " ".join(re.sub(r"[-_]+", " ", path.stem).split()) or path.stem or "Untitled"
    title = title[:1].upper() + title[1:]
    warnings.append(f"{path}: no 'title' in the front matter and no single top heading; "
                    f"using the file name, '{title}'. Add 'title: ...' to the front matter.")
    return title


def _language_from_text(manuscript: Manuscript, warnings: list[str]) -> str:
    """The language identified from the text (py3langid), else English, with a warning."""
    path = manuscript.path
    found = identify_language(manuscript.text)
    if found is None:
        warnings.append(f"{path}: no 'language' in the front matter and the text is too "
                        "short to tell; using 'en'. Add e.g. 'language: en' to the front "
                        "matter.")
        return "en"
    tag, confidence = found
    warnings.append(f"{path}: no 'language' in the front matter; the text reads as "
                    f"'{tag}' ({confidence:.0%} sure), so the book is in '{tag}'. Add "
                    f"'language: {tag}' (or the right tag) to the front matter to set it.")
    return tag
def _daisy_formats(value: object, problems: list[str]) -> tuple[str, ...]:
    """``daisy: [202, 3]`` (or ``202,3``, ``3``, ``false``/``none``/``[]`` for none)."""
    if value is False or value is None:
        return ()
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    names = [str(item).strip().replace(".", "") for item in items]
    if names in (["none"], ["false"], ["no"]):
        return ()
    wrong = [name for name in names if name not in DAISY_FORMATS]
    if wrong or isinstance(value, bool):
        problems.append(f"'daisy' is {_show(value)}; expected a list of DAISY editions from "
                        "202 (DAISY 2.02) and 3 (DAISY 3), e.g. 'daisy: [202, 3]', "
                        "or 'daisy: false' for none.")
        return ()
    return tuple(f for f in DAISY_FORMATS if f in names)


def _voices(value: object, language: str, voice: str, source: Path,
            problems: list[str]) -> tuple[tuple[str, str], ...]:
    """``voices: {narrator: af_heart, quote: am_michael}``: (role, voice) pairs, checked.

    Each voice must be one ``publisher voices`` lists (or a Piper ``.onnx`` file
    beside the book) and speak the book's language; every problem is collected.
    """
    if value is None:
        return ()
    example = "e.g.\n    voices:\n      narrator: af_heart\n      quote: am_michael"
    if not isinstance(value, dict) or not value:
        problems.append(f"'voices' is {_show(value)}; expected 'role: voice' lines, {example}")
        return ()
    known = {entry.voice: entry for entry in voice_table()}
    primary = language.split("-")[0].lower()
    found: list[tuple[str, str]] = []
    for raw_role, raw_name in value.items():
        role = str(raw_role).strip()
        if not _ROLE_RE.match(role):
            problems.append(f"'voices' role {role!r} is not a name; expected letters, digits, "
                            "spaces, dots, apostrophes or hyphens (at most 40, starting with "
                            "a letter), e.g. quote or Alice.")
            continue
        if not isinstance(raw_name, str) or not raw_name.strip():
            problems.append(f"'voices' entry '{role}' is {_show(raw_name)}; expected a voice "
                            f"name from 'publisher voices', {example}")
            continue
        name = raw_name.strip()
        if name.endswith(".onnx"):
            target = resolve_inside(source.parent, name)
            if target is None or not target.is_file():
                problems.append(f"'voices' entry '{role}' is {name!r}, but there is no such "
                                f"Piper voice file in {source.parent}. Check the file name.")
                continue
            spoken = piper_voice_language(target)
            name = str(target)
        elif name in known:
            spoken = known[name].language
        else:
            close = [v for v in known if _similar(v, name)]
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problems.append(f"'voices' entry '{role}' is {name!r}, which is not a voice "
                            f"publisher knows.{hint} See 'publisher voices --language "
                            f"{language or 'en'}' for the voices of the book's language.")
            continue
        if spoken and language and spoken.split("-")[0].lower() != primary:
            problems.append(f"'voices' entry '{role}' is {name!r}, which speaks '{spoken}', "
                            f"and the book's language is '{language}': every voice of "
                            "'voices' speaks the book's language (a passage in another "
                            "language gets a voice of its own; see the README).")
            continue
        if any(known_role.casefold() == role.casefold() for known_role, _ in found):
            problems.append(f"'voices' names the role '{role}' twice; give each role once.")
            continue
        found.append((role, name))
    narrator = dict(found).get(NARRATOR)
    if narrator and voice and voice != narrator:
        problems.append(f"'voice' is {voice!r} and 'voices' gives the narrator {narrator!r}; "
                        "keep one of them (the narrator's voice is the book's voice).")
    return tuple(found)


def resolve_inside(base: Path, relative: str) -> Path | None:
    """``relative`` resolved against folder ``base``; None if it escapes it."""
    if not relative or relative.startswith(("/", "\\")) or re.match(r"^[a-zA-Z]:", relative):
        return None
    root = base.resolve()
    target = (root / relative).resolve()  # resolve() follows symlinks: links out are caught
    if target != root and root not in target.parents:
        return None
    return target


def _path_key(fm: dict[str, object], key: str, source: Path,
              problems: list[str]) -> Path | None:
    value = fm.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        problems.append(f"'{key}' is {_show(value)}; expected a file path relative to "
                        f"{source.name}.")
        return None
    target = resolve_inside(source.parent, value)
    if target is None:
        problems.append(f"'{key}' is {value!r}, which is outside the book's folder; put the "
                        f"file in {source.parent} (or below it) and give a relative path.")
        return None
    if not target.is_file():
        problems.append(f"'{key}' is {value!r}, but there is no such file next to "
                        f"{source.name}. Check the file name.")
        return None
    return target


def _valid_language(tag: str) -> bool:
    try:
        if not langcodes.tag_is_valid(tag):
            return False
        return bool(langcodes.Language.get(tag).is_valid())
    except (ValueError, LookupError):
        return False


def _show(value: object) -> str:
    kind: dict[type, str] = {list: "a list", dict: "a mapping", bool: "true/false"}
    for typ, name in kind.items():
        if isinstance(value, typ):
            return f"{name} ({value!r})" if typ is bool else name
    return repr(value)


def _similar(a: str, b: str) -> bool:
    similar: Callable[[str, str], float]
    similar = lambda x, y: SequenceMatcher(None, x, y).ratio()  # noqa: E731
    return similar(a, b) > 0.75
