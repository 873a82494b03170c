"""Records for libraries and shops: an ONIX 3.0 product record and an OPDS 2.0 catalog.

- ``output/<slug>/onix.xml``: the EPUB as an ONIX 3.0 product (what book trade
  and library supply chains ingest), with its accessibility stated in ONIX
  code list 196 terms. Every code is *derived* from the book's accessibility
  facts (:func:`list196_codes`), the same facts the EPUB's package metadata
  states, so the two can never disagree and nothing is claimed that the book
  does not do.
- ``output/catalog.json``: an OPDS 2.0 feed of every book built into the same
  output folder, for reading apps and library systems that browse catalogs.

How the catalog learns about every book: each build leaves ``build.json`` in
its own folder; :func:`update_catalog` reads ``output/*/build.json`` (under a
lock, so two builds cannot interleave) and rewrites ``catalog.json``
atomically. A book removed from ``output/`` leaves the catalog at the next
build. What the catalog needs beyond the basic record (authors, cover size,
base URL) is :func:`catalog_record`, stored under ``"catalog"`` in build.json.

List 196 codes used (meanings as in EDItEUR ONIX code list 196, checked
against the DAISY SMART code list export):

    11 Table of contents navigation          <- tableOfContents
    12 Index navigation                      <- index
    13 Single logical reading order          <- readingOrder
    14 Short alternative textual descriptions <- alternativeText
    15 Full alternative textual descriptions <- longDescription
    17 Accessible math content as MathML     <- MathML
    18 Accessible chemistry content as ChemML <- ChemML
    19 Print-equivalent page numbering       <- pageBreakMarkers / printPageNumbers
    20 Synchronised pre-recorded audio       <- synchronizedAudioText (with audio)
    21 Text-to-speech hinting provided       <- ttsMarkup / pronunciation (PLS lexicon)
    26 Use of high contrast between text and background color <- highContrastDisplay
    27 Use of high contrast between foreground and background audio <- highContrastAudio
    28 Full alternative audio descriptions   <- audioDescription
    29 Next / Previous structural navigation <- structuralNavigation
    30 ARIA roles provided                   <- ARIA
    35 Accessible math content (as LaTeX)    <- latex
    36 All textual content can be modified   <- displayTransformability
    51 All non-decorative content supports reading via pre-recorded audio
                                             <- accessModeSufficient "auditory" (with audio)
    52 All non-decorative content supports reading without sight
                                             <- accessModeSufficient "textual"
    04 / 80-82 / 84-86 EPUB Accessibility 1.1, WCAG version and level
                                             <- a conformance statement, when the facts carry one
    00 Accessibility summary (with the summary text)

Hazards are ProductFormFeatureType 12 with code list 143: ``none`` -> 00
"No known hazards or warnings", ``flashing`` -> 13, ``noFlashingHazard`` ->
14, ``sound`` -> 15, ``noSoundHazard`` -> 16, ``motionSimulation`` -> 17,
``noMotionSimulationHazard`` -> 18; ``unknown`` claims nothing.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import logging
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

import langcodes
from filelock import FileLock, Timeout
from lxml import etree

from .cache import write_atomically
from .errors import OutputError
from .layout import (
    CATALOG_NAME,
    FEED_NAME,
    ONIX_NAME,
    RECORD_NAME,
    book_file,
    cover_filename,
    daisy_name,
    lock_path,
)
from .model import Accessibility, Publication
from .record import NotARecord, load_record

__all__ = [
    "CATALOG_NAME",
    "ONIX_NS",
    "catalog_feed",
    "catalog_record",
    "daisy_editions",
    "hazard_codes",
    "list196_codes",
    "onix_record",
    "read_build_records",
    "update_catalog",
    "write_catalog",
    "write_onix",
]

log = logging.getLogger(__name__)

ONIX_NS = "http://ns.editeur.org/onix/3.0/reference"
OPDS_JSON = "application/opds+json"
ACQUISITION = "http://opds-spec.org/acquisition"

#: schema.org accessibilityFeature -> (List 196 code, meaning).
FEATURE_CODES: dict[str, tuple[str, str]] = {
    "tableOfContents": ("11", "Table of contents navigation"),
    "index": ("12", "Index navigation"),
    "readingOrder": ("13", "Single logical reading order"),
    "alternativeText": ("14", "Short alternative textual descriptions"),
    "longDescription": ("15", "Full alternative textual descriptions"),
    "MathML": ("17", "Accessible math content as MathML"),
    "ChemML": ("18", "Accessible chemistry content as ChemML"),
    "pageBreakMarkers": ("19", "Print-equivalent page numbering"),
    "printPageNumbers": ("19", "Print-equivalent page numbering"),
    "synchronizedAudioText": ("20", "Synchronised pre-recorded audio"),
    "ttsMarkup": ("21", "Text-to-speech hinting provided"),
    # The EPUB ships a PLS lexicon: List 196 names PLS under code 21.
    "pronunciation": ("21", "Text-to-speech hinting provided"),
    "highContrastDisplay": ("26", "Use of high contrast between text and background color"),
    "highContrastAudio": ("27", "Use of high contrast between foreground and background audio"),
    "audioDescription": ("28", "Full alternative audio descriptions"),
    "structuralNavigation": ("29", "Next / Previous structural navigation"),
    "ARIA": ("30", "ARIA roles provided"),
    "latex": ("35", "Accessible math content (as LaTeX)"),
    "displayTransformability": ("36", "All textual content can be modified"),
}
#: Features that are only true when the product carries audio.
_NEEDS_AUDIO = {"synchronizedAudioText"}
#: DAISY edition -> (List 175 ProductFormDetail, name); their ProductForm is List 150
#: AJ (downloadable audio file), with A103 (MP3 format) for the audio.
DAISY_FORMS = {"202": ("A204", "DAISY 2.02"), "3": ("A210", "DAISY 3")}
#: The List 196 codes of the EPUB that stay true of a DAISY edition: the same
#: text, audio, alternative text, reading order and heading navigation. ARIA
#: (30), the PLS lexicon (21), display transformability (36) and the EPUB
#: Accessibility conformance (04, 80-86) are the EPUB's own and are not claimed.
DAISY_LIST196 = frozenset({"11", "13", "14", "15", "20", "29", "51", "52"})
SUFFICIENT_TEXT = ("52", "All non-decorative content supports reading without sight")
SUFFICIENT_AUDIO = ("51", "All non-decorative content supports reading via pre-recorded audio")
#: schema.org accessibilityHazard -> (List 143 code, meaning), ProductFormFeatureType 12.
HAZARD_CODES: dict[str, tuple[str, str]] = {
    "none": ("00", "No known hazards or warnings"),
    "flashing": ("13", "WARNING – Flashing hazard"),
    "noFlashingHazard": ("14", "No flashing hazard warning necessary"),
    "sound": ("15", "WARNING – Sound hazard"),
    "noSoundHazard": ("16", "No sound hazard warning necessary"),
    "motionSimulation": ("17", "WARNING – Motion simulation hazard"),
    "noMotionSimulationHazard": ("18", "No motion hazard warning necessary"),
}
_WCAG_VERSION = {"0": ("80", "WCAG v2.0"), "1": ("81", "WCAG v2.1"), "2": ("82", "WCAG v2.2")}
_WCAG_LEVEL = {"A": ("84", "WCAG level A"), "AA": ("85", "WCAG level AA"),
               "AAA": ("86", "WCAG level AAA")}
_CONFORMANCE = re.compile(r"EPUB Accessibility 1\.1 - WCAG 2\.([012]) Level (A{1,3})\b")


# --------------------------------------------------------------------------- List 196


def list196_codes(accessibility: Accessibility, has_audio: bool) -> list[tuple[str, str]]:
    """ONIX List 196 codes ``(code, meaning)`` the publication really meets, sorted by code.

    Derived from the schema.org facts only: a feature with no List 196 code
    (``table``) gives none; audio features need ``has_audio``. The accessibility
    summary (code 00) carries text, not a claim, and is written by :func:`onix_record`.
    """
    codes: dict[str, str] = {}
    for feature in accessibility.features:
        if feature in FEATURE_CODES and (has_audio or feature not in _NEEDS_AUDIO):
            code, meaning = FEATURE_CODES[feature]
            codes[code] = meaning
    sufficient = {entry.strip() for entry in accessibility.access_mode_sufficient}
    if "textual" in sufficient:
        codes[SUFFICIENT_TEXT[0]] = SUFFICIENT_TEXT[1]
    if "auditory" in sufficient and has_audio:
        codes[SUFFICIENT_AUDIO[0]] = SUFFICIENT_AUDIO[1]
    for statement in getattr(accessibility, "conforms_to", ()) or ():
        match = _CONFORMANCE.search(str(statement))
        if match:
            codes["04"] = "EPUB Accessibility Specification 1.1"
            codes.update([_WCAG_VERSION[match.group(1)], _WCAG_LEVEL[match.group(2)]])
    return sorted(codes.items())


def hazard_codes(accessibility: Accessibility) -> list[tuple[str, str]]:
    """ONIX List 143 hazard codes ``(code, meaning)`` for ProductFormFeatureType 12."""
    codes = dict(HAZARD_CODES[h] for h in accessibility.hazards if h in HAZARD_CODES)
    if "00" in codes and len(codes) > 1:
        del codes["00"]  # "no known hazards" contradicts any specific statement
    return sorted(codes.items())


# --------------------------------------------------------------------------- ONIX


def onix_record(pub: Publication) -> etree._Element:
    """The ONIX 3.0 message (one Product: the EPUB) for ``pub``, as an lxml tree."""
    meta = pub.book.meta
    e = _OnixBuilder()
    message = e.root("ONIXMessage", release="3.0")
    header = e.sub(message, "Header")
    sender = e.sub(header, "Sender")
    e.sub(sender, "SenderName", meta.publisher or ", ".join(meta.authors) or meta.title)
    e.sub(header, "SentDateTime", _onix_datetime(pub.modified))

    product = e.sub(message, "Product")
    e.sub(product, "RecordReference", meta.identifier)
    e.sub(product, "NotificationType", "03")  # notice of publication
    e.sub(product, "RecordSourceType", "01")  # publisher
    isbn = _isbn13(meta.identifier)
    if isbn:
        ident = e.sub(product, "ProductIdentifier")
        e.sub(ident, "ProductIDType", "15")  # ISBN-13
        e.sub(ident, "IDValue", isbn)
    ident = e.sub(product, "ProductIdentifier")
    e.sub(ident, "ProductIDType", "01")  # proprietary
    e.sub(ident, "IDTypeName", _id_type_name(meta.identifier))
    e.sub(ident, "IDValue", meta.identifier)

    detail = e.sub(product, "DescriptiveDetail")
    e.sub(detail, "ProductComposition", "00")  # single-component retail product
    e.sub(detail, "ProductForm", "ED")  # digital download
    e.sub(detail, "ProductFormDetail", "E101")  # EPUB
    e.sub(detail, "ProductFormDetail", "E200")  # reflowable
    has_audio = bool(pub.audio)
    a11y = pub.accessibility
    if a11y.summary:
        e.feature(detail, "09", "00", a11y.summary)
    for code, _meaning in list196_codes(a11y, has_audio):
        e.feature(detail, "09", code)
    for code, _meaning in hazard_codes(a11y):
        e.feature(detail, "12", code)
    e.sub(detail, "PrimaryContentType", "10")  # text (eye-readable)
    if has_audio and "synchronizedAudioText" in a11y.features:
        e.sub(detail, "ProductContentType", "01")  # audiobook: the narration
    e.sub(detail, "EpubTechnicalProtection", "00")  # none: we never add DRM
    e.sub(detail, "NoCollection")
    title = e.sub(detail, "TitleDetail")
    e.sub(title, "TitleType", "01")
    element = e.sub(title, "TitleElement")
    e.sub(element, "TitleElementLevel", "01")
    e.sub(element, "TitleText", meta.title)
    if meta.subtitle:
        e.sub(element, "Subtitle", meta.subtitle)
    sequence = 0
    for author in meta.authors:
        sequence += 1
        contributor = e.sub(detail, "Contributor")
        e.sub(contributor, "SequenceNumber", str(sequence))
        e.sub(contributor, "ContributorRole", "A01")  # by (author)
        e.sub(contributor, "PersonName", author)
    for narrator in pub.credited if has_audio else ():
        sequence += 1
        contributor = e.sub(detail, "Contributor")
        e.sub(contributor, "SequenceNumber", str(sequence))
        e.sub(contributor, "ContributorRole", "E07")  # read by
        e.sub(contributor, "PersonName", narrator)
    if sequence == 0:
        e.sub(detail, "NoContributor")  # a positive statement: no stated authorship
    e.sub(detail, "NoEdition")
    language = e.sub(detail, "Language")
    e.sub(language, "LanguageRole", "01")  # language of text
    e.sub(language, "LanguageCode", _iso639_2b(meta.language))
    if meta.subjects:
        subject = e.sub(detail, "Subject")
        e.sub(subject, "SubjectSchemeIdentifier", "20")  # keywords
        e.sub(subject, "SubjectHeadingText", "; ".join(meta.subjects))

    if meta.description or (pub.cover is not None and pub.base_url):
        collateral = e.sub(product, "CollateralDetail")
        if meta.description:
            text = e.sub(collateral, "TextContent")
            e.sub(text, "TextType", "03")  # description
            e.sub(text, "ContentAudience", "00")  # unrestricted
            e.sub(text, "Text", meta.description, textformat="06")  # plain text
        if pub.cover is not None and pub.base_url:
            resource = e.sub(collateral, "SupportingResource")
            e.sub(resource, "ResourceContentType", "01")  # front cover
            e.sub(resource, "ContentAudience", "00")
            e.sub(resource, "ResourceMode", "03")  # image
            version = e.sub(resource, "ResourceVersion")
            e.sub(version, "ResourceForm", "02")  # downloadable file
            e.sub(version, "ResourceLink",
                  f"{pub.base_url.rstrip('/')}/{cover_filename(pub.cover)}")

    publishing = e.sub(product, "PublishingDetail")
    if meta.publisher:
        publisher = e.sub(publishing, "Publisher")
        e.sub(publisher, "PublishingRole", "01")  # publisher
        e.sub(publisher, "PublisherName", meta.publisher)
    e.sub(publishing, "PublishingStatus", "04")  # active
    if meta.date:
        published = e.sub(publishing, "PublishingDate")
        e.sub(published, "PublishingDateRole", "01")  # publication date
        digits = meta.date.replace("-", "")
        e.sub(published, "Date", digits, dateformat={8: "00", 6: "01", 4: "05"}[len(digits)])
    for fmt in daisy_editions(pub):
        message.append(_daisy_product(e, product, pub, fmt))
    return message


def daisy_editions(pub: Publication) -> tuple[str, ...]:
    """The DAISY editions the build makes ("202", "3"): the book's choice, only with audio."""
    return tuple(pub.book.meta.daisy) if pub.audio else ()


def _daisy_product(e: _OnixBuilder, epub_product: etree._Element, pub: Publication,
                   fmt: str) -> etree._Element:
    """The ONIX Product of one DAISY edition: the EPUB's record with its own form and codes.

    Its proprietary identifier is the book's with ``-daisy202`` / ``-daisy3``
    (the ISBN, if any, is the EPUB's and is left out); RelatedMaterial names
    the EPUB as the same content in another format (List 51 code 06).
    """
    meta = pub.book.meta
    detail_code, name = DAISY_FORMS[fmt]
    product = copy.deepcopy(epub_product)
    ns = {"o": ONIX_NS}
    product.find("o:RecordReference", ns).text = f"{meta.identifier}-daisy{fmt}"  # type: ignore[union-attr]
    for ident in product.findall("o:ProductIdentifier", ns):
        if ident.findtext("o:ProductIDType", namespaces=ns) == "15":
            product.remove(ident)  # the ISBN is the EPUB's
        else:
            ident.find("o:IDValue", ns).text = f"{meta.identifier}-daisy{fmt}"  # type: ignore[union-attr]
    detail = product.find("o:DescriptiveDetail", ns)
    assert detail is not None
    form = detail.find("o:ProductForm", ns)
    assert form is not None
    form.text = "AJ"  # downloadable audio file
    for old in detail.findall("o:ProductFormDetail", ns):
        detail.remove(old)
    at = list(detail).index(form) + 1
    for code in (detail_code, "A103"):  # DAISY (full audio, navigation, full text); MP3
        element = etree.Element(f"{{{ONIX_NS}}}ProductFormDetail")
        element.text = code
        detail.insert(at, element)
        at += 1
    for feature in detail.findall("o:ProductFormFeature", ns):
        kind = feature.findtext("o:ProductFormFeatureType", namespaces=ns)
        value = feature.findtext("o:ProductFormFeatureValue", namespaces=ns)
        if kind != "09":
            continue
        if value == "00":
            feature.find("o:ProductFormFeatureDescription", ns).text = (  # type: ignore[union-attr]
                f"{name} talking book: the full text and a full synthetic-voice narration, "
                "synchronised sentence by sentence; navigation by headings; notes and "
                "sidebars can be skipped.")
        elif value not in DAISY_LIST196:
            detail.remove(feature)
    primary = detail.find("o:PrimaryContentType", ns)
    if primary is not None:
        primary.text = "01"  # audiobook
    content = detail.find("o:ProductContentType", ns)
    if content is not None:
        content.text = "10"  # text (eye-readable): the full text is there too
    related = e.sub(product, "RelatedMaterial")
    relation = e.sub(related, "RelatedProduct")
    e.sub(relation, "ProductRelationCode", "06")  # alternative format
    ident = e.sub(relation, "ProductIdentifier")
    e.sub(ident, "ProductIDType", "01")
    e.sub(ident, "IDTypeName", _id_type_name(meta.identifier))
    e.sub(ident, "IDValue", meta.identifier)
    return product


def write_onix(pub: Publication) -> list[Path]:
    """Write ``onix.xml``: the ONIX 3.0 product record of the EPUB."""
    dest = pub.out_dir / ONIX_NAME
    data = etree.tostring(onix_record(pub), xml_declaration=True, encoding="UTF-8",
                          pretty_print=True)
    try:
        dest.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write the ONIX record ({exc.strerror}).") from exc
    return [dest]


class _OnixBuilder:
    """Builds ONIX elements in the reference-tag namespace."""

    def root(self, tag: str, **attrs: str) -> etree._Element:
        return etree.Element(f"{{{ONIX_NS}}}{tag}", attrs, nsmap={None: ONIX_NS})

    def sub(self, parent: etree._Element, tag: str, text: str | None = None,
            **attrs: str) -> etree._Element:
        child = etree.SubElement(parent, f"{{{ONIX_NS}}}{tag}", attrs)
        if text is not None:
            child.text = text
        return child

    def feature(self, parent: etree._Element, kind: str, value: str,
                description: str = "") -> None:
        feature = self.sub(parent, "ProductFormFeature")
        self.sub(feature, "ProductFormFeatureType", kind)
        self.sub(feature, "ProductFormFeatureValue", value)
        if description:
            self.sub(feature, "ProductFormFeatureDescription", description)


def _onix_datetime(moment: _dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc)
    return moment.strftime("%Y%m%dT%H%MZ")


def _isbn13(identifier: str) -> str:
    """The ISBN-13 in a ``urn:isbn:`` identifier, digits only ('' if none)."""
    if not identifier.lower().startswith("urn:isbn:"):
        return ""
    digits = re.sub(r"[^0-9]", "", identifier[9:])
    return digits if len(digits) == 13 else ""


def _id_type_name(identifier: str) -> str:
    scheme = identifier.split(":")[1] if identifier.lower().startswith("urn:") and \
        identifier.count(":") >= 2 else ""
    return f"URN {scheme.upper()}" if scheme else "Publisher identifier"


def _iso639_2b(language: str) -> str:
    """ONIX List 74: ISO 639-2/B, lower case ('und' if unknown)."""
    try:
        return str(langcodes.Language.get(language).to_alpha3(variant="B"))
    except (LookupError, ValueError):
        return "und"


# --------------------------------------------------------------------------- OPDS catalog


def catalog_record(pub: Publication) -> dict[str, object]:
    """What the catalog needs beyond build.json's basics; build.py stores it as ``"catalog"``."""
    meta = pub.book.meta
    record: dict[str, object] = {"authors": list(meta.authors)}
    if meta.subtitle:
        record["subtitle"] = meta.subtitle
    if meta.description:
        record["description"] = meta.description
    if meta.publisher:
        record["publisher"] = meta.publisher
    if meta.date:
        record["published"] = meta.date
    if pub.narrator and pub.audio:
        record["narrator"] = pub.narrator
    if pub.audio:
        record["duration_ms"] = sum(a.duration_ms for a in pub.audio)
    if pub.cover is not None:
        record["cover"] = {"file": cover_filename(pub.cover),
                           "type": pub.cover.media_type, "width": pub.cover.width_px,
                           "height": pub.cover.height_px}
    if pub.base_url:
        record["base_url"] = pub.base_url.rstrip("/")
    return record


def read_build_records(out_root: Path) -> list[dict[str, object]]:
    """Every book's build record (``out_root/*/build.json``), sorted by slug.

    Folders being built (hidden, ``.``-prefixed) are skipped; an unreadable record
    is skipped with a warning, so one broken folder cannot block the catalog.
    """
    records = []
    for path in sorted(out_root.glob(f"*/{RECORD_NAME}")):
        if path.parent.name.startswith("."):
            continue
        try:
            record = load_record(path)
        except NotARecord:
            record = None
        except (OSError, ValueError) as exc:
            log.warning("%s: skipped in the catalog (%s)", path, exc)
            continue
        if record is not None and record.slug and record.title:
            records.append(record.to_dict())
        else:
            log.warning("%s: skipped in the catalog (no slug or title)", path)
    return records


def catalog_feed(publications: Sequence[dict[str, object]],
                 title: str = "Catalog") -> dict[str, object]:
    """The OPDS 2.0 feed for these build records (as :func:`read_build_records` gives)."""
    entries = [_opds_publication(r) for r in sorted(publications, key=lambda r: str(r["slug"]))]
    modified = max((str(r.get("modified", "")) for r in publications), default="")
    metadata: dict[str, object] = {"title": title}
    if modified:
        metadata["modified"] = modified
    metadata["numberOfItems"] = len(entries)
    return {
        "metadata": metadata,
        "links": [{"rel": "self", "href": CATALOG_NAME, "type": OPDS_JSON}],
        "publications": entries,
    }


def write_catalog(out_root: Path, publications: Sequence[dict[str, object]],
                  title: str = "Catalog") -> Path:
    """Write ``out_root/catalog.json`` for these build records, atomically.

    Hrefs are relative to ``out_root`` (where catalog.json is), or absolute when
    a book was built with a base URL.
    """
    dest = out_root / CATALOG_NAME
    data = (json.dumps(catalog_feed(publications, title), indent=2, ensure_ascii=False)
            + "\n").encode("utf-8")
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        write_atomically(dest, data, mode=0o644, prefix=".catalog.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{dest}: cannot write the catalog ({exc.strerror or exc}).") from exc
    return dest


def update_catalog(out_root: Path, title: str = "Catalog") -> Path:
    """Rebuild ``catalog.json`` from every ``build.json`` under ``out_root``.

    Call after a book has been moved into place. A lock keeps two builds from
    writing an older view over a newer one.
    """
    lock = FileLock(str(lock_path(out_root, "catalog")))
    try:
        with lock.acquire(timeout=30):
            return write_catalog(out_root, read_build_records(out_root), title)
    except Timeout as exc:
        raise OutputError(f"{out_root / CATALOG_NAME}: another build kept the catalog locked "
                          "for 30 s; run the build again.") from exc


def _opds_publication(record: dict[str, object]) -> dict[str, object]:
    slug = str(record["slug"])
    extra = record.get("catalog")
    extra = extra if isinstance(extra, dict) else {}
    base_url = str(extra.get("base_url", "") or "")
    listed = record.get("files")
    files = {str(f.get("path")) for f in listed if isinstance(f, dict)} \
        if isinstance(listed, list) else set()

    def href(path: str) -> str:
        quoted = urllib.parse.quote(path)
        return f"{base_url}/{quoted}" if base_url else f"{urllib.parse.quote(slug)}/{quoted}"

    metadata: dict[str, object] = {"@type": "http://schema.org/Book",
                                   "title": str(record["title"])}
    if extra.get("subtitle"):
        metadata["subtitle"] = extra["subtitle"]
    if record.get("identifier"):
        metadata["identifier"] = record["identifier"]
    authors = extra.get("authors")
    if authors:
        metadata["author"] = list(authors)
    if extra.get("narrator"):
        metadata["narrator"] = extra["narrator"]
    if extra.get("publisher"):
        metadata["publisher"] = extra["publisher"]
    if record.get("language"):
        metadata["language"] = record["language"]
    if record.get("modified"):
        metadata["modified"] = record["modified"]
    published = str(extra.get("published", "") or "")
    if re.match(r"^\d{4}-\d{2}-\d{2}$", published):
        metadata["published"] = published
    if extra.get("description"):
        metadata["description"] = extra["description"]
    duration_ms = extra.get("duration_ms")
    if isinstance(duration_ms, int) and duration_ms > 0:
        metadata["duration"] = round(duration_ms / 1000, 3)

    links: list[dict[str, object]] = []
    for name, media_type in ((book_file(slug, "epub"), "application/epub+zip"),
                             (book_file(slug, "audiobook"), "application/audiobook+zip"),
                             (book_file(slug, "m4b"), "audio/mp4"),
                             (book_file(slug, "lpf"), "application/lpf+zip")):
        if name in files:
            links.append({"rel": ACQUISITION, "href": href(name), "type": media_type})
    for fmt, (_, form_name) in DAISY_FORMS.items():
        # DAISY has no registered media type of its own: a zip, titled by its format.
        name = daisy_name(slug, fmt)
        if name in files:
            links.append({"rel": ACQUISITION, "href": href(name), "type": "application/zip",
                          "title": f"{form_name} talking book (full text and audio)"})
    if FEED_NAME in files:
        links.append({"rel": "alternate", "href": href(FEED_NAME),
                      "type": "application/rss+xml", "title": "Podcast feed"})
    entry: dict[str, object] = {"metadata": metadata, "links": links}

    cover = extra.get("cover")
    images: list[dict[str, object]] = []
    if isinstance(cover, dict) and cover.get("file") in files:
        image: dict[str, object] = {"href": href(str(cover["file"])),
                                    "type": str(cover.get("type", "image/jpeg"))}
        if cover.get("width") and cover.get("height"):
            image["width"] = cover["width"]
            image["height"] = cover["height"]
        images.append(image)
    else:
        for name, media_type in (("cover.jpg", "image/jpeg"), ("cover.png", "image/png")):
            if name in files:
                images.append({"href": href(name), "type": media_type})
    if images:
        entry["images"] = images
    else:
        log.warning("%s: no cover image, so its catalog entry has no images "
                    "(OPDS 2.0 asks for one)", slug)
    return entry
