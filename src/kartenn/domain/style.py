"""The neutral style model: what a dataset looks like, independent of the renderer.

A vector style is a list of rules; each rule has an optional filter and scale range and a list of
symbolizers (fill, line, marker, label). A raster style is an RGB composite or a colour ramp over one band.
Mapnik XML and SLD are compiled from it (``kartenn.formats``).

>>> style = parse_style({"name": "default", "rules": [{"symbolizers": [{"kind": "fill", "color": "#ff0000"}]}]})
>>> style.rules[0].symbolizers[0].opacity
1.0
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from kartenn.errors import InvalidInput

COLOR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
Color = Annotated[str, Field(pattern=COLOR.pattern)]
Scalar = str | int | float | bool


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filter(Model):
    """``{"op": "=", "property": "code", "value": "11"}``; ``and``/``or``/``not`` combine ``args``.

    ``like`` takes an SQL pattern (``%`` any characters, ``_`` one character), as SLD's PropertyIsLike does."""

    op: Literal["=", "!=", "<", "<=", ">", ">=", "in", "between", "is_null", "like", "and", "or", "not"]
    property: str | None = None
    value: Scalar | list[Scalar] | None = None
    args: list[Filter] = []

    def properties(self) -> set[str]:
        names = {self.property} if self.property else set()
        for arg in self.args:
            names |= arg.properties()
        return names


class Fill(Model):
    kind: Literal["fill"]
    color: Color
    opacity: float = Field(1.0, ge=0, le=1)
    outline_color: Color | None = None
    outline_width: float = Field(1.0, ge=0, le=100)


class Line(Model):
    kind: Literal["line"]
    color: Color
    width: float = Field(1.0, ge=0, le=100)
    opacity: float = Field(1.0, ge=0, le=1)
    dash: list[float] = []
    casing_color: Color | None = None
    casing_width: float = Field(0.0, ge=0, le=100)


class Marker(Model):
    kind: Literal["marker"]
    shape: Literal["circle", "square", "triangle", "star", "cross", "x"] = "circle"
    color: Color
    radius: float = Field(4.0, gt=0, le=100)
    rotation: float = Field(0.0, ge=-360, le=360)  # degrees, clockwise
    opacity: float = Field(1.0, ge=0, le=1)
    outline_color: Color | None = None
    outline_width: float = Field(1.0, ge=0, le=100)


class Label(Model):
    kind: Literal["label"]
    field: str
    size: float = Field(11.0, gt=0, le=72)
    color: Color = "#222222"
    halo_color: Color | None = "#ffffff"
    halo_radius: float = Field(1.5, ge=0, le=10)
    placement: Literal["point", "line"] = "point"
    bold: bool = False
    italic: bool = False


Symbolizer = Annotated[Fill | Line | Marker | Label, Field(discriminator="kind")]


class Rule(Model):
    name: str = ""
    title: str = ""
    filter: Filter | None = None
    min_scale: float | None = Field(None, ge=0)  # scale denominators, as in SLD
    max_scale: float | None = Field(None, ge=0)
    else_filter: bool = False  # applies to what no other rule of the style matched (SLD's ElseFilter)
    symbolizers: list[Symbolizer]


class RampStop(Model):
    value: float
    color: Color


class Style(Model):
    """A vector style (``rules``) or a raster style (``kind`` rgb | ramp)."""

    name: str = "default"
    title: str = ""
    rules: list[Rule] = []
    kind: Literal["vector", "rgb", "ramp"] = "vector"
    bands: list[int] = [1, 2, 3]
    band: int = 1
    ramp: str | list[RampStop] = "viridis"
    # how colours fill between stops (SLD ColorMap types): blended, constant up to the next stop, exact values only
    ramp_mode: Literal["ramp", "intervals", "values"] = "ramp"
    min: float = 0.0
    max: float = 255.0
    opacity: float = Field(1.0, ge=0, le=1)
    _digest: str | None = PrivateAttr(None)

    def digest(self) -> str:
        """A short fingerprint of the content: compiled maps are cached under it."""
        if self._digest is None:
            self._digest = hashlib.sha1(self.model_dump_json().encode(), usedforsecurity=False).hexdigest()[:16]
        return self._digest

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", value):
            raise ValueError("a style name is 1-64 letters, digits, '_', '.' or '-'")
        return value

    def fields(self) -> set[str]:
        """Attribute names the style reads (filters and labels)."""
        names: set[str] = set()
        for rule in self.rules:
            if rule.filter:
                names |= rule.filter.properties()
            names |= {s.field for s in rule.symbolizers if isinstance(s, Label)}
        return names


def parse_style(data: dict[str, Any], fields: list[str] | None = None) -> Style:
    """Validate a style dict; with ``fields``, also check every attribute it names exists."""
    try:
        style = Style.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"invalid style at {where}: {first['msg']}") from None
    if fields is not None:
        unknown = style.fields() - set(fields)
        if unknown:
            raise InvalidInput(f"the style names unknown attributes: {', '.join(sorted(unknown))}")
    return style


@dataclass(frozen=True)
class StyleLimits:
    """How big a style given by a user may be: its document, its rules, its filters (their operators, listed
    values and LIKE wildcards all count as nodes) and how deep filters nest. Every rule's filter is evaluated
    for every feature drawn, so these bound the work of a map."""

    bytes: int = 64 * 1024
    rules: int = 200
    nodes: int = 2000
    depth: int = 16

    @classmethod
    def of(cls, settings: Any) -> StyleLimits:
        return cls(settings.style_max_bytes, settings.style_max_rules, settings.style_max_filter_nodes,
                   settings.style_max_filter_depth)

    def check_size(self, size: int, what: str = "a style document") -> None:
        if size > self.bytes:
            raise InvalidInput(f"{what} is {size} bytes: at most {self.bytes} are accepted")

    def check_depth(self, depth: int) -> None:
        if depth > self.depth:
            raise InvalidInput(f"a style filter nests {depth} levels deep: at most {self.depth} are accepted")

    def check(self, style: Style) -> None:
        """InvalidInput with the reason when ``style`` is over a limit.

        >>> rule = {"filter": {"op": "like", "property": "n", "value": "%a%b%"}, "symbolizers": []}
        >>> StyleLimits(nodes=3).check(parse_style({"rules": [rule]}))
        Traceback (most recent call last):
        kartenn.errors.InvalidInput: the style's filters have 4 nodes: at most 3 are accepted
        """
        if len(style.rules) > self.rules:
            raise InvalidInput(f"the style has {len(style.rules)} rules: at most {self.rules} are accepted")
        nodes = 0
        for rule in style.rules:
            if rule.filter is not None:
                count, depth = filter_size(rule.filter)
                self.check_depth(depth)
                nodes += count
        if nodes > self.nodes:
            raise InvalidInput(f"the style's filters have {nodes} nodes: at most {self.nodes} are accepted")


def filter_size(f: Filter) -> tuple[int, int]:
    """(nodes, depth) of a filter: each operator, each listed value and each run of LIKE wildcards is a node."""
    nodes, depth = 1, 1
    if isinstance(f.value, list):
        nodes += len(f.value)
    elif f.op == "like" and isinstance(f.value, str):
        nodes += len(re.findall(r"%+", f.value))
    for arg in f.args:
        n, d = filter_size(arg)
        nodes, depth = nodes + n, max(depth, d + 1)
    return nodes, depth


def nesting(value: Any) -> int:
    """How deep lists and dicts nest in a JSON value (read before a model recurses into it)."""
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [v for item in level if isinstance(item, dict | list)
                 for v in (item.values() if isinstance(item, dict) else item)]
    return depth - 1


def categorised(field: str, classes: dict[Scalar, str], template: dict[str, Any], *,
                name: str = "categorised") -> dict[str, Any]:
    """One rule per value, each a copy of ``template`` (a symbolizer dict) in that colour.

    >>> s = categorised("kind", {"a": "#ff0000"}, {"kind": "fill", "color": "#000000"})
    >>> s["rules"][0]["filter"]
    {'op': '=', 'property': 'kind', 'value': 'a'}
    """
    rules = [{"name": str(value), "title": str(value), "filter": {"op": "=", "property": field, "value": value},
              "symbolizers": [{**template, "color": color}]} for value, color in classes.items()]
    return {"name": name, "title": f"{field} (categories)", "rules": rules}


def graduated(field: str, breaks: list[float], colors: list[str], template: dict[str, Any], *,
              name: str = "graduated") -> dict[str, Any]:
    """One rule per class [breaks[i], breaks[i+1]); ``colors`` has one colour fewer than ``breaks``.

    >>> s = graduated("pop", [0, 10, 100], ["#eeeeee", "#333333"], {"kind": "fill", "color": "#000000"})
    >>> s["rules"][1]["filter"]["args"][1]
    {'op': '<=', 'property': 'pop', 'value': 100}
    """
    if len(colors) != len(breaks) - 1:
        raise InvalidInput("graduated: give one colour per class (one fewer than the breaks)")
    rules = []
    for i, color in enumerate(colors):
        low, high = breaks[i], breaks[i + 1]
        upper = "<=" if i == len(colors) - 1 else "<"
        rules.append({"name": f"{low}-{high}", "title": f"{low} – {high}",
                      "filter": {"op": "and", "args": [{"op": ">=", "property": field, "value": low},
                                                       {"op": upper, "property": field, "value": high}]},
                      "symbolizers": [{**template, "color": color}]})
    return {"name": name, "title": f"{field} (classes)", "rules": rules}
