"""The book's cover: the front matter image made fit for every shop, or a generated one.

Podcast directories and audiobook players want a square RGB JPEG or PNG of
1400-3000 px; EPUB reading systems take any size. One image serves all: a
3000 x 3000 RGB JPEG.

- A front matter ``cover`` is kept byte for byte when it already is one (and
  carries no EXIF, which may hold where and when a photo was taken); otherwise
  it is turned upright, flattened onto a plain background, padded to a square
  with the colour of its own edge (never stretched) and scaled to 3000 px.
- Without one, the title, subtitle and authors are set in a large sans-serif,
  centred, near-black on off-white (contrast about 16:1), wrapped and sized to
  fit inside a margin that survives the round masks some apps apply.

Fonts: Source Sans Pro from the ``font-source-sans-pro`` package, so every
machine draws the same cover; for what it lacks, Noto (SIL Open Font
License) from the ``manimgx-fonts`` package (Noto Sans, Arabic, Hebrew,
Devanagari and 16 more scripts, Noto Emoji, Symbols) and ``manimgx-fonts-cjk``
(Noto Sans CJK, the face for the book's language), then well-known system
fonts. Each character is drawn in the first font whose cmap has it (read with
fontTools), so no character becomes a missing-glyph box; if none has it, a
warning says so. A line is cut where the font or the bidi embedding level
changes (UAX #9 levels from GNU FriBiDi, which raqm loads too); each run is
shaped by Pillow's libraqm layout in its level's direction (Arabic joining,
Indic reordering) and the runs are set in the order of rule L2. Lines break
at spaces, and inside a word only where Unicode line breaking allows (uniseg,
UAX #14: after a hyphen, between CJK characters): a word too long for the line
makes the size smaller, never a break between its letters.

Deterministic: no clock, no EXIF, fixed JPEG settings: the same input gives
the same bytes with the same Pillow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.metadata
import io
import logging
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageStat, features
from uniseg.linebreak import line_break_units

from .cache import OutputCache, code_identity
from .errors import ConfigError
from .layout import cover_filename
from .model import BookMeta, Cover, Publication

__all__ = [
    "COVER_SIZE_PX",
    "cover_filename",
    "generated_cover_alt",
    "keep_cover",
    "make_cover",
    "write_cover",
]

log = logging.getLogger(__name__)

COVER_SIZE_PX = 3000
JPEG_QUALITY = 90
MEDIA_TYPE = "image/jpeg"

BACKGROUND = (246, 243, 236)  # off-white
INK = (27, 27, 27)  # near-black: 15.9:1 on BACKGROUND
MARGIN_PX = 270
#: Vertical gaps between the blocks of text, in px.
GAP_PX = 150
RULE_WIDTH_PX = 560
RULE_HEIGHT_PX = 14
LINE_SPACING = 1.08

#: (largest, smallest) font size in px and most lines, per block of text.
TITLE_SIZES = (340, 130)
SUBTITLE_SIZES = (150, 90)
AUTHOR_SIZES = (140, 90)
SUBTITLE_MAX_HEIGHT_PX = 700
AUTHOR_MAX_HEIGHT_PX = 480

_BUNDLED = {"bold": "SourceSansPro-Bold.ttf", "semibold": "SourceSansPro-Semibold.ttf",
            "regular": "SourceSansPro-Regular.ttf"}
#: System fonts tried, in order, for characters Source Sans Pro does not have.
SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansHebrew-Bold.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arialuni.ttf",
    "C:/Windows/Fonts/arial.ttf",
)


def make_cover(meta: BookMeta, source_dir: Path, cache_dir: Path | None = None) -> Cover:
    """The book's cover: ``meta.cover`` made a 3000 px square RGB JPEG, or a generated one.

    ``meta.cover`` is a path checked by the config (relative ones are resolved
    against ``source_dir``). Raises :class:`ConfigError` if it is not an
    image Pillow can read. A generated cover drawn before is taken from
    ``cache_dir`` (when given; :func:`keep_cover` puts it there): drawing it is
    a fifth of a small book's text-only build.
    """
    if meta.cover is not None:
        path = meta.cover if meta.cover.is_absolute() else source_dir / meta.cover
        alt = meta.cover_alt or f"Cover of {meta.title}"
        return Cover(data=_fit_image(path), media_type=MEDIA_TYPE, alt=alt,
                     width_px=COVER_SIZE_PX, height_px=COVER_SIZE_PX)
    return Cover(data=_generated(meta, cache_dir), media_type=MEDIA_TYPE,
                 alt=meta.cover_alt or generated_cover_alt(meta),
                 width_px=COVER_SIZE_PX, height_px=COVER_SIZE_PX)


def _generated(meta: BookMeta, cache_dir: Path | None) -> bytes:
    """The generated cover's JPEG, from the cache when drawn before from the same inputs."""
    if cache_dir is not None:
        found = _cache(cache_dir).fetch_bytes(_cache_key(meta), ".jpg")
        if found is not None:
            return found[0]
    return _encode(_draw_cover(meta))


def keep_cover(meta: BookMeta, cover: Cover, cache_dir: Path) -> None:
    """Keep a generated cover in ``cache_dir`` for the next build (see :func:`make_cover`)."""
    if meta.cover is not None:
        return  # made from the author's image: not worth keeping
    try:
        _cache(cache_dir).store_bytes(_cache_key(meta), ".jpg", cover.data)
    except OSError as exc:  # a cache that cannot be written only costs time
        log.debug("cover not cached: %s", exc)


def _cache(cache_dir: Path) -> OutputCache:
    return OutputCache(cache_dir)


def _cache_key(meta: BookMeta) -> str:
    """Everything a generated cover's pixels come from: the book's metadata, this
    module, Pillow's version and the fonts installed (see _font_for)."""
    fonts: list[tuple[str, object]] = [(path, Path(path).stat().st_size) for path in
             (*(_bundled_font(weight) for weight in _BUNDLED), *SYSTEM_FONTS)
             if path and Path(path).is_file()]
    fonts += [(name, _package_version(name)) for name in ("manimgx-fonts", "manimgx-fonts-cjk",
                                                          "uniseg", "fonttools")]
    return OutputCache.key({"kind": "cover", "meta": repr(meta), "fonts": fonts,
                            "code": code_identity((sys.modules[__name__],), ("pillow",))})


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def generated_cover_alt(meta: BookMeta) -> str:
    """"Cover: <title> — <subtitle>, by <authors>" (parts left out when missing)."""
    alt = f"Cover: {meta.title}"
    if meta.subtitle:
        alt += f" — {meta.subtitle}"
    if meta.authors:
        alt += f", by {_join_names(meta.authors)}"
    return alt


def write_cover(pub: Publication) -> list[Path]:
    """Write ``pub.cover`` as ``cover.jpg`` in the output folder (nothing if no cover)."""
    if pub.cover is None:
        return []
    path = pub.out_dir / cover_filename(pub.cover)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pub.cover.data)
    return [path]


# --------------------------------------------------------------------------- a given image


def _fit_image(path: Path) -> bytes:
    """The image at ``path`` as a 3000 px square RGB JPEG (its own bytes if it already is)."""
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if _is_ready(opened):
                return data
            icc_profile = opened.info.get("icc_profile")
            if not (isinstance(icc_profile, bytes) and icc_profile[16:20] == b"RGB "):
                icc_profile = None  # a CMYK or grey profile would mislabel RGB pixels
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ConfigError([f"'cover' is {path.name!r}, which cannot be read as an image "
                           f"({exc}); use a JPEG or PNG file."], where=str(path)) from exc
    image = _flatten(image)
    side = max(image.size)
    if image.size != (side, side):
        square = Image.new("RGB", (side, side), _edge_colour(image))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        image = square
    if side != COVER_SIZE_PX:
        image = image.resize((COVER_SIZE_PX, COVER_SIZE_PX), Image.Resampling.LANCZOS)
    return _encode(image, icc_profile=icc_profile)


def _is_ready(image: Image.Image) -> bool:
    """Already a 3000 px square RGB JPEG with no EXIF or XMP (which may locate a photo)?"""
    return (image.format == "JPEG" and image.mode == "RGB"
            and image.size == (COVER_SIZE_PX, COVER_SIZE_PX)
            and "exif" not in image.info and "xmp" not in image.info and not image.getexif())


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid over the plain background."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def _edge_colour(image: Image.Image) -> tuple[int, int, int]:
    """The mean colour of the image's outermost pixels, so padding looks like a frame."""
    width, height = image.size
    strips = [image.crop((0, 0, width, 1)), image.crop((0, height - 1, width, height)),
              image.crop((0, 0, 1, height)), image.crop((width - 1, 0, width, height))]
    totals = [0.0, 0.0, 0.0]
    count = 0
    for strip in strips:
        for channel, total in enumerate(ImageStat.Stat(strip).sum[:3]):
            totals[channel] += total
        count += strip.width * strip.height
    red, green, blue = (round(total / count) for total in totals)
    return (red, green, blue)


def _encode(image: Image.Image, icc_profile: bytes | None = None) -> bytes:
    """Baseline JPEG with fixed settings and no EXIF: the same pixels, the same bytes."""
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": JPEG_QUALITY, "optimize": False,
                                  "progressive": False, "subsampling": "4:2:0",
                                  "dpi": (72, 72)}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


# --------------------------------------------------------------------------- a generated cover


@dataclass(frozen=True, slots=True)
class _Face:
    """One font: a file, and the face's index when the file is a collection (.ttc)."""

    path: str
    index: int = 0


@dataclass(frozen=True, slots=True)
class _Block:
    """A block of text set at one size: its lines, their line height, and the fonts
    (in order of preference) that its characters are drawn in."""

    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    lines: tuple[str, ...]
    line_height_px: int
    chain: _Chain | None = None

    @property
    def height_px(self) -> int:
        return self.line_height_px * len(self.lines)


def _draw_cover(meta: BookMeta) -> Image.Image:
    width = COVER_SIZE_PX - 2 * MARGIN_PX
    height = COVER_SIZE_PX - 2 * MARGIN_PX
    authors = _join_names(meta.authors)

    author_block = (_fit(authors, "semibold", AUTHOR_SIZES, width, AUTHOR_MAX_HEIGHT_PX,
                         meta.language)
                    if authors else None)
    subtitle_block = (_fit(meta.subtitle, "regular", SUBTITLE_SIZES, width,
                           SUBTITLE_MAX_HEIGHT_PX, meta.language) if meta.subtitle else None)
    reserved = GAP_PX if author_block is None else author_block.height_px + 2 * GAP_PX
    if subtitle_block is not None:
        reserved += subtitle_block.height_px + 2 * GAP_PX + RULE_HEIGHT_PX
    title_block = _fit(meta.title, "bold", TITLE_SIZES, width, height - reserved,
                       meta.language)

    image = Image.new("RGB", (COVER_SIZE_PX, COVER_SIZE_PX), BACKGROUND)
    draw = ImageDraw.Draw(image)
    centre_x = COVER_SIZE_PX // 2

    # Title and subtitle sit together in the space above the authors, centred
    # vertically a little above the middle, where the eye lands first.
    upper = title_block.height_px
    if subtitle_block is not None:
        upper += 2 * GAP_PX + RULE_HEIGHT_PX + subtitle_block.height_px
    lower_edge = COVER_SIZE_PX - MARGIN_PX
    if author_block is not None:
        lower_edge -= author_block.height_px + GAP_PX
    top = MARGIN_PX + max(0, (lower_edge - MARGIN_PX - upper) * 2 // 5)
    y = _draw_block(draw, title_block, centre_x, top)
    if subtitle_block is not None:
        y += GAP_PX
        draw.rectangle((centre_x - RULE_WIDTH_PX // 2, y, centre_x + RULE_WIDTH_PX // 2 - 1,
                        y + RULE_HEIGHT_PX - 1), fill=INK)
        y += RULE_HEIGHT_PX + GAP_PX
        _draw_block(draw, subtitle_block, centre_x, y)
    if author_block is not None:
        _draw_block(draw, author_block, centre_x,
                    COVER_SIZE_PX - MARGIN_PX - author_block.height_px)
    return image


def _draw_block(draw: ImageDraw.ImageDraw, block: _Block, centre_x: int, top: int) -> int:
    """Draw the lines centred under each other from ``top``; returns the bottom."""
    y = top
    for line in block.lines:
        runs = block.chain.runs(line) if block.chain is not None else []
        if len(runs) <= 1:
            # One font: raqm orders the whole line itself (UAX #9).
            font = block.chain.font(runs[0][1]) if runs and block.chain else block.font
            draw.text((centre_x, y), line, font=font, fill=INK, anchor="ma")
        else:
            _draw_runs(draw, block, line, centre_x, y)
        y += block.line_height_px
    return y


def _draw_runs(draw: ImageDraw.ImageDraw, block: _Block, line: str,
               centre_x: int, top: int) -> None:
    """A line in several fonts: cut where the font or the bidi level changes, each
    piece shaped on its own (raqm) in its level's direction, the pieces set side
    by side on one baseline in the order of UAX #9 rule L2."""
    assert block.chain is not None
    chain = block.chain
    runs = chain.bidi_runs(line)
    ascent = max(_ascent(chain.font(face)) for _, face, _ in runs)
    x = centre_x - chain.length(line) / 2
    for text, face, level in _visual_order(runs):
        font = chain.font(face)
        direction = _direction(level)
        if direction is None:
            draw.text((x, top + ascent), text, font=font, fill=INK, anchor="ls")
        else:
            draw.text((x, top + ascent), text, font=font, fill=INK, anchor="ls",
                      direction=direction)
        x += _length(font, text, level)


_BidiRun = tuple[str, _Face, int]


def _bidi_runs(text: str, runs: list[tuple[str, _Face]]) -> list[_BidiRun]:
    """The font runs of ``text`` (logical order) cut again where the embedding level
    changes, each with its level: every piece has one font and one direction.

    Joiners, variation selectors and emoji modifiers keep the level of what they
    join, so a ZWJ sequence is never cut."""
    levels = _levels(text)
    pieces: list[_BidiRun] = []
    position = 0
    for run_text, face in runs:
        level = levels[position] if run_text else 0
        for offset, character in enumerate(run_text):
            if not (offset and _ignorable(character)):
                level = levels[position + offset]
            if pieces and pieces[-1][1] == face and pieces[-1][2] == level and offset:
                pieces[-1] = (pieces[-1][0] + character, face, level)
            else:
                pieces.append((character, face, level))
        position += len(run_text)
    return pieces


def _visual_order(runs: list[_BidiRun]) -> list[_BidiRun]:
    """Runs left to right by UAX #9 rule L2: from the highest level down to the lowest
    odd one, every stretch of runs at that level or higher is reversed (each run's
    own letters are ordered by raqm, in its level's direction)."""
    order = list(runs)
    if not order:
        return order
    lowest_odd = min(level for _, _, level in order) | 1
    for threshold in range(max(level for _, _, level in order), lowest_odd - 1, -1):
        start = 0
        while start < len(order):
            if order[start][2] < threshold:
                start += 1
                continue
            end = start
            while end < len(order) and order[end][2] >= threshold:
                end += 1
            order[start:end] = order[start:end][::-1]
            start = end
    return order


def _direction(level: int) -> str | None:
    """The direction raqm sets a run of one level in (None without raqm: basic layout)."""
    if not features.check("raqm"):
        return None
    return "rtl" if level % 2 else "ltr"


def _length(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str, level: int) -> float:
    direction = _direction(level)
    if direction is None or not isinstance(font, ImageFont.FreeTypeFont):
        return font.getlength(text)
    return font.getlength(text, direction=direction)


#: FriBiDi's paragraph directions (fribidi-types.h): FRIBIDI_PAR_ON lets it find
#: the direction from the first strong letter (UAX #9 P2, P3; left to right if none).
_FRIBIDI_PAR_ON = 0x40
#: The names Pillow's own FriBiDi shim opens (src/thirdparty/fribidi-shim).
_FRIBIDI_NAMES = ("libfribidi.so.0", "libfribidi.so", "libfribidi.0.dylib",
                  "fribidi-0", "libfribidi-0", "fribidi")


@functools.cache
def _fribidi() -> ctypes.CDLL | None:
    """GNU FriBiDi, the library Pillow's raqm layout already loads, or None."""
    names = [*_FRIBIDI_NAMES, ctypes.util.find_library("fribidi")]
    for name in names:
        if not name:
            continue
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        text, types = ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_uint32)
        library.fribidi_get_bidi_types.argtypes = [text, ctypes.c_int, types]
        library.fribidi_get_bidi_types.restype = None
        library.fribidi_get_bracket_types.argtypes = [text, ctypes.c_int, types, types]
        library.fribidi_get_bracket_types.restype = None
        library.fribidi_get_par_embedding_levels_ex.argtypes = [
            types, types, ctypes.c_int, ctypes.POINTER(ctypes.c_uint32),
            ctypes.POINTER(ctypes.c_int8)]
        library.fribidi_get_par_embedding_levels_ex.restype = ctypes.c_int8
        return library
    return None


@functools.lru_cache(maxsize=256)
def _levels(text: str) -> tuple[int, ...]:
    """Each character's embedding level by the Unicode Bidirectional Algorithm
    (UAX #9, with brackets, rule N0), the paragraph's direction from its first
    strong letter; computed by FriBiDi. Without FriBiDi (and so without raqm),
    every character has the paragraph's level."""
    library = _fribidi()
    size = len(text)
    if library is not None and size:
        characters = (ctypes.c_uint32 * size)(*map(ord, text))
        types = (ctypes.c_uint32 * size)()
        brackets = (ctypes.c_uint32 * size)()
        levels = (ctypes.c_int8 * size)()
        library.fribidi_get_bidi_types(characters, size, types)
        library.fribidi_get_bracket_types(characters, size, types, brackets)
        direction = ctypes.c_uint32(_FRIBIDI_PAR_ON)
        if library.fribidi_get_par_embedding_levels_ex(types, brackets, size,
                                                       ctypes.byref(direction), levels):
            return tuple(levels)
    return (1 if _starts_rtl(text) else 0,) * size


def _ascent(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    return font.getmetrics()[0] if isinstance(font, ImageFont.FreeTypeFont) else 0


def _starts_rtl(text: str) -> bool:
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _fit(text: str, weight: str, sizes: tuple[int, int], width_px: int,
         max_height_px: int, language: str = "") -> _Block:
    """The largest size from ``sizes`` at which ``text`` wraps into the box.

    Words are never broken: a line breaks at spaces, or inside a word only
    where Unicode line breaking allows it (after a hyphen, between CJK
    characters); when a word is wider than the box even at the smallest
    size, the size goes on down until it fits.
    """
    largest, smallest = sizes
    faces = _faces_for(text, weight, language)
    size = largest
    while True:
        chain = _Chain(faces, size, weight)
        lines, overflow = _wrap_balanced(text, chain.length, width_px)
        block = _Block(font=chain.primary, lines=tuple(lines),
                       line_height_px=chain.line_height(text), chain=chain)
        if overflow and size > _TINY_PX:
            size = max(_TINY_PX, size - max(4, size // 20))
            continue
        if block.height_px <= max_height_px or size <= smallest:
            break
        size = max(smallest, size - max(4, size // 20))
    if block.height_px > max_height_px:
        # Even the smallest size is too tall: keep what fits and say it goes on.
        keep = max(1, max_height_px // block.line_height_px)
        lines = list(block.lines[:keep])
        lines[-1] = _ellipsize(lines[-1], chain.length, width_px)
        block = _Block(font=block.font, lines=tuple(lines),
                       line_height_px=block.line_height_px, chain=chain)
    return block


#: The smallest size a word too long for the line is set at (px).
_TINY_PX = 24


def _wrap_balanced(text: str, length: Callable[[str], float],
                   width_px: int) -> tuple[list[str], bool]:
    """Wrap into as few lines as greedy wrapping, but of even lengths (no lone last word).

    Also says whether a piece that cannot be broken is wider than the line.
    """
    lines, overflow = _wrap(text, length, width_px)
    if len(lines) < 2 or overflow:
        return lines, overflow
    narrow, wide = 1, width_px  # the narrowest width that still needs no more lines
    while narrow < wide:
        middle = (narrow + wide) // 2
        found, too_wide = _wrap(text, length, middle)
        if len(found) <= len(lines) and not too_wide:
            wide = middle
        else:
            narrow = middle + 1
    return _wrap(text, length, wide)


def _wrap(text: str, length: Callable[[str], float], width_px: int) -> tuple[list[str], bool]:
    """Greedy wrap at spaces; a word wider than the line is broken only at its Unicode
    line-break opportunities (uniseg, UAX #14). Returns the lines, and whether some
    piece is still wider than the line."""
    lines: list[str] = []
    current = ""
    overflow = False
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if length(candidate) <= width_px:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        if length(word) <= width_px:
            current = word
            continue
        for unit in line_break_units(word):
            if length(current + unit) <= width_px:
                current += unit
                continue
            if current:
                lines.append(current)
            overflow = overflow or length(unit) > width_px
            current = unit
    if current:
        lines.append(current)
    return lines or [""], overflow


def _ellipsize(line: str, length: Callable[[str], float], width_px: int) -> str:
    while line and length(line + "…") > width_px:
        line = line[:-1].rstrip()
    return line + "…"


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return round((ascent + descent) * LINE_SPACING)
    return round(font.getbbox("Hg")[3] * 1.4)


#: Variable fonts' weight axis value for each weight we set.
_WEIGHTS = {"bold": 700, "semibold": 600, "regular": 400}


@functools.lru_cache(maxsize=64)
def _load_font(path: str, size: int, index: int = 0,
               weight: str = "") -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if not path:
        return ImageFont.load_default(size=size)
    font = ImageFont.truetype(path, size, index=index)
    if weight:
        try:
            axes = font.get_variation_axes()
        except OSError:  # not a variable font: the file is its weight
            return font
        values: list[float] = [
            min(max(_WEIGHTS[weight], int(axis["minimum"] or 0)), int(axis["maximum"] or 0))
            if axis.get("name") in (b"Weight", "Weight") else int(axis["default"] or 0)
            for axis in axes]
        font.set_variation_by_axes(values)
    return font


class _Chain:
    """Fonts in order of preference at one size: each character is drawn in the first
    that has it (its cmap, read with fontTools), so no character becomes a box."""

    def __init__(self, faces: tuple[_Face, ...], size: int, weight: str) -> None:
        self.faces, self.size, self.weight = faces, size, weight
        self.primary = self.font(faces[0]) if faces else _load_font("", size)

    def font(self, face: _Face) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if not face.path:
            return _load_font("", self.size)
        # Only the packaged variable fonts need a weight set; the bundled Source
        # Sans Pro files are one weight each.
        weight = self.weight if _is_packaged(face.path) else ""
        return _load_font(face.path, self.size, face.index, weight)

    def runs(self, text: str) -> list[tuple[str, _Face]]:
        return _runs(text, self.faces)

    def bidi_runs(self, text: str) -> list[_BidiRun]:
        return _bidi_runs(text, self.runs(text))

    def length(self, text: str) -> float:
        runs = self.runs(text)
        if len(runs) <= 1:
            return (self.font(runs[0][1]) if runs else self.primary).getlength(text)
        return sum(_length(self.font(face), piece, level)
                   for piece, face, level in _bidi_runs(text, runs))

    def line_height(self, text: str) -> int:
        used = {face for _, face in self.runs(text)}
        if not used:
            return _line_height(self.primary)
        return max(_line_height(self.font(face)) for face in used)


def _runs(text: str, faces: tuple[_Face, ...]) -> list[tuple[str, _Face]]:
    """``text`` cut where the font changes, in logical order.

    Each letter or symbol is set in the first font that has it; joiners and
    variation selectors in the font of what they join. Spaces and punctuation
    between two fonts go, as the Unicode bidirectional algorithm would place
    them, with the side whose direction is the line's (rule N1/N2), else with
    the font preferred for them (a space after an emoji is the text's space).
    """
    chosen: list[_Face | None] = []
    for character in text:
        if _ignorable(character) and chosen:
            chosen.append(chosen[-1])
        elif _neutral(character):
            chosen.append(None)
        else:
            chosen.append(_first_face(faces, character))
    rtl_line = _starts_rtl(text)
    index = 0
    while index < len(text):
        if chosen[index] is not None:
            index += 1
            continue
        end = index
        while end < len(text) and chosen[end] is None:
            end += 1
        before = chosen[index - 1] if index else None
        after = chosen[end] if end < len(text) else None
        neutrals = text[index:end]
        face = _side(neutrals, before, after, rtl_line, text, index, end, faces)
        for position in range(index, end):
            chosen[position] = face
        index = end
    runs: list[tuple[str, _Face]] = []
    for character, given in zip(text, chosen, strict=True):
        assert given is not None
        if runs and runs[-1][1] == given:
            runs[-1] = (runs[-1][0] + character, given)
        else:
            runs.append((character, given))
    return runs


def _side(neutrals: str, before: _Face | None, after: _Face | None, rtl_line: bool,
          text: str, start: int, end: int, faces: tuple[_Face, ...]) -> _Face:
    """The font for a run of spaces and punctuation between two fonts."""
    options = [f for f in (before, after) if f is not None]
    if not options:
        return _first_face(faces, neutrals[0])
    if len(options) == 2 and options[0] != options[1]:
        before_rtl = _starts_rtl(text[:start][::-1])
        after_rtl = _starts_rtl(text[end:])
        if before_rtl != after_rtl:
            options = [before] if before_rtl == rtl_line else [after]  # type: ignore[list-item]
        else:
            preferred = _first_face(faces, neutrals[0])
            options = [preferred] if preferred in options else options[:1]
    face = options[0]
    return face if all(_covers(face, c) for c in neutrals) else _first_face(faces, neutrals[0])


def _first_face(faces: tuple[_Face, ...], character: str) -> _Face:
    return next((f for f in faces if _covers(f, character)), faces[0] if faces else _Face(""))


def _ignorable(character: str) -> bool:
    """Joiners, variation selectors, direction marks: drawn with what they join."""
    code = ord(character)
    return (code in (0x200C, 0x200D, 0x200E, 0x200F, 0x20E3)
            or 0xFE00 <= code <= 0xFE0F or 0xE0020 <= code <= 0xE007F
            or 0xE0100 <= code <= 0xE01EF or 0x1F3FB <= code <= 0x1F3FF)


def _neutral(character: str) -> bool:
    category = unicodedata.category(character)
    return category[0] in "ZP" or category in ("Mn", "Me", "Sk")


@functools.lru_cache(maxsize=64)
def _cmap(face: _Face) -> frozenset[int]:
    """The code points ``face`` has glyphs for (its best cmap, read with fontTools)."""
    if not face.path:
        return frozenset(range(0x20, 0x7F))  # Pillow's built-in font: ASCII
    try:
        font = TTFont(face.path, fontNumber=face.index, lazy=True)
        try:
            return frozenset(font.getBestCmap() or {})
        finally:
            font.close()
    except (OSError, TTLibError):
        return frozenset()


def _covers(face: _Face, character: str) -> bool:
    return ord(character) in _cmap(face)


def _faces_for(text: str, weight: str, language: str) -> tuple[_Face, ...]:
    """The fonts to set ``text`` in, in order; warns about characters none of them has."""
    faces = _faces(weight, language)
    missing = sorted({c for c in text if not c.isspace() and not _ignorable(c)
                      and not any(_covers(f, c) for f in faces)})
    if missing:
        log.warning("The generated cover cannot show %s in %r: no installed font has %s. "
                    "Reinstall the publisher's fonts (pip install manimgx-fonts "
                    "manimgx-fonts-cjk) or set 'cover' in the front matter to an image.",
                    "these characters" if len(missing) > 1 else "this character",
                    "".join(missing[:12]), "them" if len(missing) > 1 else "it")
    elif not features.check("raqm") and any(_needs_shaping(c) for c in text):
        log.warning("The generated cover has right-to-left or joined script, which Pillow "
                    "can only lay out with libraqm (and FriBiDi); install them (e.g. apt-get "
                    "install libraqm0 libfribidi0) or set 'cover' in the front matter to an "
                    "image.")
    # Only the fonts the text uses: the cache key and the chain stay small.
    used = [f for f in faces if any(_covers(f, c) for c in text if not c.isspace())]
    return tuple(used or faces[:1])


#: Noto fonts from the manimgx-fonts package, in the order they are tried after
#: Source Sans Pro (Latin, Greek, Cyrillic, then other scripts, emoji, symbols).
_PACKAGED = ("NotoSans[wght].ttf", "NotoSansArabic[wght].ttf", "NotoSansHebrew[wght].ttf",
             "NotoSansDevanagari[wght].ttf", "NotoSansBengali[wght].ttf",
             "NotoSansThai[wght].ttf", "NotoSansTamil[wght].ttf", "NotoSansTelugu[wght].ttf",
             "NotoSansKannada[wght].ttf", "NotoSansMalayalam[wght].ttf",
             "NotoSansGujarati[wght].ttf", "NotoSansGurmukhi[wght].ttf",
             "NotoSansOriya[wght].ttf", "NotoSansSinhala[wght].ttf",
             "NotoSansKhmer[wght].ttf", "NotoSansLao[wght].ttf", "NotoSansMyanmar[wght].ttf",
             "NotoSansEthiopic[wght].ttf", "NotoSansGeorgian[wght].ttf",
             "NotoSansArmenian[wght].ttf")
_EMOJI_AND_SYMBOLS = ("NotoEmoji[wght].ttf", "NotoSansSymbols[wght].ttf")
_CJK = "NotoSansCJK-VF.otf.ttc"
#: The face of the CJK collection for a language: its glyph forms differ (JP, KR, SC, TC, HK).
_CJK_INDEX = {"ja": 0, "ko": 1, "zh": 2, "zh-hans": 2, "zh-cn": 2, "zh-sg": 2, "zh-hant": 3,
              "zh-tw": 3, "zh-hk": 4, "zh-mo": 4, "yue": 4}


def _faces(weight: str, language: str) -> tuple[_Face, ...]:
    faces = [_Face(path) for path in (_bundled_font(weight),) if path]
    folder = _package_folder("manimgx_fonts")
    if folder is not None:
        faces += [_Face(str(folder / name)) for name in _PACKAGED if (folder / name).is_file()]
    cjk = _package_folder("manimgx_fonts_cjk")
    if cjk is not None and (cjk / _CJK).is_file():
        tag = language.lower()
        index = _CJK_INDEX.get(tag, _CJK_INDEX.get(tag.split("-")[0], 2))
        faces.append(_Face(str(cjk / _CJK), index))
    if folder is not None:
        faces += [_Face(str(folder / name)) for name in _EMOJI_AND_SYMBOLS
                  if (folder / name).is_file()]
    faces += [_Face(path) for path in SYSTEM_FONTS if Path(path).is_file()]
    return tuple(faces) or (_Face(""),)


@functools.lru_cache(maxsize=4)
def _package_folder(name: str) -> Path | None:
    try:
        return Path(str(files(name)))
    except (ImportError, ModuleNotFoundError, TypeError):
        return None


def _is_packaged(path: str) -> bool:
    return any(folder is not None and path.startswith(str(folder))
               for folder in (_package_folder("manimgx_fonts"),
                              _package_folder("manimgx_fonts_cjk")))


def _bundled_font(weight: str) -> str:
    try:
        path = files("font_source_sans_pro") / "files" / _BUNDLED[weight]
    except (ImportError, ModuleNotFoundError):
        log.warning("The font-source-sans-pro package is not installed: the generated "
                    "cover uses Pillow's built-in font, which has only ASCII letters. "
                    "Install it with: pip install font-source-sans-pro")
        return ""
    return str(path)


def _needs_shaping(character: str) -> bool:
    """Right-to-left or joining scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko ...)."""
    return "\u0590" <= character <= "\u08ff" or "\ufb1d" <= character <= "\ufeff"


def _join_names(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
