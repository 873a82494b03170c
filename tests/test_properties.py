"""Property tests: any Markdown either builds a well-formed EPUB or fails cleanly."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
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
                lowered = data.lower()
                assert b"<script" not in lowered and b"javascript:" not in lowered
                assert not root.xpath("//@*[starts-with(local-name(), 'on')]")
