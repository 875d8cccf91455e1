"""SLD 1.0 and SLD 1.1 / SE 1.1 → the neutral style model (pure: bytes in, styles and warnings out).

What the model cannot draw (graphic fills, font icons, dynamic sizes…) is left out with a warning; what
would make the server fetch something (a DOCTYPE, ExternalGraphic, any xlink:href) is refused. A label computed
by GeoServer's functions keeps what the model can say: ``if_then_else`` on a comparison becomes one rule per
branch, a ``Recode`` on ``language()`` its default attribute.

>>> doc = b'''<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" version="1.0.0"><NamedLayer>
... <Name>lakes</Name><UserStyle><Name>blue</Name><FeatureTypeStyle><Rule><PolygonSymbolizer><Fill>
... <CssParameter name="fill">#4a80f5</CssParameter></Fill></PolygonSymbolizer></Rule></FeatureTypeStyle>
... </UserStyle></NamedLayer></StyledLayerDescriptor>'''
>>> imported = from_sld(doc)
>>> imported.styles[0].name, imported.styles[0].rules[0].symbolizers[0].color
('blue', '#4a80f5')
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from pygeofilter import ast

from kartenn.domain.style import COLOR, Style, StyleLimits, parse_style
from kartenn.errors import InvalidInput
from kartenn.formats.fes import parse_filter
from kartenn.xml import parse_xml

SLD = "http://www.opengis.net/sld"
SE = "http://www.opengis.net/se"
OGC = "http://www.opengis.net/ogc"
SHAPES = {"circle", "square", "triangle", "star", "cross", "x"}
SYMBOLIZERS = {"PolygonSymbolizer", "LineSymbolizer", "PointSymbolizer", "TextSymbolizer", "RasterSymbolizer"}
COMPARISONS = {ast.Equal: "=", ast.NotEqual: "!=", ast.LessThan: "<", ast.LessEqual: "<=", ast.GreaterThan: ">",
               ast.GreaterEqual: ">="}
NUMERIC = {"integer", "number"}
# GeoServer's comparison functions (as in a label's if_then_else), as the model's operators
FUNCTIONS = {"lessthan": "<", "lessequalthan": "<=", "greaterthan": ">", "greaterequalthan": ">=", "equalto": "=",
             "notequalto": "!="}
WHEN = "_when"  # a label's condition, between TextSymbolizer and its rule


@dataclass
class Imported:
    """The styles an SLD document holds (one per UserStyle) and what could not be carried over."""

    styles: list[Style]
    warnings: list[str] = field(default_factory=list)


def from_sld(data: bytes | str, fields: dict[str, str] | None = None, name: str | None = None,
             raster_default: dict[str, Any] | None = None, layer: str | None = None,
             limits: StyleLimits | None = None, lenient: bool = False) -> Imported:
    """Read every UserStyle of an SLD document. ``fields`` (name → type) types the filters' literals and checks
    the attributes the styles name: a style naming others is refused, or with ``lenient`` keeps what does not
    (as GeoServer draws nothing for a missing attribute), with warnings; ``name`` renames the first style;
    ``raster_default`` (a raster style) is what a RasterSymbolizer without ColorMap or ChannelSelection draws
    with (a grey ramp without it); ``layer`` reads only the layer of that name (and UserStyles outside any
    layer). A document or a style over ``limits`` is refused (InvalidInput)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    limits = limits or StyleLimits()
    limits.check_size(len(raw), "the SLD document")
    if b"<!DOCTYPE" in raw[:4096].upper():
        raise InvalidInput("SLD with a DOCTYPE is refused")
    root = parse_xml(raw)
    if _local(root) != "StyledLayerDescriptor" or etree.QName(root).namespace != SLD:
        raise InvalidInput("not an SLD document: the root must be sld:StyledLayerDescriptor")
    _refuse_remote(root)
    reader = _Reader(fields or {}, raster_default or {}, limits, lenient)
    styles: list[Style] = []
    # UserStyles in layers, or (as some GeoServer documents have them) right under the root
    for element in _all(root, "NamedLayer") + _all(root, "UserLayer") + [root]:
        layer_name = element.findtext(f"{{{SLD}}}Name") or element.findtext(f"{{{SE}}}Name") or ""
        if layer is not None and element is not root and layer_name != layer:
            continue
        for user in _all(element, "UserStyle"):
            style_name = name if name and not styles else _name(_text(user, "Name") or layer_name)
            styles.append(reader.style(user, style_name, fields))
            limits.check(styles[-1])
    if not styles:
        raise InvalidInput("the SLD document has no UserStyle" + (f" for layer {layer!r}" if layer else ""))
    return Imported(styles, reader.warnings)


def named_styles(data: bytes | str) -> dict[str, str]:
    """Layer name → style name of the NamedLayers that name a style (NamedStyle) instead of giving one."""
    root = parse_xml(data.encode("utf-8") if isinstance(data, str) else data)
    found = {}
    for element in _all(root, "NamedLayer"):
        named = _one(element, "NamedStyle")
        if named is not None:
            found[element.findtext(f"{{{SLD}}}Name") or element.findtext(f"{{{SE}}}Name") or ""] = \
                _text(named, "Name") or ""
    return found


def _refuse_remote(root: etree._Element) -> None:
    """No server-side fetching: graphics and resources by reference are refused, whatever their scheme."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if _local(el) in ("ExternalGraphic", "OnlineResource", "RemoteOWS"):
            raise InvalidInput(f"SLD with {_local(el)} is refused: the server fetches no remote resources")
        if any(etree.QName(key).localname == "href" for key in el.attrib):
            raise InvalidInput("SLD with an href is refused: the server fetches no remote resources")


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _all(parent: etree._Element, localname: str) -> list[etree._Element]:
    return [c for c in parent if _local(c) == localname]


def _one(parent: etree._Element | None, localname: str) -> etree._Element | None:
    if parent is None:
        return None
    found = _all(parent, localname)
    return found[0] if found else None


def _text(parent: etree._Element | None, localname: str) -> str | None:
    el = _one(parent, localname)
    if el is None:
        return None
    return _value(el)


def _value(el: etree._Element) -> str | None:
    """An element's value: its text, or that of its ogc:Literal; None when it is computed (PropertyName…)."""
    if any(_local(c) not in ("Literal", "") for c in el):
        return None
    text = (el.text or "") + "".join((c.text or "" if _local(c) else "") + (c.tail or "") for c in el)
    return text.strip()


def _depth(element: etree._Element) -> int:
    depth, level = 0, [element]
    while level:
        depth, level = depth + 1, [c for el in level for c in el if isinstance(c.tag, str)]
    return depth


def _name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text.strip()).strip("_")[:64]
    return cleaned or "imported"


class _Reader:
    def __init__(self, fields: dict[str, str], raster_default: dict[str, Any], limits: StyleLimits,
                 lenient: bool = False) -> None:
        self.fields, self.raster_default, self.limits, self.lenient = fields, raster_default, limits, lenient
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # styles and rules -----------------------------------------------------------------------------------

    def style(self, user: etree._Element, name: str, fields: dict[str, str] | None) -> Style:
        title = _text(user, "Title") or _text(_one(user, "Description"), "Title") or ""
        data: dict[str, Any] = {"name": name, "title": title, "rules": []}
        feature_styles = _all(user, "FeatureTypeStyle") + _all(user, "CoverageStyle")
        named: list[tuple[str, dict[str, Any]]] = []  # each rule with how warnings name it
        rules = [rule for fts in feature_styles for rule in _all(fts, "Rule")]
        if any(_one(fts, "Transformation") is not None for fts in feature_styles):
            self.warn("rendering transformations are not supported: the data is drawn as it is")
        for number, rule in enumerate(rules, start=1):
            raster = next((s for s in rule if _local(s) == "RasterSymbolizer"), None)
            if raster is not None:
                data.update(self.raster(raster))
                continue
            name = _text(rule, "Name") or _text(rule, "Title")
            label = repr(name) if name else f"#{number}"  # an unnamed rule: its place in the style
            named += [(label, r) for r in self.rule(rule, label)]
        if data.get("kind", "vector") != "vector" and named:
            self.warn("vector rules beside a RasterSymbolizer are left out")
            named = []
        if fields is not None and self.lenient:
            named = self.known_only(named, set(fields))
        data["rules"] = [r for _, r in named]
        return parse_style(data, list(fields) if fields is not None else None)

    def known_only(self, rules: list[tuple[str, dict[str, Any]]], fields: set[str]
                   ) -> list[tuple[str, dict[str, Any]]]:
        """The rules and labels naming only attributes in ``fields``; when none is left, all (to be refused)."""
        kept = []
        for label, rule in rules:
            missing = Style(rules=[{**rule, "symbolizers": []}]).fields() - fields if rule.get("filter") else set()
            if missing:
                self.warn(f"rule {label} left out: the data has no attribute {', '.join(sorted(missing))}")
                continue
            symbolizers = [s for s in rule["symbolizers"] if s["kind"] != "label" or s["field"] in fields]
            for s in rule["symbolizers"]:
                if s not in symbolizers:
                    self.warn(f"a label of rule {label} left out: the data has no attribute {s['field']}")
            if symbolizers:
                kept.append((label, {**rule, "symbolizers": symbolizers}))
        return kept or rules

    def rule(self, rule: etree._Element, label: str) -> list[dict[str, Any]]:
        """The rule (``label`` names it in warnings); a label computed by if_then_else adds one rule per branch
        (the rule's filter and the branch's condition)."""
        out: dict[str, Any] = {"name": _text(rule, "Name") or "",
                               "title": _text(rule, "Title") or _text(_one(rule, "Description"), "Title") or ""}
        for key, tag in (("min_scale", "MinScaleDenominator"), ("max_scale", "MaxScaleDenominator")):
            value = _text(rule, tag)
            if value:
                out[key] = self.number(value, tag)
        if _one(rule, "ElseFilter") is not None:
            out["else_filter"] = True
        elif (element := _one(rule, "Filter")) is not None:
            try:
                out["filter"] = self.filter(element)
            except _Unsupported as exc:
                self.warn(f"rule {label} left out: {exc}")
                return []
        symbolizers = []
        for child in rule:
            kind = _local(child)
            if kind.endswith("Symbolizer") and self.legend_only(child):
                self.warn(f"a {kind} drawn only in GeoServer's legend (inclusion legendOnly) was left out")
                continue
            if kind == "PolygonSymbolizer":
                symbolizers += self.polygon(child)
            elif kind == "LineSymbolizer":
                symbolizers += self.line(child)
            elif kind == "PointSymbolizer":
                symbolizers += self.point(child)
            elif kind == "TextSymbolizer":
                symbolizers += self.text(child)
            elif kind.endswith("Symbolizer"):
                self.warn(f"{kind} is not supported and was left out")
        if not symbolizers:
            self.warn(f"rule {label} has nothing the model can draw and was left out")
            return []
        plain = [s for s in symbolizers if WHEN not in s]
        branches = [s for s in symbolizers if WHEN in s]
        if not branches:
            return [{**out, "symbolizers": plain}]
        if out.get("else_filter"):
            self.warn(f"rule {label}: an ElseFilter rule labels with its first branch only")
            return [{**out, "symbolizers": plain + [{k: v for k, v in branches[0].items() if k != WHEN}]}]
        rules = [{**out, "symbolizers": plain}] if plain else []
        for branch in branches:
            when = branch.pop(WHEN)
            rules.append({**out, "filter": _and(out.get("filter"), when), "symbolizers": [branch]})
        return rules

    @staticmethod
    def legend_only(symbolizer: etree._Element) -> bool:
        return any(_local(c) == "VendorOption" and c.get("name") == "inclusion" and (c.text or "").strip() ==
                   "legendOnly" for c in symbolizer)

    # filters ----------------------------------------------------------------------------------------------

    def filter(self, element: etree._Element) -> dict[str, Any]:
        # Filter, its operators, their operands: refused before the parser recurses into a deeper one
        self.limits.check_depth(_depth(element) - 2)
        element = copy.deepcopy(element)
        for el in element.iter():  # old documents leave the filter in the SLD's (default) namespace
            if isinstance(el.tag, str) and etree.QName(el).namespace in (SLD, SE, None):
                el.tag = f"{{{OGC}}}{etree.QName(el).localname}"
        for like in element.iter(f"{{{OGC}}}PropertyIsLike"):  # Filter 1.0 says escape, 1.1 escapeChar
            if like.get("escapeChar") is None:
                like.set("escapeChar", like.get("escape", "\\"))
            like.attrib.pop("escape", None)
            like.attrib.pop("matchCase", None)
        for el in element.iter():
            if isinstance(el.tag, str):
                el.attrib.pop("matchCase", None)
        try:
            node, ids = parse_filter(element, {})
        except InvalidInput as exc:
            raise _Unsupported(exc.message) from None
        if ids or node is None:
            raise _Unsupported("feature ids in a rule filter")
        return self.node(node)

    def node(self, node: Any) -> dict[str, Any]:
        if isinstance(node, ast.And | ast.Or):
            op = "and" if isinstance(node, ast.And) else "or"
            args: list[dict[str, Any]] = []
            for part in (node.lhs, node.rhs):
                sub = self.node(part)
                args += sub["args"] if sub["op"] == op else [sub]
            return {"op": op, "args": args}
        if isinstance(node, ast.Not):
            return {"op": "not", "args": [self.node(node.sub_node)]}
        if type(node) in COMPARISONS:
            prop, op = self.attribute(node.lhs), COMPARISONS[type(node)]
            return {"op": op, "property": prop, "value": self.literal(prop, node.rhs, op not in ("=", "!="))}
        if isinstance(node, ast.Between):
            prop = self.attribute(node.lhs)
            out = {"op": "between", "property": prop,
                   "value": [self.literal(prop, node.low, True), self.literal(prop, node.high, True)]}
            return {"op": "not", "args": [out]} if node.not_ else out
        if isinstance(node, ast.IsNull):
            out = {"op": "is_null", "property": self.attribute(node.lhs)}
            return {"op": "not", "args": [out]} if node.not_ else out
        if isinstance(node, ast.Like):
            out = {"op": "like", "property": self.attribute(node.lhs), "value": _sql_pattern(node)}
            return {"op": "not", "args": [out]} if node.not_ else out
        raise _Unsupported(f"{type(node).__name__} filters are not supported")

    @staticmethod
    def attribute(node: Any) -> str:
        if not isinstance(node, ast.Attribute):
            raise _Unsupported("comparisons must have an attribute on their left")
        return node.name

    def literal(self, prop: str, value: Any, ordered: bool = False) -> Any:
        if isinstance(value, bool | int | float):
            return value
        if not isinstance(value, str):
            raise _Unsupported("only text and number literals are supported")
        kind = self.fields.get(prop)
        if kind in NUMERIC or (kind is None and ordered):
            try:
                number = float(value)
            except ValueError:
                return value
            return int(number) if number.is_integer() and kind != "number" else number
        if kind == "boolean" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value

    # symbolizers ------------------------------------------------------------------------------------------

    def params(self, parent: etree._Element | None) -> dict[str, str]:
        """CssParameter (SLD 1.0) or SvgParameter (SE 1.1) values by name; computed ones are left out."""
        out: dict[str, str] = {}
        if parent is None:
            return out
        for p in parent:
            if _local(p) in ("CssParameter", "SvgParameter") and p.get("name"):
                value = _value(p)
                if value is None:
                    self.warn(f"the computed value of {p.get('name')!r} was left out")
                else:
                    out[p.get("name")] = value
        return out

    def color(self, value: str | None, default: str | None, opacity: str | None = None) -> str | None:
        if value is None:
            return default
        text = value.strip()
        if re.fullmatch(r"0x[0-9a-fA-F]{6}", text):  # GeoServer's other way of writing #rrggbb
            text = "#" + text[2:]
        if re.fullmatch(r"#[0-9a-fA-F]{3}", text):
            text = "#" + "".join(c * 2 for c in text[1:])
        if not COLOR.match(text):
            self.warn(f"colour {value!r} is not #rrggbb and was replaced")
            return default
        text = text.lower()
        if opacity is not None:
            alpha = self.number(opacity, "opacity")
            if alpha < 1:
                text = text[:7] + f"{round(max(alpha, 0) * 255):02x}"
        return text

    def fixed(self, parent: etree._Element | None, localname: str) -> str | None:
        """An element's fixed value; a computed one (an attribute, a function) is warned about and left out."""
        el = _one(parent, localname)
        if el is None:
            return None
        value = _value(el)
        if value is None:
            self.warn(f"the computed value of {localname} was left out")
        return value

    def number(self, value: str, what: str) -> float:
        try:
            number = float(value.strip().removesuffix("px"))
        except ValueError:
            raise InvalidInput(f"{what} must be a number, not {value!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"{what} must be a finite number")
        return number

    def stroke(self, parent: etree._Element) -> dict[str, Any] | None:
        element = _one(parent, "Stroke")
        if element is None:
            return None
        p = self.params(element)
        if _one(element, "GraphicStroke") is not None or _one(element, "GraphicFill") is not None:
            self.warn("graphic strokes are not supported: drawn as plain lines")
        dash = [self.number(d, "stroke-dasharray") for d in p.get("stroke-dasharray", "").replace(",", " ").split()]
        return {"color": self.color(p.get("stroke"), "#000000"), "width": self.number(p.get("stroke-width", "1"),
                                                                                       "stroke-width"),
                "opacity": min(max(self.number(p.get("stroke-opacity", "1"), "stroke-opacity"), 0), 1), "dash": dash}

    def fill(self, parent: etree._Element, default: str | None = "#808080") -> tuple[str | None, float]:
        element = _one(parent, "Fill")
        if element is None:
            return default, 1.0
        if _one(element, "GraphicFill") is not None:
            self.warn("graphic fills are not supported: drawn as plain fills")
        p = self.params(element)
        opacity = min(max(self.number(p.get("fill-opacity", "1"), "fill-opacity"), 0), 1)
        return self.color(p.get("fill"), default or "#808080"), opacity

    def polygon(self, el: etree._Element) -> list[dict[str, Any]]:
        color, opacity = self.fill(el, default=None)
        stroke = self.stroke(el)
        out: list[dict[str, Any]] = []
        if color is not None:
            fill: dict[str, Any] = {"kind": "fill", "color": color, "opacity": opacity}
            if stroke and not stroke["dash"]:
                fill |= {"outline_color": _with_alpha(stroke["color"], stroke["opacity"]),
                         "outline_width": stroke["width"]}
            out.append(fill)
        if stroke and (color is None or stroke["dash"]):  # an outline alone, or dashed: drawn as a line
            out.append({"kind": "line", **stroke})
        return out

    def line(self, el: etree._Element) -> list[dict[str, Any]]:
        stroke = self.stroke(el)
        return [{"kind": "line", **stroke}] if stroke else []

    def point(self, el: etree._Element) -> list[dict[str, Any]]:
        graphic = _one(el, "Graphic")
        if graphic is None:
            return []
        mark = _one(graphic, "Mark")
        if mark is None:
            self.warn("a PointSymbolizer without a Mark is not supported")
            return []
        shape = (_text(mark, "WellKnownName") or "square").lower()
        if shape not in SHAPES:
            self.warn(f"mark {shape!r} is not supported: drawn as a circle")
            shape = "circle"
        color, fill_opacity = self.fill(mark)
        stroke = self.stroke(mark)
        size = self.number(self.fixed(graphic, "Size") or "6", "Size")
        out: dict[str, Any] = {"kind": "marker", "shape": shape, "color": color, "radius": max(size / 2, 0.5),
                               "opacity": fill_opacity}
        if (opacity := self.fixed(graphic, "Opacity")) is not None:
            out["opacity"] = min(max(self.number(opacity, "Opacity"), 0), 1) * fill_opacity
        if (rotation := self.fixed(graphic, "Rotation")) is not None:
            out["rotation"] = self.number(rotation, "Rotation") % 360
        if stroke:
            out |= {"outline_color": _with_alpha(stroke["color"], stroke["opacity"]), "outline_width": stroke["width"]}
        return [out]

    def text(self, el: etree._Element) -> list[dict[str, Any]]:
        choices = self.label(_one(el, "Label"))
        if not choices:
            self.warn("a TextSymbolizer without an attribute to label with was left out")
            return []
        font = self.params(_one(el, "Font"))  # its family is not: labels are drawn in DejaVu Sans
        left = [_local(c) for c in el if _local(c) in ("Priority", "Geometry")]
        left += [f"{_local(c)} {c.get('name')}" for c in el if _local(c) == "VendorOption"
                 and c.get("name") != "inclusion"]
        if left:
            self.warn(f"label options the model does not have were left out: {', '.join(left)}")
        color, _ = self.fill(el, default="#000000")
        out: dict[str, Any] = {"kind": "label", "field": choices[0][1],
                               "size": self.number(font.get("font-size", "10"), "font-size"), "color": color,
                               "halo_color": None, "halo_radius": 0,
                               "bold": font.get("font-weight", "normal").lower() in ("bold", "bolder", "600", "700",
                                                                                      "800", "900"),
                               "italic": font.get("font-style", "normal").lower() in ("italic", "oblique")}
        halo = _one(el, "Halo")
        if halo is not None:
            out["halo_radius"] = self.number(self.fixed(halo, "Radius") or "1", "Radius")
            out["halo_color"], _ = self.fill(halo, default="#ffffff")
        placement = _one(el, "LabelPlacement")
        if placement is not None and _one(placement, "LinePlacement") is not None:
            out["placement"] = "line"
        if choices[0][0] is None:
            return [out]
        return [{**out, "field": field, WHEN: when} for when, field in choices]

    def label(self, label: etree._Element | None) -> list[tuple[dict[str, Any] | None, str]]:
        """(condition or None, attribute) of each way a Label draws; none when it names no attribute."""
        if label is None:
            return []
        names = [c.text.strip() for c in label if _local(c) == "PropertyName" and c.text]
        functions = [c for c in label if _local(c) == "Function"]
        if names:
            if len(names) > 1 or functions or (label.text or "").strip():
                self.warn("labels mixing text and attributes are drawn with the first attribute only")
            return [(None, _attribute(names[0]))]
        if len(functions) == 1:
            return self.expression(functions[0])
        return []

    def expression(self, el: etree._Element) -> list[tuple[dict[str, Any] | None, str]]:
        """A label's value as (condition, attribute) choices: an attribute, if_then_else, a Recode on language()."""
        kind = _local(el)
        if kind == "PropertyName" and (el.text or "").strip():
            return [(None, _attribute(el.text.strip()))]
        function = (el.get("name") or "").lower() if kind == "Function" else ""
        args = [c for c in el if _local(c)]
        if function == "if_then_else" and len(args) == 3:
            try:
                condition = self.condition(args[0])
            except _Unsupported as exc:
                self.warn(f"a label's if_then_else was left out: {exc}")
                return []
            negated = {"op": "not", "args": [condition]}
            return ([(_and(condition, c), f) for c, f in self.expression(args[1])]
                    + [(_and(negated, c), f) for c, f in self.expression(args[2])])
        if function in ("recode", "categorize") and args and (args[0].get("name") or "").lower() == "language":
            pairs = list(zip(args[1::2], args[2::2], strict=False))
            chosen = next((value for key, value in pairs if not (_value(key) or "")), pairs[0][1] if pairs else None)
            found = self.expression(chosen) if chosen is not None else []
            if found:
                self.warn(f"labels in the language of the request are drawn in one: {found[0][1]}, the default")
            return found
        self.warn(f"a label computed by {el.get('name') or kind} was left out")
        return []

    def condition(self, el: etree._Element) -> dict[str, Any]:
        """A comparison function (lessThan(NAME_LEN, 8)…) as a model filter."""
        function = (el.get("name") or "").lower() if _local(el) == "Function" else ""
        args = [c for c in el if _local(c)]
        if function not in FUNCTIONS or len(args) != 2 or _local(args[0]) != "PropertyName" \
                or _local(args[1]) != "Literal":
            raise _Unsupported(f"its condition {el.get('name') or _local(el)} is not an attribute compared with a "
                               "value")
        prop, op = _attribute(args[0].text or ""), FUNCTIONS[function]
        return {"op": op, "property": prop, "value": self.literal(prop, _value(args[1]) or "", op not in ("=", "!="))}

    def raster(self, el: etree._Element) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if (opacity := _text(el, "Opacity")) is not None:
            out["opacity"] = min(max(self.number(opacity, "Opacity"), 0), 1)
        channels = _one(el, "ChannelSelection")
        rgb = [_text(_one(channels, tag), "SourceChannelName") for tag in ("RedChannel", "GreenChannel", "BlueChannel")]
        gray = _text(_one(channels, "GrayChannel"), "SourceChannelName")
        colormap = _one(el, "ColorMap")
        if colormap is None and all(rgb):
            out |= {"kind": "rgb", "bands": [self.band(b) for b in rgb]}  # type: ignore[arg-type]
            return out
        if colormap is None and not gray and self.raster_default:
            return {**{k: v for k, v in self.raster_default.items() if k not in ("name", "title")}, **out}
        out |= {"kind": "ramp", "band": self.band(gray) if gray else 1}
        if colormap is None:
            out |= {"ramp": "gray"}
            self.warn("a RasterSymbolizer without a ColorMap is drawn in grey over 0-255")
            return out
        kind = colormap.get("type", "ramp")
        if kind not in ("ramp", "intervals", "values"):
            raise InvalidInput(f"ColorMap type {kind!r} is not ramp, intervals or values")
        stops: list[dict[str, Any]] = []
        for entry in _all(colormap, "ColorMapEntry"):
            value = self.number(entry.get("quantity", ""), "ColorMapEntry quantity")
            stops.append({"value": value, "color": self.color(entry.get("color"), "#000000", entry.get("opacity"))})
        if not stops:
            raise InvalidInput("a ColorMap needs at least one ColorMapEntry")
        values: list[float] = [s["value"] for s in stops]
        out |= {"ramp": stops, "ramp_mode": kind, "min": min(values), "max": max(values)}
        return out

    @staticmethod
    def band(name: str) -> int:
        digits = re.sub(r"\D", "", name)
        if not digits:
            raise InvalidInput(f"SourceChannelName must be a band number, not {name!r}")
        return int(digits)


class _Unsupported(Exception):
    """Something a rule uses that the model cannot express: the rule is left out with a warning."""


def _attribute(name: str) -> str:
    return name.strip().rsplit("/", 1)[-1].split(":")[-1]


def _and(first: dict[str, Any] | None, second: dict[str, Any] | None) -> dict[str, Any] | None:
    parts = [p for p in (first, second) if p is not None]
    if len(parts) < 2:
        return parts[0] if parts else None
    return {"op": "and", "args": [a for p in parts for a in (p["args"] if p["op"] == "and" else [p])]}


def _with_alpha(color: str, opacity: float) -> str:
    return color[:7] + f"{round(opacity * 255):02x}" if opacity < 1 else color


def _sql_pattern(node: ast.Like) -> str:
    """A PropertyIsLike pattern with its own wildcards as an SQL pattern (% and _)."""
    out, escaped = [], False
    for c in node.pattern:
        if escaped:
            out.append("\\" + c if c in "%_\\" else c)
            escaped = False
        elif c == node.escapechar:
            escaped = True
        elif c == node.wildcard:
            out.append("%")
        elif c == node.singlechar:
            out.append("_")
        else:
            out.append("\\" + c if c in "%_\\" else c)
    return "".join(out)
