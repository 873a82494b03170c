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
machine draws the same cover. For scripts it lacks (Arabic, Hebrew, CJK ...)
well-known system fonts are tried; if none has the characters, a warning
says so and how to fix it (install fonts, or give a cover image).

Deterministic: no clock, no EXIF, fixed JPEG settings: the same input gives
the same bytes with the same Pillow.
"""

from __future__ import annotations

import functools
import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageStat, features

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
    fonts = [(path, Path(path).stat().st_size) for path in
             (*(_bundled_font(weight) for weight in _BUNDLED), *SYSTEM_FONTS)
             if path and Path(path).is_file()]
    return OutputCache.key({"kind": "cover", "meta": repr(meta), "fonts": fonts,
                            "code": code_identity((sys.modules[__name__],), ("pillow",))})


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
class _Block:
    """A block of text set in one font: its lines and their line height."""

    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    lines: tuple[str, ...]
    line_height_px: int

    @property
    def height_px(self) -> int:
        return self.line_height_px * len(self.lines)


def _draw_cover(meta: BookMeta) -> Image.Image:
    width = COVER_SIZE_PX - 2 * MARGIN_PX
    height = COVER_SIZE_PX - 2 * MARGIN_PX
    authors = _join_names(meta.authors)

    author_block = (_fit(authors, "semibold", AUTHOR_SIZES, width, AUTHOR_MAX_HEIGHT_PX)
                    if authors else None)
    subtitle_block = (_fit(meta.subtitle, "regular", SUBTITLE_SIZES, width,
                           SUBTITLE_MAX_HEIGHT_PX) if meta.subtitle else None)
    reserved = GAP_PX if author_block is None else author_block.height_px + 2 * GAP_PX
    if subtitle_block is not None:
        reserved += subtitle_block.height_px + 2 * GAP_PX + RULE_HEIGHT_PX
    title_block = _fit(meta.title, "bold", TITLE_SIZES, width, height - reserved)

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
        draw.text((centre_x, y), line, font=block.font, fill=INK, anchor="ma")
        y += block.line_height_px
    return y


def _fit(text: str, weight: str, sizes: tuple[int, int], width_px: int,
         max_height_px: int) -> _Block:
    """The largest size from ``sizes`` at which ``text`` wraps into the box."""
    largest, smallest = sizes
    font_path = _font_for(text, weight)
    size = largest
    while True:
        font = _load_font(font_path, size)
        block = _Block(font=font, lines=tuple(_wrap_balanced(text, font, width_px)),
                       line_height_px=_line_height(font))
        if block.height_px <= max_height_px or size <= smallest:
            break
        size = max(smallest, size - max(4, size // 20))
    if block.height_px > max_height_px:
        # Even the smallest size is too tall: keep what fits and say it goes on.
        keep = max(1, max_height_px // block.line_height_px)
        lines = list(block.lines[:keep])
        lines[-1] = _ellipsize(lines[-1], block.font, width_px)
        block = _Block(font=block.font, lines=tuple(lines),
                       line_height_px=block.line_height_px)
    return block


def _wrap_balanced(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
                   width_px: int) -> list[str]:
    """Wrap into as few lines as greedy wrapping, but of even lengths (no lone last word)."""
    lines = _wrap(text, font, width_px)
    if len(lines) < 2:
        return lines
    narrow, wide = 1, width_px  # the narrowest width that still needs no more lines
    while narrow < wide:
        middle = (narrow + wide) // 2
        if len(_wrap(text, font, middle)) <= len(lines):
            wide = middle
        else:
            narrow = middle + 1
    return _wrap(text, font, wide)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width_px: int) -> list[str]:
    """Greedy word wrap; a word wider than the line is broken between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width_px:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        while font.getlength(word) > width_px:
            cut = len(word) - 1
            while cut > 1 and font.getlength(word[:cut]) > width_px:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    return lines or [""]


def _ellipsize(line: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
               width_px: int) -> str:
    while line and font.getlength(line + "…") > width_px:
        line = line[:-1].rstrip()
    return line + "…"


def _line_height(font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    if isinstance(font, ImageFont.FreeTypeFont):
        ascent, descent = font.getmetrics()
        return round((ascent + descent) * LINE_SPACING)
    return round(font.getbbox("Hg")[3] * 1.4)


@functools.lru_cache(maxsize=32)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if not path:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _font_for(text: str, weight: str) -> str:
    """The first font that has every character of ``text`` ('' = Pillow's built-in)."""
    candidates = [p for p in (_bundled_font(weight), *SYSTEM_FONTS) if p and Path(p).is_file()]
    characters = sorted({c for c in text if not c.isspace()})
    best, best_missing = "", characters
    for path in candidates:
        missing = [c for c in characters if not _has_glyph(path, c)]
        if not missing:
            best, best_missing = path, []
            break
        if len(missing) < len(best_missing):
            best, best_missing = path, missing
    if best_missing:
        log.warning("The generated cover cannot show %s in %r: no installed font has %s. "
                    "Install fonts for this script (e.g. apt-get install fonts-dejavu-core "
                    "fonts-noto-core) or set 'cover' in the front matter to an image.",
                    "these characters" if len(best_missing) > 1 else "this character",
                    "".join(best_missing[:12]), "them" if len(best_missing) > 1 else "it")
    elif not features.check("raqm") and any(_needs_shaping(c) for c in characters):
        log.warning("The generated cover has right-to-left or joined script, which Pillow "
                    "can only lay out with libraqm (and FriBiDi); install them (e.g. apt-get "
                    "install libraqm0 libfribidi0) or set 'cover' in the front matter to an "
                    "image.")
    return best


def _bundled_font(weight: str) -> str:
    try:
        from importlib.resources import files

        path = files("font_source_sans_pro") / "files" / _BUNDLED[weight]
    except (ImportError, ModuleNotFoundError):
        log.warning("The font-source-sans-pro package is not installed: the generated "
                    "cover uses Pillow's built-in font, which has only ASCII letters. "
                    "Install it with: pip install font-source-sans-pro")
        return ""
    return str(path)


@functools.lru_cache(maxsize=4096)
def _has_glyph(path: str, character: str) -> bool:
    """Does the font draw ``character`` as something other than its 'missing' box?"""
    font = _load_font(path, 48)
    missing = font.getmask("\U0010fffd")
    mask = font.getmask(character)
    return (mask.size, bytes(mask)) != (missing.size, bytes(missing))


def _needs_shaping(character: str) -> bool:
    """Right-to-left or joining scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko ...)."""
    return "\u0590" <= character <= "\u08ff" or "\ufb1d" <= character <= "\ufeff"


def _join_names(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
