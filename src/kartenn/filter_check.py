"""Checks every filter passes before it reaches SQL, whatever its language (CQL2 text or JSON, FES 2.0, Filter
1.1, CSW's CQL): its size, number of terms and depth within the site's limits, and operands of the kinds each
operator takes. The walks are iterative, so no filter is deep enough to exhaust the stack.

Depth counts nested logical operators, a run of the same one (``a OR b OR c``) once; terms are the
predicates and the values of IN lists.

>>> from kartenn.cql2 import parse_text
>>> check_tree(parse_text("nom LIKE 'Bre%\\\\'"), FilterLimits())
Traceback (most recent call last):
...
kartenn.errors.InvalidInput: a LIKE pattern cannot end with its escape character
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import shapely
import shapely.geometry
from lxml import etree
from pygeofilter import ast, values

from kartenn.errors import InvalidInput

INT64 = 2**63
LIKE_MAX_CHARS = 1_000  # longer patterns cost SQLite and PostgreSQL much and find nothing more
# JSON and XML levels that one logical level, or a geometry, may take beyond the logical depth
JSON_LEVELS, XML_LEVELS, GEOMETRY_LEVELS = 2, 1, 10


@dataclass(frozen=True)
class FilterLimits:
    max_bytes: int = 65_536
    max_terms: int = 1_000
    max_depth: int = 20

    @classmethod
    def of(cls, settings: Any) -> FilterLimits:
        return cls(settings.filter_max_bytes, settings.filter_max_terms, settings.filter_max_depth)


def check_size(text: str | bytes, limits: FilterLimits, locator: str = "filter") -> None:
    size = len(text.encode("utf-8", "replace") if isinstance(text, str) else text)
    if size > limits.max_bytes:
        raise InvalidInput(f"the filter is too long: {size} bytes, at most {limits.max_bytes}", locator=locator)


def check_json(document: Any, limits: FilterLimits, locator: str = "filter") -> None:
    """A decoded CQL2 JSON document not nested deeper than its limits allow."""
    def children(node: Any) -> list[Any]:
        found = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        return [child for child in found if isinstance(child, dict | list)]

    _check_depth(document, children, limits.max_depth * JSON_LEVELS + GEOMETRY_LEVELS, limits, locator)


def check_xml(element: etree._Element, limits: FilterLimits, locator: str = "filter", *, sized: bool = False) -> None:
    """An XML filter (FES, OGC Filter) within the size and depth limits, before any parser recurses into it
    (``sized``: its text was checked already)."""
    if not sized:
        check_size(etree.tostring(element), limits, locator)
    _check_depth(element, list, limits.max_depth * XML_LEVELS + GEOMETRY_LEVELS, limits, locator)


def _check_depth(root: Any, children: Any, most: int, limits: FilterLimits, locator: str) -> None:
    """Walked without recursion: no node deeper than ``most`` levels."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > most:
            raise InvalidInput(f"the filter is nested too deeply (at most {limits.max_depth} levels)",
                               locator=locator)
        stack += [(child, depth + 1) for child in children(node)]


def check_tree(node: Any, limits: FilterLimits, locator: str = "filter") -> None:
    """A parsed filter (pygeofilter AST) within the limits and with operands its operators can take."""
    terms = 0
    stack: list[tuple[Any, int, type | None]] = [(node, 1, None)]
    while stack:
        item, depth, parent = stack.pop()
        if isinstance(item, ast.And | ast.Or | ast.Not):
            if type(item) is not parent or isinstance(item, ast.Not):
                depth += 1
            if depth > limits.max_depth + 1:
                raise InvalidInput(f"the filter is nested too deeply (at most {limits.max_depth} levels)",
                                   locator=locator)
            subs = [item.sub_node] if isinstance(item, ast.Not) else [item.lhs, item.rhs]
            stack += [(sub, depth, type(item)) for sub in subs]
            continue
        if not isinstance(item, ast.Node):
            raise InvalidInput(f"{_shown(item)} is not a condition", locator=locator)
        terms += 1 + (len(item.sub_nodes) if isinstance(item, ast.In) and isinstance(item.sub_nodes, list) else 0)
        if terms > limits.max_terms:
            raise InvalidInput(f"the filter has too many terms (at most {limits.max_terms})", locator=locator)
        _check_predicate(item, locator)


def _check_predicate(node: Any, locator: str) -> None:
    if isinstance(node, ast.Like):
        _check_like(node, locator)
    elif isinstance(node, ast.In) and not isinstance(node.sub_nodes, list):
        raise InvalidInput("IN takes a list of values", locator=locator)
    elif isinstance(node, ast.SpatialComparisonPredicate | ast.Relate | ast.SpatialDistancePredicate):
        kinds = {type(node.lhs), type(node.rhs)}
        if ast.Attribute not in kinds or not kinds & {values.Geometry, values.Envelope}:
            raise InvalidInput("a spatial operator compares a property with a geometry", locator=locator)
    elif isinstance(node, ast.BBox):
        if not all(isinstance(n, int | float) and math.isfinite(n) for n in (node.minx, node.miny, node.maxx,
                                                                             node.maxy)):
            raise InvalidInput("the corners of a BBOX must be finite numbers", locator=locator)
    elif isinstance(node, ast.TemporalPredicate):
        for side in (node.lhs, node.rhs):
            if not isinstance(side, ast.Attribute | date | values.Interval | str):
                raise InvalidInput(f"a temporal operator compares dates or times, not {_shown(side)}",
                                   locator=locator)
    for operand in _operands(node):
        _check_value(operand, locator)


def _operands(node: Any) -> list[Any]:
    subs = node.get_sub_nodes() if isinstance(node, ast.Node) else []
    out = []
    for sub in subs if isinstance(subs, list) else [subs]:
        out += sub if isinstance(sub, list) else [sub]
    if isinstance(node, ast.Between):
        out += [node.low, node.high]
    return out


def _check_value(value: Any, locator: str) -> None:
    if isinstance(value, ast.Attribute):
        if not isinstance(value.name, str) or not value.name.isprintable():
            raise InvalidInput("a property name in the filter has characters no name has", locator=locator)
    elif isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput("a text in the filter contains a NUL character", locator=locator)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise InvalidInput(f"the number {value} is too large", locator=locator)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("numbers in the filter must be finite", locator=locator)
    elif isinstance(value, values.Interval):
        _check_interval(value, locator)
    elif isinstance(value, values.Geometry | values.Envelope):
        check_geometry(value, locator)
    elif isinstance(value, ast.Node) and not isinstance(value, ast.Attribute):
        pass  # functions and arithmetic: the stores refuse what they cannot write


def _check_like(node: ast.Like, locator: str) -> None:
    if not isinstance(node.lhs, ast.Attribute):
        raise InvalidInput("LIKE compares a property with a pattern", locator=locator)
    if not isinstance(node.pattern, str):
        raise InvalidInput(f"the pattern of LIKE must be a text, not {_shown(node.pattern)}", locator=locator)
    if len(node.pattern) > LIKE_MAX_CHARS:
        raise InvalidInput(f"a LIKE pattern is at most {LIKE_MAX_CHARS} characters long", locator=locator)
    chars = iter(node.pattern)
    for ch in chars:
        if node.escapechar and ch == node.escapechar and next(chars, None) is None:
            raise InvalidInput("a LIKE pattern cannot end with its escape character", locator=locator)


def _check_interval(interval: values.Interval, locator: str) -> None:
    start, end = (_moment(v) for v in (interval.start, interval.end))
    if start is not None and end is not None and start > end:
        raise InvalidInput("a time interval ends before it begins", locator=locator)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    return None


def check_geometry(literal: Any, locator: str = "filter") -> Any:
    """A geometry of a filter as shapely reads it: finite coordinates, not empty, valid (OGC simple features)."""
    try:
        geometry = shapely.geometry.shape(literal.geometry if isinstance(literal, values.Envelope) else literal)
        coordinates = shapely.get_coordinates(geometry)
    except Exception as exc:  # shapely raises several kinds for what it cannot read
        message = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise InvalidInput(f"a geometry in the filter cannot be read: {message}", locator=locator) from None
    if geometry.is_empty:
        raise InvalidInput("a geometry in the filter is empty", locator=locator)
    if not all(math.isfinite(c) for c in coordinates.ravel()):
        raise InvalidInput("the coordinates of a geometry in the filter must be finite numbers", locator=locator)
    if not geometry.is_valid:
        raise InvalidInput(f"a geometry in the filter is not valid: {shapely.is_valid_reason(geometry)}",
                           locator=locator)
    return geometry


def _shown(value: Any) -> str:
    if isinstance(value, ast.Attribute):
        return f"the property {value.name!r}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
