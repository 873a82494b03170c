"""Read a DAISY 2.02 or DAISY 3 zip back as a library's checker would.

Independent of :mod:`publisher.daisy` (it imports nothing from it): it starts
from the entry file a player opens (``ncc.html``, or the ``.opf`` package),
follows every navigation entry to its SMIL ``par``, every ``par``'s text to an
element of a content document and its audio clip to an MP3 whose duration
PyAV measures, and says what does not resolve. ``publisher check`` runs it on
``.zip`` files.

PyPI's ``daisy-dtb`` reads DAISY 2.02 but needs Python 3.12 or later; this
project runs on 3.11, so the reader here is a small namespace-aware lxml one.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

__all__ = ["DaisyBook", "DaisyNav", "DaisyPar", "check_daisy", "read_daisy"]

_XHTML = "http://www.w3.org/1999/xhtml"
_SMIL3 = "http://www.w3.org/2001/SMIL20/"
_NCX = "http://www.daisy.org/z3986/2005/ncx/"
_OPF = "http://openebook.org/namespaces/oeb-package/1.0/"
_DC = "http://purl.org/dc/elements/1.1/"
#: Debian's w3c-sgml-lib (apt-get install w3c-sgml-lib): the XHTML 1.0 and SMIL 1.0
#: DTDs of DAISY 2.02. The DAISY 3 DTDs (dtbook, dtbsmil, ncx) are on no package
#: registry, so DAISY 3 is checked by reading it back only.
DTD_DIR = Path("/usr/share/xml/w3c-sgml-lib/schema/dtd")
DTDS_202 = {".html": ("XHTML 1.0 Transitional", "REC-xhtml1-20020801/xhtml1-transitional.dtd"),
            ".smil": ("SMIL 1.0", "REC-smil-19980615/smil10.dtd")}
#: How far past its file's end a clip may reach (MP3 frame rounding).
_SLACK_MS = 60
#: Metadata a library catalogue needs (DAISY 2.02 names; DAISY 3 maps to them).
REQUIRED_META = ("dc:title", "dc:creator", "dc:language", "dc:identifier", "dc:publisher",
                 "dc:date", "narrator", "totalTime", "generator")
#: Metadata that may appear once only in the package (ncc.html, the OPF). Others
#: repeat, one element per value: several narrators are several ``ncc:narrator`` /
#: ``dtb:narrator`` elements (DAISY 2.02's "name(s) of narrator(s)"; repeatable in
#: Z39.86-2005 section 3.2), never one comma-joined value.
SINGLE_META = ("totalTime", "multimediaType", "multimediaContent", "producedDate",
               "charset", "tocItems", "depth")


@dataclass(frozen=True, slots=True)
class DaisyPar:
    """One synchronised sentence: its text fragment and its clip."""

    smil: str
    id: str
    text: str
    audio: str
    begin_ms: int
    end_ms: int
    #: Skippable structure (system-required / customTest), "" when none.
    skippable: str = ""
    #: Class of the escapable seq it sits in, "" when none.
    escapable: str = ""


@dataclass(frozen=True, slots=True)
class DaisyNav:
    """A navigation entry (NCC heading/span, NCX navPoint/navTarget)."""

    kind: str
    label: str
    target: str


@dataclass(frozen=True, slots=True)
class DaisyBook:
    """What was read back from one DAISY zip, and every problem found."""

    path: Path
    format: str
    metadata: dict[str, str]
    nav: tuple[DaisyNav, ...]
    pars: tuple[DaisyPar, ...]
    durations_ms: dict[str, int]
    problems: tuple[str, ...] = ()
    #: Every value of each metadata name of the package, in order (``metadata``
    #: holds the first): e.g. ``values["narrator"]``, one per narrator.
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line when it reads back completely; otherwise a line per problem."""
        head = (f"{self.path}: DAISY {self.format}: {len(self.nav)} navigation entries, "
                f"{len(self.pars)} synchronised sentences")
        if self.ok:
            return head + ", all resolve."
        return "\n".join([head + f"; {len(self.problems)} problem(s):",
                          *(f"  {p}" for p in self.problems)])


def check_daisy(path: Path) -> DaisyBook:
    """Read ``path`` back; the result's ``problems`` is empty when it all resolves."""
    return read_daisy(path)


def read_daisy(path: Path) -> DaisyBook:
    """Read a DAISY 2.02 (``ncc.html``) or DAISY 3 (``.opf``) zip back."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return DaisyBook(path, "?", {}, (), (), {}, (f"not a readable zip: {exc}",))
    with archive:
        reader = _Reader(archive)
        names = {n.lower(): n for n in archive.namelist()}
        if "ncc.html" in names:
            reader.read202(names["ncc.html"])
            reader.validate_dtds()
            fmt = "2.02"
        else:
            opfs = [n for n in archive.namelist() if n.endswith(".opf")]
            if not opfs:
                return DaisyBook(path, "?", {}, (), (), {},
                                 ("neither ncc.html (DAISY 2.02) nor an .opf package "
                                  "(DAISY 3) in the zip",))
            reader.read3(opfs[0])
            fmt = "3"
        reader.check_metadata()
        reader.check_links()
    return DaisyBook(path, fmt, reader.metadata, tuple(reader.nav), tuple(reader.pars),
                     reader.durations, tuple(reader.problems),
                     values={k: tuple(v) for k, v in reader.values.items()},
                     extra={"dtds": tuple(reader.dtds)})


class _Reader:
    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.names = set(archive.namelist())
        self.docs: dict[str, etree._Element | None] = {}
        self.ids: dict[str, set[str]] = {}
        self.metadata: dict[str, str] = {}
        #: The package's own metadata (ncc.html, the OPF), every value of each name.
        self.values: dict[str, list[str]] = {}
        self.nav: list[DaisyNav] = []
        self.pars: list[DaisyPar] = []
        self.durations: dict[str, int] = {}
        self.problems: list[str] = []
        #: The DTDs the documents were validated against.
        self.dtds: list[str] = []

    # -- files
    def doc(self, name: str) -> etree._Element | None:
        if name not in self.docs:
            if name not in self.names:
                self.problems.append(f"{name}: missing from the zip")
                self.docs[name] = None
            else:
                try:
                    # DTDs are named, never fetched (no network, no entities).
                    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                                             load_dtd=False)
                    self.docs[name] = etree.fromstring(self.archive.read(name), parser)
                except etree.XMLSyntaxError as exc:
                    self.problems.append(f"{name}: not well-formed XML: {exc}")
                    self.docs[name] = None
            root = self.docs[name]
            self.ids[name] = {el.get("id", "") for el in root.iter()
                              if isinstance(el.tag, str) and el.get("id")} if root is not None else set()
        return self.docs[name]

    def resolves(self, base: str, href: str, where: str) -> bool:
        """``href`` (relative to file ``base``) names an existing file and element id."""
        file, _, fragment = href.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(base), file)) if file else base
        if self.doc(target) is None:
            self.problems.append(f"{where}: {href!r} points to a file that cannot be read")
            return False
        if fragment and fragment not in self.ids[target]:
            self.problems.append(f"{where}: {href!r}: no element with id {fragment!r} in {target}")
            return False
        return True

    def duration(self, name: str) -> int | None:
        if name not in self.durations:
            if name not in self.names:
                return None
            import av  # deferred: PyAV takes ~0.1 s to import, only an audio duration needs it

            with av.open(io.BytesIO(self.archive.read(name)), mode="r") as container:
                stream = container.streams.audio[0]
                if stream.duration is not None and stream.time_base is not None:
                    seconds = float(stream.duration * stream.time_base)
                else:
                    seconds = (container.duration or 0) / 1_000_000
            self.durations[name] = round(seconds * 1000)
        return self.durations[name]

    # -- SMIL
    def read_smil(self, name: str, ns: str) -> None:
        root = self.doc(name)
        if root is None:
            return
        e = f"{{{ns}}}" if ns else ""
        for par in root.iter(e + "par"):
            where = f"{name}#{par.get('id', '?')}"
            text = par.find(e + "text")
            audio = par.find(e + "audio")
            if text is None or audio is None:
                self.problems.append(f"{where}: a par without its text or audio")
                continue
            self.resolves(name, text.get("src", ""), where)
            src = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                    audio.get("src", "")))
            begin = _clock(audio.get("clip-begin") or audio.get("clipBegin") or "")
            end = _clock(audio.get("clip-end") or audio.get("clipEnd") or "")
            duration = self.duration(src)
            if duration is None:
                self.problems.append(f"{where}: audio {src!r} is missing from the zip")
            elif begin is None or end is None or not 0 <= begin <= end:
                self.problems.append(f"{where}: clip {audio.attrib} is not a valid interval")
            elif end > duration + _SLACK_MS:
                self.problems.append(f"{where}: clip ends at {end} ms, after the end of "
                                     f"{src} ({duration} ms)")
            parent = par.getparent()
            escapable = parent.get("class", "") if parent is not None and \
                parent.tag == e + "seq" and parent.get("class") else ""
            skippable = (par.get("system-required") or par.get("customTest")
                         or (parent.get("customTest", "") if parent is not None else ""))
            self.pars.append(DaisyPar(name, par.get("id", ""), text.get("src", ""), src,
                                      begin or 0, end or 0, skippable, escapable))

    # -- DAISY 2.02
    def read202(self, ncc_name: str) -> None:
        ncc = self.doc(ncc_name)
        if ncc is None:
            return
        for meta in ncc.iter(f"{{{_XHTML}}}meta"):
            if meta.get("name"):
                self.package_meta(_short(meta.get("name", "")), meta.get("content", ""))
        body = ncc.find(f"{{{_XHTML}}}body")
        smils: list[str] = []
        for el in body if body is not None else ():
            link = el.find(f".//{{{_XHTML}}}a")
            if link is None:
                self.problems.append(f"{ncc_name}: NCC entry {el.get('id')} has no link")
                continue
            href = link.get("href", "")
            self.nav.append(DaisyNav(etree.QName(el).localname + "." + el.get("class", ""),
                                     "".join(link.itertext()).strip(), href))
            self.resolves(ncc_name, href, f"{ncc_name} entry {el.get('id')}")
            file = href.partition("#")[0]
            if file not in smils:
                smils.append(file)
        first = body[0] if body is not None and len(body) else None
        if first is None or etree.QName(first).localname != "h1" or first.get("class") != "title":
            self.problems.append(f"{ncc_name}: the first entry must be an h1 of class 'title'")
        master = "master.smil" if "master.smil" in self.names else None
        if master is not None:
            root = self.doc(master)
            for ref in root.iter("ref") if root is not None else ():
                if ref.get("src", "") not in self.names:
                    self.problems.append(f"master.smil: {ref.get('src')!r} is missing")
                elif ref.get("src", "") not in smils:
                    smils.append(ref.get("src", ""))
        for smil in smils:
            self.read_smil(smil, "")

    # -- DAISY 3
    def read3(self, opf_name: str) -> None:
        opf = self.doc(opf_name)
        if opf is None:
            return
        for el in opf.iter(f"{{{_DC}}}*"):
            self.package_meta("dc:" + etree.QName(el).localname.lower(), el.text or "")
        for meta in opf.iter(f"{{{_OPF}}}meta"):
            self.package_meta(_short(meta.get("name", "")), meta.get("content", ""))
        items: dict[str, tuple[str, str]] = {}
        for item in opf.iter(f"{{{_OPF}}}item"):
            href = item.get("href", "")
            items[item.get("id", "")] = (href, item.get("media-type", ""))
            if href not in self.names:
                self.problems.append(f"{opf_name}: manifest item {href!r} is missing")
        listed = {href for href, _ in items.values()}
        for name in self.names - listed:
            self.problems.append(f"{opf_name}: {name!r} is in the zip but not the manifest")
        ncx = next((h for h, t in items.values() if t == "application/x-dtbncx+xml"), None)
        if ncx is None:
            self.problems.append(f"{opf_name}: no NCX in the manifest")
        else:
            self.read_ncx(ncx)
        for ref in opf.iter(f"{{{_OPF}}}itemref"):
            href, media_type = items.get(ref.get("idref", ""), ("", ""))
            if media_type != "application/smil":
                self.problems.append(f"{opf_name}: spine item {ref.get('idref')!r} is not SMIL")
                continue
            self.read_smil(href, _SMIL3)

    def read_ncx(self, name: str) -> None:
        ncx = self.doc(name)
        if ncx is None:
            return
        e = f"{{{_NCX}}}"
        for meta in ncx.iter(e + "meta"):
            self.metadata[_short(meta.get("name", ""))] = meta.get("content", "")
        for point in ncx.iter(e + "navPoint", e + "navTarget"):
            label = point.find(f"{e}navLabel/{e}text")
            content = point.find(e + "content")
            if content is None or label is None:
                self.problems.append(f"{name}: {point.get('id')} lacks a label or content")
                continue
            depth = sum(1 for a in point.iterancestors(e + "navPoint")) + 1
            kind = f"navPoint.{depth}" if point.tag == e + "navPoint" else \
                f"navTarget.{point.get('class', '')}"
            self.nav.append(DaisyNav(kind, (label.text or "").strip(), content.get("src", "")))
            self.resolves(name, content.get("src", ""), f"{name} {point.get('id')}")
        orders = {p.get("playOrder") for p in ncx.iter(e + "navPoint", e + "navTarget")}
        if orders != {str(n) for n in range(1, len(orders) + 1)}:
            self.problems.append(f"{name}: playOrder is not 1, 2, 3 ... without gaps")

    def validate_dtds(self) -> None:
        """DAISY 2.02's text and NCC against XHTML 1.0, its SMIL against SMIL 1.0 (if installed)."""
        for suffix, (label, file) in DTDS_202.items():
            if not (DTD_DIR / file).is_file():
                continue
            dtd = etree.DTD(str(DTD_DIR / file))
            for name in sorted(n for n in self.names if n.endswith(suffix)):
                root = self.doc(name)
                if root is not None and not dtd.validate(root):
                    first = dtd.error_log.filter_from_errors()[:3] or list(dtd.error_log)[:3]
                    self.problems.extend(f"{name}: not valid {label}: line {e.line}: {e.message}"
                                         for e in first)
            self.dtds.append(label)

    def check_links(self) -> None:
        """Links and note references inside the text documents resolve too."""
        texts = [n for n in sorted(self.names) if n.endswith((".html", ".htm", ".xml"))
                 and n.lower() != "ncc.html"]
        for name in texts:
            root = self.doc(name)
            for el in root.iter() if root is not None else ():
                if not isinstance(el.tag, str):
                    continue
                href = el.get("href") or el.get("idref") or ""
                if not href or "://" in href or href.startswith("mailto:"):
                    continue
                if href.partition("#")[0].endswith(".smil"):
                    continue  # checked with the SMIL
                self.resolves(name, href, f"{name} link")

    def package_meta(self, name: str, content: str) -> None:
        """One metadata element of the package: the first value is ``metadata``'s."""
        self.metadata.setdefault(name, content)
        self.values.setdefault(name, []).append(content)

    def check_metadata(self) -> None:
        for key in REQUIRED_META:
            if not self.metadata.get(key, "").strip():
                self.problems.append(f"metadata: {key} is missing or empty")
        for key in SINGLE_META:
            if len(self.values.get(key, ())) > 1:
                self.problems.append(f"metadata: {key} appears "
                                     f"{len(self.values[key])} times; it may appear once")
        narrators = self.values.get("narrator", [])
        if any(not n.strip() for n in narrators):
            self.problems.append("metadata: a narrator element is empty")
        if len(set(narrators)) < len(narrators):
            self.problems.append("metadata: a narrator is named twice")
        total = _clock(self.metadata.get("totalTime", ""))
        audio = sum(self.durations.values())
        if total is not None and self.durations and abs(total - audio) > 1500:
            self.problems.append(f"metadata: totalTime is {total} ms but the audio lasts "
                                 f"{audio} ms")


def _short(name: str) -> str:
    """ncc:totalTime / dtb:totalTime -> totalTime; dc:* keeps its prefix, lower-case."""
    prefix, _, local = name.partition(":")
    if prefix.lower() == "dc":
        return "dc:" + local.lower()
    return local or name


_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)$")


def _clock(value: str) -> int | None:
    """SMIL clock values: npt=1.5s, 1.5s, 0:00:01.500, 00:01.5, 120ms -> milliseconds."""
    value = value.strip().removeprefix("npt=")
    try:
        if value.endswith("ms"):
            return round(float(value[:-2]))
        if value.endswith("s"):
            return round(float(value[:-1]) * 1000)
        match = _CLOCK.match(value)
        if match:
            hours, minutes, seconds = match.groups()
            return round(((int(hours or 0) * 60 + int(minutes)) * 60 + float(seconds)) * 1000)
    except ValueError:
        return None
    return None
