"""Neutral style model → SLD 1.0 (StyledLayerDescriptor), for GeoServer, QGIS and other SLD readers.

>>> from kartenn.domain.style import parse_style
>>> xml = to_sld("regions", parse_style({"rules": [{"symbolizers": [{"kind": "fill", "color": "#2f7ebc"}]}]}))
>>> b'<sld:CssParameter name="fill">#2f7ebc</sld:CssParameter>' in xml
True
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from kartenn.domain.style import Fill, Filter, Label, Line, Marker, Style
from kartenn.formats.mapnik_style import ramp_stops

SLD = "http://www.opengis.net/sld"
OGC = "http://www.opengis.net/ogc"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"sld": SLD, "ogc": OGC, "xlink": XLINK, "xsi": XSI}
COMPARISONS = {"=": "PropertyIsEqualTo", "!=": "PropertyIsNotEqualTo", "<": "PropertyIsLessThan",
               "<=": "PropertyIsLessThanOrEqualTo", ">": "PropertyIsGreaterThan",
               ">=": "PropertyIsGreaterThanOrEqualTo"}


def _s(parent: etree._Element, tag: str, text: str | None = None, ns: str = SLD, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", **attrs)
    if text is not None:
        el.text = text
    return el


def _css(parent: etree._Element, name: str, value: Any) -> None:
    _s(parent, "CssParameter", _text(value), name=name)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_sld(layer: str, style: Style) -> bytes:
    """One NamedLayer with one UserStyle."""
    return to_sld_layers([(layer, style)])


def to_sld_layers(layers: list[tuple[str, Style]]) -> bytes:
    """One NamedLayer per layer name, with its styles in the order given; the first is its default."""
    root = etree.Element(f"{{{SLD}}}StyledLayerDescriptor", nsmap=NSMAP, version="1.0.0")
    root.set(f"{{{XSI}}}schemaLocation", f"{SLD} http://schemas.opengis.net/sld/1.0.0/StyledLayerDescriptor.xsd")
    named: dict[str, etree._Element] = {}
    for layer, style in layers:
        if layer not in named:
            named[layer] = _s(root, "NamedLayer")
            _s(named[layer], "Name", layer)
        _user_style(named[layer], style, default=len(named[layer]) == 1)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _user_style(named: etree._Element, style: Style, default: bool) -> None:
    user = _s(named, "UserStyle")
    _s(user, "Name", style.name)
    _s(user, "Title", style.title or style.name)
    _s(user, "IsDefault", "1" if default else "0")
    fts = _s(user, "FeatureTypeStyle")
    if style.kind != "vector":
        _raster_rule(fts, style)
    for r in style.rules:
        rule = _s(fts, "Rule")
        if r.name:
            _s(rule, "Name", r.name)
        if r.title:
            _s(rule, "Title", r.title)
        if r.else_filter:
            _s(rule, "ElseFilter")
        elif r.filter is not None:
            _filter(_s(rule, "Filter", ns=OGC), r.filter)
        if r.min_scale is not None:
            _s(rule, "MinScaleDenominator", _text(r.min_scale))
        if r.max_scale is not None:
            _s(rule, "MaxScaleDenominator", _text(r.max_scale))
        for sym in r.symbolizers:
            _symbolizer(rule, sym)


def _filter(parent: etree._Element, f: Filter) -> None:
    if f.op in ("and", "or"):
        group = _s(parent, "And" if f.op == "and" else "Or", ns=OGC)
        for arg in f.args:
            _filter(group, arg)
    elif f.op == "not":
        _filter(_s(parent, "Not", ns=OGC), f.args[0])
    elif f.op == "in":
        values = f.value if isinstance(f.value, list) else [f.value]
        group = _s(parent, "Or", ns=OGC) if len(values) > 1 else parent
        for v in values:
            _compare(group, "PropertyIsEqualTo", f.property or "", v)
    elif f.op == "between":
        assert isinstance(f.value, list)
        el = _s(parent, "PropertyIsBetween", ns=OGC)
        _s(el, "PropertyName", f.property, ns=OGC)
        _s(_s(el, "LowerBoundary", ns=OGC), "Literal", _text(f.value[0]), ns=OGC)
        _s(_s(el, "UpperBoundary", ns=OGC), "Literal", _text(f.value[1]), ns=OGC)
    elif f.op == "like":
        el = _s(parent, "PropertyIsLike", ns=OGC, wildCard="%", singleChar="_", escape="\\")
        _s(el, "PropertyName", f.property, ns=OGC)
        _s(el, "Literal", _text(f.value), ns=OGC)
    elif f.op == "is_null":
        _s(_s(parent, "PropertyIsNull", ns=OGC), "PropertyName", f.property, ns=OGC)
    else:
        _compare(parent, COMPARISONS[f.op], f.property or "", f.value)


def _compare(parent: etree._Element, tag: str, prop: str, value: Any) -> None:
    el = _s(parent, tag, ns=OGC)
    _s(el, "PropertyName", prop, ns=OGC)
    _s(el, "Literal", _text(value), ns=OGC)


def _stroke(parent: etree._Element, color: str, width: float, opacity: float = 1.0,
            dash: list[float] | None = None) -> None:
    stroke = _s(parent, "Stroke")
    _css(stroke, "stroke", color[:7])
    _css(stroke, "stroke-width", width)
    if opacity < 1 or len(color) == 9:
        _css(stroke, "stroke-opacity", round(opacity * _alpha(color), 4))
    if dash:
        _css(stroke, "stroke-dasharray", " ".join(_text(d) for d in dash))


def _fill(parent: etree._Element, color: str, opacity: float) -> None:
    fill = _s(parent, "Fill")
    _css(fill, "fill", color[:7])
    if opacity < 1 or len(color) == 9:
        _css(fill, "fill-opacity", round(opacity * _alpha(color), 4))


def _alpha(color: str) -> float:
    return int(color[7:9], 16) / 255 if len(color) == 9 else 1.0


def _symbolizer(rule: etree._Element, sym: object) -> None:
    if isinstance(sym, Fill):
        el = _s(rule, "PolygonSymbolizer")
        _fill(el, sym.color, sym.opacity)
        if sym.outline_color and sym.outline_width > 0:
            _stroke(el, sym.outline_color, sym.outline_width)
    elif isinstance(sym, Line):
        if sym.casing_color and sym.casing_width > 0:
            _stroke(_s(rule, "LineSymbolizer"), sym.casing_color, sym.casing_width, sym.opacity)
        _stroke(_s(rule, "LineSymbolizer"), sym.color, sym.width, sym.opacity, sym.dash)
    elif isinstance(sym, Marker):
        graphic = _s(_s(rule, "PointSymbolizer"), "Graphic")
        mark = _s(graphic, "Mark")
        _s(mark, "WellKnownName", sym.shape)
        _fill(mark, sym.color, sym.opacity)
        if sym.outline_color and sym.outline_width > 0:
            _stroke(mark, sym.outline_color, sym.outline_width)
        _s(graphic, "Size", _text(2 * sym.radius))
        if sym.rotation:
            _s(graphic, "Rotation", _text(sym.rotation))
    elif isinstance(sym, Label):
        el = _s(rule, "TextSymbolizer")
        _s(_s(el, "Label"), "PropertyName", sym.field, ns=OGC)
        font = _s(el, "Font")
        _css(font, "font-family", "DejaVu Sans")
        _css(font, "font-size", sym.size)
        if sym.italic:
            _css(font, "font-style", "italic")
        if sym.bold:
            _css(font, "font-weight", "bold")
        placement = _s(el, "LabelPlacement")
        _s(placement, "LinePlacement" if sym.placement == "line" else "PointPlacement")
        if sym.halo_color and sym.halo_radius > 0:
            halo = _s(el, "Halo")
            _s(halo, "Radius", _text(sym.halo_radius))
            _fill(halo, sym.halo_color, 1.0)
        _fill(el, sym.color, 1.0)


def _raster_rule(fts: etree._Element, style: Style) -> None:
    raster = _s(_s(fts, "Rule"), "RasterSymbolizer")
    _s(raster, "Opacity", _text(style.opacity))
    if style.kind == "rgb":
        channels = _s(raster, "ChannelSelection")
        for tag, band in zip(("RedChannel", "GreenChannel", "BlueChannel"), style.bands, strict=False):
            _s(_s(channels, tag), "SourceChannelName", str(band))
        return
    channels = _s(raster, "ChannelSelection")
    _s(_s(channels, "GrayChannel"), "SourceChannelName", str(style.band))
    colormap = _s(raster, "ColorMap")
    if style.ramp_mode != "ramp":
        colormap.set("type", style.ramp_mode)
    for value, color in ramp_stops(style):
        entry = _s(colormap, "ColorMapEntry", color=color[:7], quantity=_text(value))
        if len(color) == 9:
            entry.set("opacity", _text(round(_alpha(color), 4)))
