"""The rendered tree made fit for a book, before the walk (see parse.py).

Real manuscripts are written for a web site, not an EPUB: they wrap the text
in ``<div markdown="1">``, point at remote or missing images and at other
pages of their site, and reuse ids. Each function here fixes one of those in
the sanitized tree, in place, and says what it changed as warnings:

* containers holding headings are opened, so every heading starts a section
  (their ``lang``/``dir`` go on what they held);
* TeX placeholders become MathML with alt text;
* images that cannot be carried (remote, missing, unreadable, outside the
  book's folder) are replaced by their alt text; usable ones are resolved;
* links to anything that is not in the book become text (or absolute
  addresses against ``base_url``); template placeholders are never links;
* every id is unique in the book.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote, unquote, urljoin

from lxml import etree

from .config import resolve_inside
from .dialects import MATH_CLASS, NO_ALT, TEMPLATE_HREF, speak_tex, tex_to_mathml

#: Where a usable image's resolved file is kept until parse.py registers it.
IMAGE_FILE = "data-publisher-file"
MATHML = "{http://www.w3.org/1998/Math/MathML}math"
#: At most this many lines for one kind of problem; the rest are counted.
LIST_AT_MOST = 8

MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_OPENED = {"div", "section", "article", "main"}


def prepare_tree(root: etree._Element, source: Path, base_url: str,
                 assets: Path | None, templates: Counter[str],
                 template_links: int) -> list[str]:
    """Fix ``root`` in place for a book; return the warnings, one line per problem."""
    warnings: list[str] = []
    open_containers(root)
    insert_math(root)
    warnings.extend(resolve_images(root, source, assets))
    warnings.extend(unlink_outside(root, source, base_url))
    unique_ids(root)
    if templates:
        kinds = ", ".join(f"'{t}'" for t in list(templates)[:3])
        links = (f"; {template_links} link(s) whose target was one are shown as text"
                 if template_links else "")
        warnings.append(
            f"{source}: {sum(templates.values())} template tag(s) of a site generator "
            f"(Liquid, Hugo, Mustache: {kinds}...) were removed, keeping the words they "
            f"show a reader{links}. A book has no site to fill them in; write the text "
            "or the address itself.")
    return warnings


def open_containers(root: etree._Element) -> None:
    """Top-level ``div``/``section`` holding headings -> their children, at top level."""
    changed = True
    while changed:
        changed = False
        for node in list(root):
            if not isinstance(node.tag, str) or node.tag not in _OPENED:
                continue
            if not any(isinstance(c.tag, str) and c.tag in _HEADINGS for c in node):
                continue
            _open(root, node)
            changed = True


def _open(root: etree._Element, node: etree._Element) -> None:
    inherited = {k: v for k, v in node.attrib.items() if k in ("lang", "dir")}
    at = root.index(node)
    pieces: list[etree._Element] = []

    def loose(text: str | None) -> None:
        if text and text.strip():
            holder = etree.Element("p", **inherited)
            holder.text = text
            pieces.append(holder)

    loose(node.text)
    for child in list(node):
        tail, child.tail = child.tail, None
        if isinstance(child.tag, str):
            for key, value in inherited.items():
                if key not in child.attrib:
                    child.set(key, value)
            pieces.append(child)
        loose(tail)
    if node.get("id") and pieces and pieces[0].get("id") is None:
        pieces[0].set("id", node.get("id", ""))
    tail = node.tail
    root.remove(node)
    for offset, piece in enumerate(pieces):
        root.insert(at + offset, piece)
    if tail and tail.strip():
        holder = etree.Element("p")
        holder.text = tail
        root.insert(at + len(pieces), holder)


def insert_math(root: etree._Element) -> None:
    """TeX placeholders -> MathML (alttext = the TeX), or the TeX as text if it cannot be."""
    for span in list(root.iter("span")):
        classes = (span.get("class") or "").split()
        if MATH_CLASS not in classes:
            continue
        tex = span.text or ""
        mathml = tex_to_mathml(tex, display="display" in classes)
        if mathml is None:
            del span.attrib["class"]  # shown as written: still words a reader can use
            continue
        math = etree.fromstring(mathml)
        math.set("alttext", tex)
        math.tail = span.tail
        span.getparent().replace(span, math)


def spoken_math(math: etree._Element) -> str:
    """What narration says for a MathML element made by :func:`insert_math`."""
    return speak_tex(math.get("alttext", ""))


def resolve_images(root: etree._Element, source: Path, assets: Path | None) -> list[str]:
    """Usable images get :data:`IMAGE_FILE`; the others become their alt text."""
    problems: dict[str, dict[str, str]] = {}
    no_alt: list[str] = []
    for img in list(root.iter("img")):
        src = img.get("src", "")
        written_without_alt = NO_ALT in img.attrib or "alt" not in img.attrib
        img.attrib.pop(NO_ALT, None)
        alt = " ".join(img.get("alt", "").split())
        if written_without_alt and src not in no_alt:
            no_alt.append(src)
        target, problem = _image_file(src, source, assets)
        if target is not None:
            img.set(IMAGE_FILE, str(target))
            img.set("alt", alt)
            continue
        problems.setdefault(problem, {}).setdefault(src, alt)
        _replace_by_text(img, alt)
    warnings = []
    for problem, images in problems.items():
        lines = [f"{source}: image '{src or '(no address)'}' {problem}; "
                 + (f"its alt text is shown instead ('{alt[:60]}')." if alt else
                    "it is left out (it has no alt text).")
                 for src, alt in images.items()]
        warnings.extend(_at_most(lines, f"{source}: ... and {{n}} more image(s) that "
                                        f"{problem}, each replaced by its alt text."))
    if no_alt:
        lines = [f"{source}: image '{src}' has no alt text; readers who cannot see it, and "
                 f"listeners, get nothing. Write ![what it shows]({src}) (or alt=\"\" for "
                 "a decorative image)." for src in no_alt]
        warnings.extend(_at_most(lines, f"{source}: ... and {{n}} more image(s) with no "
                                        "alt text."))
    return warnings


def _image_file(src: str, source: Path, assets: Path | None) -> tuple[Path | None, str]:
    """(the image file, '') if it can go in the book, else (None, what is wrong)."""
    if not src:
        return None, "has no address"
    if re.match(r"^([a-z][a-z0-9+.-]*:|//)", src, re.I):
        return None, ("is on the network and is never fetched (download it next to the "
                      "source and use a relative path)")
    relative = unquote(src.split("#")[0].split("?")[0])
    folders = [source.parent] + ([assets] if assets is not None else [])
    target = None
    for folder in folders:
        found = resolve_inside(folder, relative.lstrip("/"))
        if found is not None and found.is_file():
            target = found
            break
    if target is None:
        if all(resolve_inside(f, relative.lstrip("/")) is None for f in folders):
            return None, (f"is outside the book's folder (copy it into {source.parent} "
                          "and use a relative path)")
        where = " or ".join(str(f) for f in folders)
        return None, f"does not exist (looked in {where}; pass --assets DIR for a site's files)"
    if target.suffix.lower() not in MEDIA_TYPES:
        return None, "is not a PNG, JPEG, GIF, SVG or WebP file"
    if not _readable(target):
        return None, "cannot be read as an image (a damaged or mislabelled file)"
    return target, ""


def _readable(path: Path) -> bool:
    try:
        if path.suffix.lower() == ".svg":
            etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
            return True
        # deferred: Pillow, ~25 ms, only for a book with images ('script' and 'say' import
        # this module, not the cover's Pillow)
        from PIL import Image as PILImage

        with PILImage.open(path) as picture:
            picture.verify()
        return True
    except Exception:  # Pillow and lxml raise many kinds; any means "not an image"
        return False


def _replace_by_text(img: etree._Element, alt: str) -> None:
    parent = img.getparent()
    if alt:
        shown = etree.Element("span", {"class": "image-alt"})
        shown.text = alt
        shown.tail = img.tail
        parent.replace(img, shown)
        return
    _drop(img)


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    tail = el.tail
    previous = el.getprevious()
    parent.remove(el)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def unlink_outside(root: etree._Element, source: Path, base_url: str) -> list[str]:
    """Links that would leave the book or break it: absolute, or kept as text."""
    outside: list[str] = []
    for a in root.iter("a"):
        if a.get("name") and not a.get("id"):
            a.set("id", a.get("name", ""))  # <a name="x">: the old way to make an anchor
        a.attrib.pop("name", None)
        href = a.get("href")
        if href is None:
            continue
        href = href.strip()
        if href == TEMPLATE_HREF or re.search(r"\{[%{]|%7B(%25|%7B)", href, re.I):
            del a.attrib["href"]  # counted with the template tags
            continue
        if href.startswith("#"):
            a.set("href", "#" + unquote(href[1:]))
            continue
        if href.startswith("//"):
            href = "https:" + href
        if re.match(r"^(https?|mailto):", href, re.I):
            a.set("href", _safe_url(href))
            continue
        if base_url:
            a.set("href", _safe_url(urljoin(base_url.rstrip("/") + "/", href)))
            continue
        del a.attrib["href"]
        if href not in outside:
            outside.append(href)
    lines = [f"{source}: link to '{href}' is not part of the book; it is shown as text. "
             "Set base_url (front matter or --base-url) to link such pages on the "
             "published site, or write a full https:// address." for href in outside]
    return _at_most(lines, f"{source}: ... and {{n}} more link(s) to pages outside the book, "
                           "shown as text.")


def _safe_url(href: str) -> str:
    """An address EPUBCheck accepts: spaces and other unsafe characters %-encoded."""
    return quote(href, safe=":/?#@!$&'()*+,;=%~")


def unique_ids(root: etree._Element) -> None:
    """The second and later uses of an id get a suffix: ids are unique in the book."""
    seen: set[str] = set()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        value = el.get("id")
        if value is None:
            continue
        value = "-".join(value.split()) or "id"  # an id never holds white space
        candidate, count = value, 1
        while candidate in seen:
            count += 1
            candidate = f"{value}-{count}"
        seen.add(candidate)
        el.set("id", candidate)


def _at_most(lines: list[str], more: str) -> list[str]:
    if len(lines) <= LIST_AT_MOST:
        return lines
    return lines[:LIST_AT_MOST - 1] + [more.format(n=len(lines) - LIST_AT_MOST + 1)]
