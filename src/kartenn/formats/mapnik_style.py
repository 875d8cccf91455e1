"""Neutral style model → Mapnik XML (pure: no I/O).

>>> from kartenn.domain.style import parse_style
>>> style = parse_style({"rules": [{"symbolizers": [{"kind": "line", "color": "#ff0000", "width": 2}]}]})
>>> xml = map_xml([LayerXml("roads", "epsg:4326", {"type": "ogr", "file": "r.gpkg"}, style)])
>>> b'<LineSymbolizer stroke="#ff0000" stroke-width="2.0"' in xml
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from kartenn.domain.style import Fill, Filter, Label, Line, Marker, Style, Symbolizer
from kartenn.errors import InvalidInput

FONT = "DejaVu Sans Book"
RAMP_STOPS = 16
PROPERTY = re.compile(r"^[^\[\]\r\n]{1,128}$")
MARKERS = Path(__file__).parent / "markers"  # SVG shapes other than the circle Mapnik draws itself
RAMP_MODES = {"ramp": "linear", "intervals": "discrete", "values": "exact"}


@dataclass
class LayerXml:
    """One map layer: its name, its CRS (as Mapnik takes it), its datasource parameters and its style."""

    name: str
    srs: str
    datasource: dict[str, Any]
    style: Style


def map_xml(layers: list[LayerXml], srs: str = "epsg:3857") -> bytes:
    """A whole Mapnik map document: one style and one layer per entry, drawn in order."""
    root = etree.Element("Map", srs=srs, **{"background-color": "transparent"})
    for i, layer in enumerate(layers):
        style_name = f"s{i}"
        root.append(style_element(layer.style, style_name))
        el = etree.SubElement(root, "Layer", name=layer.name, srs=layer.srs)
        etree.SubElement(el, "StyleName").text = style_name
        ds = etree.SubElement(el, "Datasource")
        for key, value in layer.datasource.items():
            etree.SubElement(ds, "Parameter", name=key).text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def style_element(style: Style, name: str) -> etree._Element:
    el = etree.Element("Style", name=name)
    if style.kind != "vector":
        rule = etree.SubElement(el, "Rule")
        rule.append(raster_symbolizer(style))
        return el
    if style.opacity < 1:
        el.set("opacity", _num(style.opacity))
    for r in style.rules:
        rule = etree.SubElement(el, "Rule")
        if r.else_filter:
            etree.SubElement(rule, "ElseFilter")
        elif r.filter is not None:
            etree.SubElement(rule, "Filter").text = expression(r.filter)
        # Mapnik's MinScaleDenominator is the lower bound of the scales where the rule applies, as in SLD.
        if r.min_scale is not None:
            etree.SubElement(rule, "MinScaleDenominator").text = _num(r.min_scale)
        if r.max_scale is not None:
            etree.SubElement(rule, "MaxScaleDenominator").text = _num(r.max_scale)
        for sym in r.symbolizers:
            for part in symbolizers(sym):
                rule.append(part)
    return el


# Vertices closer than half a pixel are dropped before drawing: the map looks the same, and the outlines of a
# country's communes on a 1024² map draw in two thirds of the time.
SIMPLIFY = "0.5"


def symbolizers(sym: Symbolizer) -> list[etree._Element]:
    """The Mapnik symbolizers that draw one neutral symbolizer (a fill with an outline is two)."""
    if isinstance(sym, Fill):
        out = [etree.Element("PolygonSymbolizer", fill=sym.color, **{"fill-opacity": _num(sym.opacity),
                                                                     "simplify": SIMPLIFY})]
        if sym.outline_color and sym.outline_width > 0:
            out.append(etree.Element("LineSymbolizer", stroke=sym.outline_color, **{
                "stroke-width": _num(sym.outline_width), "stroke-linejoin": "round", "simplify": SIMPLIFY}))
        return out
    if isinstance(sym, Line):
        out = []
        if sym.casing_color and sym.casing_width > 0:
            out.append(etree.Element("LineSymbolizer", stroke=sym.casing_color, **{
                "stroke-width": _num(sym.casing_width), "stroke-opacity": _num(sym.opacity),
                "stroke-linejoin": "round", "stroke-linecap": "round", "simplify": SIMPLIFY}))
        attrs = {"stroke-width": _num(sym.width), "stroke-opacity": _num(sym.opacity),
                 "stroke-linejoin": "round", "stroke-linecap": "round", "simplify": SIMPLIFY}
        if sym.dash:
            attrs["stroke-dasharray"] = ",".join(_num(d) for d in sym.dash)
        out.append(etree.Element("LineSymbolizer", stroke=sym.color, **attrs))
        return out
    if isinstance(sym, Marker):
        attrs = {"fill": sym.color, "width": _num(2 * sym.radius), "height": _num(2 * sym.radius),
                 "opacity": _num(sym.opacity), "allow-overlap": "true", "ignore-placement": "true",
                 "placement": "point"}
        if sym.outline_color and sym.outline_width > 0:
            attrs |= {"stroke": sym.outline_color, "stroke-width": _num(sym.outline_width)}
        else:
            attrs["stroke-width"] = "0"
        if sym.shape != "circle":
            attrs["file"] = str(MARKERS / f"{sym.shape}.svg")
        if sym.rotation:
            attrs["transform"] = f"rotate({_num(sym.rotation)})"
        return [etree.Element("MarkersSymbolizer", **attrs)]
    if isinstance(sym, Label):
        face = " ".join(["DejaVu Sans", *(["Bold"] if sym.bold else []), *(["Oblique"] if sym.italic else [])])
        attrs = {"face-name": face if sym.bold or sym.italic else FONT, "size": _num(sym.size), "fill": sym.color,
                 "placement": sym.placement}
        if sym.halo_color and sym.halo_radius > 0:
            attrs |= {"halo-fill": sym.halo_color, "halo-radius": _num(sym.halo_radius)}
        el = etree.Element("TextSymbolizer", **attrs)
        el.text = f"[{_property(sym.field)}]"
        return [el]
    raise InvalidInput(f"unknown symbolizer {sym!r}")


def raster_symbolizer(style: Style) -> etree._Element:
    el = etree.Element("RasterSymbolizer", opacity=_num(style.opacity), scaling="bilinear")
    if style.kind != "ramp":
        return el
    stops = ramp_stops(style)
    mode = RAMP_MODES[style.ramp_mode] if isinstance(style.ramp, list) else "linear"
    default = "transparent"
    if mode == "discrete":
        # SLD intervals: a stop colours the values below it (from the stop before); Mapnik's discrete stops
        # colour from their value up. Values past the last stop are not drawn.
        default = stops[0][1]
        stops = [(stops[i - 1][0], stops[i][1]) for i in range(1, len(stops))] + [(stops[-1][0], "#00000000")]
    colorizer = etree.SubElement(el, "RasterColorizer", **{"default-mode": mode,
                                                           "default-color": _mapnik_color(default)})
    for value, color in stops:
        etree.SubElement(colorizer, "stop", value=repr(value), color=_mapnik_color(color))
    return el


def _mapnik_color(color: str) -> str:
    """#rrggbb as is; #rrggbbaa as rgba(), which every Mapnik version reads."""
    if len(color) != 9 or not color.startswith("#"):
        return color
    r, g, b, a = (int(color[i:i + 2], 16) for i in (1, 3, 5, 7))
    return f"rgba({r},{g},{b},{round(a / 255, 4)})"


def ramp_stops(style: Style) -> list[tuple[float, str]]:
    """(value, #rrggbb) stops of a ramp style: explicit stops, or a named colour map spread over min..max."""
    if isinstance(style.ramp, list):
        return [(s.value, s.color) for s in sorted(style.ramp, key=lambda s: s.value)]
    from rio_tiler.colormap import cmap  # colour maps as the field knows them (matplotlib's)

    try:
        table = cmap.get(style.ramp.lower())
    except Exception:
        raise InvalidInput(f"unknown colour ramp {style.ramp!r}") from None
    low, high = style.min, style.max if style.max > style.min else style.min + 1
    stops = []
    for i in range(RAMP_STOPS):
        r, g, b, _ = table[round(i * 255 / (RAMP_STOPS - 1))]
        stops.append((low + (high - low) * i / (RAMP_STOPS - 1), f"#{int(r):02x}{int(g):02x}{int(b):02x}"))
    return stops


def expression(f: Filter) -> str:
    """A neutral filter as a Mapnik expression.

    >>> expression(Filter(op="in", property="code", value=["11", "24"]))
    "([code] = '11' or [code] = '24')"
    """
    if f.op in ("and", "or"):
        if not f.args:
            raise InvalidInput(f"filter '{f.op}' needs args")
        return "(" + f" {f.op} ".join(expression(a) for a in f.args) + ")"
    if f.op == "not":
        if len(f.args) != 1:
            raise InvalidInput("filter 'not' takes one argument")
        return f"(not {expression(f.args[0])})"
    if f.property is None:
        raise InvalidInput(f"filter '{f.op}' needs a property")
    prop = f"[{_property(f.property)}]"
    if f.op == "is_null":
        return f"({prop} = null)"
    if f.op == "like":
        if not isinstance(f.value, str):
            raise InvalidInput("filter 'like' takes a text pattern")
        return f"({prop}.match({_literal(like_regex(f.value))}))"
    if f.op == "in":
        values = f.value if isinstance(f.value, list) else [f.value]
        if not values:
            raise InvalidInput("filter 'in' needs values")
        return "(" + " or ".join(f"{prop} = {_literal(v)}" for v in values) + ")"
    if f.op == "between":
        if not isinstance(f.value, list) or len(f.value) != 2:
            raise InvalidInput("filter 'between' takes [low, high]")
        return f"({prop} >= {_literal(f.value[0])} and {prop} <= {_literal(f.value[1])})"
    if isinstance(f.value, list) or f.value is None:
        raise InvalidInput(f"filter '{f.op}' takes one value")
    return f"({prop} {f.op} {_literal(f.value)})"


def like_regex(pattern: str) -> str:
    """An SQL LIKE pattern as a regular expression that Mapnik matches (whole values) without backtracking.

    Runs of ``%`` collapse; each part between two ``%`` is an atomic lazy group: the first place it fits is
    kept and never tried again, which is always right since those parts have a fixed length. A value is then
    read a bounded number of times, however many ``%`` the pattern has.

    >>> like_regex("Bre_%")
    'Bre..*'
    >>> like_regex("%a%%%b_%c")
    '(?>.*?a)(?>.*?b.).*c'
    """
    parts: list[list[str]] = [[]]
    escaped = False
    for c in pattern:
        if escaped:
            parts[-1].append(re.escape(c))
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == "%":
            parts.append([])
        else:
            parts[-1].append("." if c == "_" else re.escape(c))
    if escaped:  # a trailing escape character stands for itself
        parts[-1].append(re.escape("\\"))
    texts = ["".join(p) for p in parts]
    if len(texts) == 1:
        return texts[0]
    return texts[0] + "".join(f"(?>.*?{m})" for m in texts[1:-1] if m) + ".*" + texts[-1]


def _property(name: str) -> str:
    if not PROPERTY.match(name):
        raise InvalidInput(f"invalid attribute name {name!r}")
    return name


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _num(value: float) -> str:
    return repr(float(value))
