"""Neutral style model → MapLibre (Mapbox GL) style JSON over the collection's vector tiles (pure: no I/O).

One vector source (the collection's TileJSON), one layer per rule and symbolizer: fill, line, circle, symbol.
Rule filters become expressions; scale denominators become zoom levels. What MapLibre cannot say (``like``
filters, mark shapes other than circles) is left out or approximated, with a warning.

>>> from kartenn.domain.style import parse_style
>>> style = parse_style({"rules": [{"filter": {"op": "=", "property": "code", "value": "53"},
...                                 "symbolizers": [{"kind": "fill", "color": "#ff0000"}]}]})
>>> doc, warnings = to_maplibre(style, "regions", "https://example.org/tilejson")
>>> doc["layers"][0]["type"], doc["layers"][0]["filter"]
('fill', ['==', ['get', 'code'], '53'])
"""

from __future__ import annotations

import math
from typing import Any

from kartenn.domain.style import Fill, Filter, Label, Line, Marker, Style

# Scale denominator of zoom 0 in WebMercatorQuad (256 px tiles, 0.28 mm pixels). MapLibre draws 512 px per
# tile at zoom 0, so its zoom z is at the scale of the 256 px zoom z + 1.
SCALE_AT_ZOOM_0 = 559082264.0287178
MAX_ZOOM = 24
GLYPHS = "https://demotiles.maplibre.org/font/{fontstack}/{range}.pbf"
FONT = ["Open Sans Semibold"]  # a font stack the default glyphs server has


class _Skip(Exception):
    """A filter MapLibre cannot express: the rule is left out."""


def zoom_of(scale: float) -> float:
    """The MapLibre zoom at a scale denominator.

    >>> zoom_of(SCALE_AT_ZOOM_0 / 2)
    0.0
    """
    if scale <= 0:
        return float(MAX_ZOOM)
    return round(min(max(math.log2(SCALE_AT_ZOOM_0 / scale) - 1, 0.0), MAX_ZOOM), 3)


def to_maplibre(style: Style, layer: str, tilejson: str, *, glyphs: str = GLYPHS,
                title: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """(MapLibre style document, warnings). ``layer`` is the MVT layer name, ``tilejson`` the source's URL."""
    warnings: list[str] = []
    source = layer
    doc: dict[str, Any] = {"version": 8, "name": title or style.title or style.name,
                           "metadata": {"kartenn:style": style.name},
                           "sources": {source: {"type": "vector", "url": tilejson}}, "layers": []}
    if style.kind != "vector":
        warnings.append("raster styles have no MapLibre encoding here: the style has no layers")
        return doc, warnings
    conditions: dict[int, Any] = {}
    for i, rule in enumerate(style.rules):  # the rules' own filters first: else rules need them all
        if rule.else_filter:
            continue
        try:
            conditions[i] = expression(rule.filter) if rule.filter is not None else None
        except _Skip as exc:
            warnings.append(f"rule {rule.name or i + 1!r} left out: {exc}")
    others = list(conditions.values())
    for i, rule in enumerate(style.rules):
        if rule.else_filter:
            if None in others:
                warnings.append(f"rule {rule.name or i + 1!r} left out: another rule has no filter, so the else "
                                f"rule never applies")
                continue
            condition = ["!", ["any", *others]] if others else None
        elif i in conditions:
            condition = conditions[i]
        else:
            continue
        for j, sym in enumerate(rule.symbolizers):
            for k, part in enumerate(_layers(sym, warnings)):
                part |= {"id": f"{layer}-{i}-{j}-{k}", "source": source, "source-layer": layer}
                if condition is not None:
                    part["filter"] = condition
                if rule.max_scale is not None:
                    part["minzoom"] = zoom_of(rule.max_scale)
                if rule.min_scale is not None:
                    part["maxzoom"] = zoom_of(rule.min_scale)
                doc["layers"].append(_ordered(part))
    if any(part["type"] == "symbol" for part in doc["layers"]):
        doc["glyphs"] = glyphs
    return doc, warnings


def _ordered(part: dict[str, Any]) -> dict[str, Any]:
    keys = ["id", "type", "source", "source-layer", "minzoom", "maxzoom", "filter", "layout", "paint"]
    return {k: part[k] for k in keys if k in part}


def expression(f: Filter) -> Any:
    """A neutral filter as a MapLibre expression.

    >>> expression(Filter(op="between", property="pop", value=[1, 5]))
    ['all', ['>=', ['get', 'pop'], 1], ['<=', ['get', 'pop'], 5]]
    """
    if f.op in ("and", "or"):
        return ["all" if f.op == "and" else "any", *(expression(a) for a in f.args)]
    if f.op == "not":
        return ["!", expression(f.args[0])]
    if f.op == "like":
        raise _Skip("'like' filters have no MapLibre expression")
    get = ["get", f.property]
    if f.op == "is_null":
        return ["!", ["has", f.property]]
    if f.op == "in":
        values = f.value if isinstance(f.value, list) else [f.value]
        if values and (all(isinstance(v, str) for v in values) or all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values)):
            return ["match", get, sorted(set(values)), True, False]
        return ["any", *(["==", get, v] for v in values)]
    if f.op == "between":
        assert isinstance(f.value, list)
        return ["all", [">=", get, f.value[0]], ["<=", get, f.value[1]]]
    return ["==" if f.op == "=" else f.op, get, f.value]


def _color(color: str) -> tuple[str, float]:
    """#rrggbb and its opacity from #rrggbbaa."""
    return color[:7], (int(color[7:9], 16) / 255 if len(color) == 9 else 1.0)


def _layers(sym: object, warnings: list[str]) -> list[dict[str, Any]]:
    if isinstance(sym, Fill):
        color, alpha = _color(sym.color)
        out: list[dict[str, Any]] = [{"type": "fill", "paint": {"fill-color": color,
                                                                 "fill-opacity": round(sym.opacity * alpha, 4)}}]
        if sym.outline_color and sym.outline_width > 0:
            line, line_alpha = _color(sym.outline_color)
            out.append({"type": "line", "paint": {"line-color": line, "line-width": sym.outline_width,
                                                  "line-opacity": round(line_alpha, 4)}})
        return out
    if isinstance(sym, Line):
        out = []
        if sym.casing_color and sym.casing_width > 0:
            casing, casing_alpha = _color(sym.casing_color)
            out.append({"type": "line", "layout": {"line-join": "round", "line-cap": "round"},
                        "paint": {"line-color": casing, "line-width": sym.casing_width,
                                  "line-opacity": round(sym.opacity * casing_alpha, 4)}})
        color, alpha = _color(sym.color)
        paint: dict[str, Any] = {"line-color": color, "line-width": sym.width,
                                 "line-opacity": round(sym.opacity * alpha, 4)}
        if sym.dash:
            width = sym.width or 1  # MapLibre dashes are in line widths, SLD's in pixels
            paint["line-dasharray"] = [round(d / width, 4) for d in sym.dash]
        out.append({"type": "line", "layout": {"line-join": "round", "line-cap": "round"}, "paint": paint})
        return out
    if isinstance(sym, Marker):
        if sym.shape != "circle":
            warnings.append(f"{sym.shape} marks are drawn as circles")
        color, alpha = _color(sym.color)
        paint = {"circle-color": color, "circle-radius": sym.radius, "circle-opacity": round(sym.opacity * alpha, 4)}
        if sym.outline_color and sym.outline_width > 0:
            stroke, stroke_alpha = _color(sym.outline_color)
            paint |= {"circle-stroke-color": stroke, "circle-stroke-width": sym.outline_width,
                      "circle-stroke-opacity": round(stroke_alpha, 4)}
        return [{"type": "circle", "paint": paint}]
    if isinstance(sym, Label):
        font = [" ".join(["Open Sans", *(["Bold"] if sym.bold else []), *(["Italic"] if sym.italic else [])])]
        layout = {"text-field": ["to-string", ["get", sym.field]], "text-size": sym.size,
                  "text-font": font if sym.bold or sym.italic else FONT,
                  "symbol-placement": sym.placement}
        color, _ = _color(sym.color)
        paint = {"text-color": color}
        if sym.halo_color and sym.halo_radius > 0:
            paint |= {"text-halo-color": _color(sym.halo_color)[0], "text-halo-width": sym.halo_radius}
        return [{"type": "symbol", "layout": layout, "paint": paint}]
    warnings.append(f"symbolizer {sym!r} has no MapLibre layer")
    return []
