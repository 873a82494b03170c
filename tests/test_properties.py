"""Property tests: any Markdown either builds a well-formed EPUB or fails cleanly."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from publisher.build import build
from publisher.errors import PublisherError
from publisher.options import BuildOptions

FRONT = ("---\ntitle: Property\nlanguage: en\n"
         "identifier: urn:uuid:00000000-0000-4000-8000-0000000000aa\n---\n\n")

FRAGMENTS = [
    "# ", "## ", "### ", "#### ", "* ", "- ", "1. ", "> ", "```\n", "    ", "| a | b |\n|---|---|\n| ",
    "*", "**", "_", "`", "[link](#)", "[x](https://example.org)", "![alt](missing.png)",
    "<script>alert(1)</script>", "<b onclick='x()'>b</b>", "<a href='javascript:alert(1)'>j</a>",
    "<iframe src='https://e.org'></iframe>", "<!DOCTYPE x [<!ENTITY e 'boom'>]>", "&e;",
    "<svg><script>1</script></svg>", "<img src=x onerror=alert(1)>", "[^1]", "\n[^1]: note\n",
    "e.g. ", "and/or ", "50% ", "Dr. Who. ", "“quoted.” ", "…", "\u200b", "\u202e", "&amp; ",
    "<", ">", "&", "\n", "\n\n", "Hello. ", "World! ", "Why? ", "ünïcödé ", "مرحبا. ", "日本語。",
]


def _markdown() -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(min_size=0, max_size=12))
    return st.lists(piece, min_size=0, max_size=25).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_markdown())
@example("$<a href='javascript:alert(1)'>j</a>$")  # HTML as TeX: only a formula's alttext
def test_any_markdown_builds_well_formed_xhtml_or_fails_with_our_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "book.md"
        source.write_text(FRONT + text, encoding="utf-8")
        try:
            result = build(source, BuildOptions(out_root=folder / "out", audio=False))
        except PublisherError as exc:
            assert str(exc)
            return
        epub = result.out_dir / f"{result.slug}.epub"
        with zipfile.ZipFile(epub) as archive:
            for name in archive.namelist():
                if not name.endswith(".xhtml"):
                    continue
                data = archive.read(name)
                parser = etree.XMLParser(resolve_entities=False, no_network=True)
                root = etree.fromstring(data, parser)
                ids = root.xpath("//@id")
                assert len(ids) == len(set(ids)), name
                # Nothing a reading system would run: no script element, no handler,
                # no javascript: link. (The words may still be there as text: TeX
                # source "$<a href='javascript:...'>$" is a formula's alttext.)
                assert not root.xpath("//*[local-name() = 'script']"), name
                assert not root.xpath("//@*[starts-with(local-name(), 'on')]")
                links = root.xpath("//@*[local-name() = 'href' or local-name() = 'src' "
                                   "or local-name() = 'action' or local-name() = 'data']")
                assert not [v for v in links
                            if "javascript:" in "".join(str(v).lower().split())], name


def _yaml_value() -> st.SearchStrategy[str]:
    """A YAML double-quoted scalar: any text, control characters and lone surrogates
    written as the escapes a YAML file (or pasted text) carries them in."""
    def escape(text: str) -> str:
        out = []
        for ch in text:
            code = ord(ch)
            if ch in '"\\':
                out.append("\\" + ch)
            elif code < 0x20 or 0x7f <= code <= 0x9f or 0xd800 <= code <= 0xdfff \
                    or code in (0xfffe, 0xffff):
                out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'

    pieces = st.one_of(st.text(max_size=12),
                       st.sampled_from(["&oacute;", "&amp;", "*x*", "[a](b)", "<b>", "`c`",
                                        "\x01", "\x7f", "\ud800", "\ufffe", "# ", "1. "]))
    return st.lists(pieces, max_size=6).map("".join).map(escape)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_yaml_value(), author=_yaml_value(), description=_yaml_value(),
       key=st.sampled_from(["title", "lang", "authors", "summary", "subtitle", "rights"]))
def test_any_front_matter_value_builds_well_formed_or_fails_with_our_error(
        title, author, description, key):
    front = (f"---\n{key}: {title}\nauthor: {author}\ndescription: {description}\n"
             "identifier: urn:uuid:00000000-0000-4000-8000-0000000000ab\n---\n\nSome text.\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "book.md"
        source.write_text(front, encoding="utf-8", errors="surrogatepass")
        try:
            result = build(source, BuildOptions(out_root=folder / "out", audio=False))
        except PublisherError as exc:
            assert str(exc)
            return
        epub = result.out_dir / f"{result.slug}.epub"
        with zipfile.ZipFile(epub) as archive:
            for name in archive.namelist():
                if name.endswith((".xhtml", ".opf", ".ncx")):
                    parser = etree.XMLParser(resolve_entities=False, no_network=True)
                    etree.fromstring(archive.read(name), parser)


# --- the spoken script of real documents -------------------------------------------------

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
#: Parsed only, never synthesized: 0.1-9 s a document (44 s for all 21, measured under load).
_CORPUS_FILES = [pytest.param(p, id=p.stem[:24]) for p in sorted(CORPUS.glob("[0-9]*.md"))]
_MARKUP = set("*_[]{}<>|\\^`~#@") | {"\ue000", "\ue001", "\ufffc"}
#: Languages whose numbers normalization says in words (the rest go to the engine).
_RULES = {"en", "es", "fr", "de", "it", "pt", "ar", "zh"}


@pytest.mark.skipif(not _CORPUS_FILES, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("path", _CORPUS_FILES)
def test_the_spoken_script_of_real_documents_has_no_markup_digits_or_emoji(path):
    import emoji

    from publisher.scriptview import read_script

    leaks = []
    for line in read_script(path):
        said = line.spoken
        if (_MARKUP & set(said) or emoji.emoji_list(said)
                or (line.language.split("-")[0] in _RULES and any(c.isdigit() for c in said))):
            leaks.append((line.sentence_id, line.display[:80], said[:120]))
    assert not leaks, leaks[:5]
