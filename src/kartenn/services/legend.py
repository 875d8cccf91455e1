"""Legends drawn from the neutral style (one swatch per rule), and error messages drawn into images.

>>> png = legend_image(style, "png")   # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from PIL import Image, ImageDraw, ImageFont

from kartenn.domain.style import Fill, Label, Line, Marker, Style
from kartenn.formats.mapnik_style import MARKERS, ramp_stops
from kartenn.services.render import mapnik

PIL_FORMATS = {"png": "PNG", "png8": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    fonts = Path(mapnik.paths.fontscollectionpath)
    for candidate in sorted(fonts.rglob("DejaVuSans.ttf")):
        return ImageFont.truetype(str(candidate), size)
    return ImageFont.load_default()


def encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        image = image.convert("RGB")
    elif fmt == "png8":
        image = image.convert("RGBA").quantize(256)
    image.save(buf, PIL_FORMATS.get(fmt, "PNG"))
    return buf.getvalue()


def legend_image(style: Style, fmt: str = "png", swatch: int = 20) -> bytes:
    """One row per rule: its symbol and its title; a colour bar for a ramp."""
    font = _font(12)
    if style.kind == "ramp":
        stops = ramp_stops(style)
        image = Image.new("RGBA", (120, 8 * len(stops) + 8), (255, 255, 255, 0))
        draw = ImageDraw.Draw(image)
        for k, (_, color) in enumerate(reversed(stops)):
            draw.rectangle([4, 4 + 8 * k, 4 + swatch, 12 + 8 * k], fill=color)
        draw.text((swatch + 10, 2), f"{stops[-1][0]:.6g}", fill="#222222", font=font)
        draw.text((swatch + 10, image.height - 16), f"{stops[0][0]:.6g}", fill="#222222", font=font)
        return encode(image, fmt)
    rows = style.rules if style.kind == "vector" else []
    titles = [r.title or r.name or style.title or style.name for r in rows] or [style.title or "RGB"]
    text_width = max(int(draw_width(t, font)) for t in titles)
    image = Image.new("RGBA", (swatch + 14 + text_width, max(1, len(titles)) * (swatch + 4) + 4),
                      (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    for k, title in enumerate(titles):
        top = 4 + k * (swatch + 4)
        box = (4, top, 4 + swatch, top + swatch)
        for sym in rows[k].symbolizers if rows else []:
            _symbol(draw, sym, box)
        if not rows:
            for n, c in enumerate(("#d04040", "#40a040", "#4060d0")):
                draw.rectangle([4 + n * swatch // 3, top, 4 + (n + 1) * swatch // 3, top + swatch], fill=c)
        draw.text((swatch + 10, top + swatch / 2 - 7), title, fill="#222222", font=font)
    return encode(image, fmt)


def draw_width(text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> float:
    return font.getlength(text) if hasattr(font, "getlength") else 6 * len(text)


def _symbol(draw: ImageDraw.ImageDraw, sym: object, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    if isinstance(sym, Fill):
        fill = _rgba(sym.color, sym.opacity)
        outline = sym.outline_color if sym.outline_width > 0 else None
        draw.rectangle([x0 + 1, y0 + 1, x1 - 1, y1 - 1], fill=fill, outline=outline,
                       width=max(1, round(sym.outline_width)))
    elif isinstance(sym, Line):
        points = [(x0 + 1, y1 - 3), (x0 + (x1 - x0) // 2, y0 + 4), (x1 - 1, y1 - 6)]
        if sym.casing_color and sym.casing_width > 0:
            draw.line(points, fill=sym.casing_color, width=max(1, round(sym.casing_width)), joint="curve")
        draw.line(points, fill=_rgba(sym.color, sym.opacity), width=max(1, round(sym.width)), joint="curve")
    elif isinstance(sym, Marker):
        cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(sym.radius, (x1 - x0) / 2 - 1)
        fill, width = _rgba(sym.color, sym.opacity), max(1, round(sym.outline_width))
        if sym.shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=sym.outline_color, width=width)
        else:
            turn = math.radians(sym.rotation)
            corners: list[Any] = [(cx + r * (x * math.cos(turn) - y * math.sin(turn)),
                                  cy + r * (x * math.sin(turn) + y * math.cos(turn))) for x, y in _shape(sym.shape)]
            draw.polygon(corners, fill=fill, outline=sym.outline_color, width=width)
    elif isinstance(sym, Label):
        draw.text((x0 + 3, y0 + 2), "Aa", fill=sym.color, font=_font(11))


@lru_cache(maxsize=8)
def _shape(name: str) -> list[tuple[float, float]]:
    """The outline of a mark, in -1..1, from the SVG the maps draw it with (a 20×20 view box)."""
    root = etree.fromstring((MARKERS / f"{name}.svg").read_bytes())
    polygon = root.find("{http://www.w3.org/2000/svg}polygon")
    if polygon is None:  # the square is a rect
        return [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    pairs = [p.split(",") for p in polygon.get("points", "").split()]
    return [(float(x) / 10 - 1, float(y) / 10 - 1) for x, y in pairs]


def _rgba(color: str, opacity: float) -> tuple[int, int, int, int]:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    a = int(color[7:9], 16) if len(color) == 9 else 255
    return r, g, b, round(a * opacity)


def message_image(message: str, width: int, height: int, fmt: str) -> bytes:
    """An image carrying an error message (WMS EXCEPTIONS=INIMAGE)."""
    image = Image.new("RGBA", (width, height), (255, 255, 255, 0 if fmt != "jpeg" else 255))
    draw = ImageDraw.Draw(image)
    lines = textwrap.wrap(message, width=max(10, width // 7))
    for k, line in enumerate(lines):
        draw.text((4, 4 + 14 * k), line, fill="#b00020", font=_font(12))
    return encode(image, fmt)
