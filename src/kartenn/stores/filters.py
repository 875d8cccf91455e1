"""A filter (the pygeofilter tree of CQL2 text or JSON, OGC Filter/FES, CSW's CQL) → a SQLAlchemy condition, on
both databases, for features and catalogue records alike.

One walk of the tree. What differs between a dataset's features and the catalogue's records — which properties
there are, what values they take, how geometries and times compare — is said by a ``Schema``. Properties are
checked against the schema before they name a column; every value is a bound parameter. Temporal operators
compare intervals by their ends (an instant is an interval of no length), as CQL2 and ISO 19108 define them.

>>> from sqlalchemy import column
>>> from kartenn.cql2 import parse_text
>>> from kartenn.stores.dialect import SQLITE
>>> fields = FeatureFields({"nom": "string", "code": "string"}, {"nom": column("nom"), "code": column("code")},
...                        SQLITE, spatial=None)
>>> SQLITE.compile(to_condition(parse_text("nom = 'Bretagne' AND code IN ('53', '11')"), fields))
('(nom = ? AND code IN (?, ?))', ['Bretagne', '53', '11'])
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any

import shapely
from pygeofilter import ast, values
from sqlalchemy import Boolean, and_, false, func, literal, not_, or_, true, type_coerce
from sqlalchemy.sql import ColumnElement

from kartenn.errors import InvalidInput
from kartenn.filter_check import INT64, check_geometry
from kartenn.stores.dialect import Dialect

Condition = ColumnElement[bool]
COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Equal: operator.eq, ast.NotEqual: operator.ne, ast.LessThan: operator.lt, ast.LessEqual: operator.le,
    ast.GreaterThan: operator.gt, ast.GreaterEqual: operator.ge}
FLIPPED = {ast.LessThan: ast.GreaterThan, ast.GreaterThan: ast.LessThan, ast.LessEqual: ast.GreaterEqual,
           ast.GreaterEqual: ast.LessEqual}
SPATIAL = {ast.GeometryIntersects: "intersects", ast.GeometryDisjoint: "disjoint", ast.GeometryContains: "contains",
           ast.GeometryWithin: "within", ast.GeometryTouches: "touches", ast.GeometryCrosses: "crosses",
           ast.GeometryOverlaps: "overlaps", ast.GeometryEquals: "equals"}
CONVERSE = {"contains": "within", "within": "contains"}
GROUP = 8  # a run of ANDs or ORs is written in groups of this many, so SQLite's parser tree stays shallow
NEG, POS = "-inf", "+inf"  # the open ends of an interval


class Schema:
    """What a filter may name and how its values compare; ``locator`` names the request parameter in errors."""

    locator = "filter"

    def check(self, name: str) -> str:
        """The queryable ``name`` refers to; InvalidInput when there is none."""
        raise NotImplementedError

    def compared(self, name: str, nocase: bool) -> Any:
        """The property as it is compared with values."""
        raise NotImplementedError

    def value(self, name: str, value: Any, nocase: bool) -> Any:
        """A literal as the property compares with it (a bound parameter)."""
        raise NotImplementedError

    def is_null(self, name: str) -> Condition:
        raise NotImplementedError

    def equality(self, name: str, value: Any, nocase: bool) -> Condition | None:
        """A faster test of ``name = value``, or None for the plain comparison."""
        return None

    def like(self, name: str, pattern: str, nocase: bool) -> Condition:
        raise NotImplementedError

    def spatial(self, op: str, name: str | None, literal: Any) -> Condition:
        raise NotImplementedError

    def temporal_kind(self, names: list[str]) -> str:
        return "datetime"

    def period(self, name: str) -> tuple[Any, Any]:
        """(start, end) of a property in a temporal operator."""
        raise NotImplementedError

    def instant(self, value: Any, kind: str) -> Any:
        """A literal date or time as compared with periods."""
        raise NotImplementedError

    def negate(self, condition: Condition) -> Condition:
        return not_(condition)


def to_condition(node: Any, schema: Schema) -> Condition:
    """The SQL condition of a filter."""
    return _Walk(schema).node(node)


def operands(node: Any, kind: type[Any]) -> list[Any]:
    """The operands of a run of ANDs (or ORs) in their order, without recursion: ``a AND (b AND c)`` → a, b, c."""
    out: list[Any] = []
    stack: list[Any] = [node]
    while stack:
        item = stack.pop()
        if type(item) is kind:
            stack += [item.rhs, item.lhs]
        else:
            out.append(item)
    return out


def spatial_literals(node: Any) -> list[tuple[Any, str | None]]:
    """Geometries (and their CRS names) every match must touch, from spatial predicates ANDed at the top:
    an index can prefilter with them."""
    found = []
    for term in operands(node, ast.And):
        op = SPATIAL.get(type(term))
        if op and op != "disjoint":
            literal = term.rhs if isinstance(term.rhs, values.Geometry) else term.lhs
            if isinstance(literal, values.Geometry):
                found.append((check_geometry(literal), crs_name(literal)))
    return found


def crs_name(literal: values.Geometry) -> str | None:
    """The CRS a GML geometry named (srsName); its coordinates are then east/north. None: the filter CRS."""
    crs = literal.geometry.get("crs") if isinstance(literal.geometry, dict) else None
    return (crs or {}).get("properties", {}).get("name")


def envelope_bounds(envelope: values.Envelope) -> tuple[float, float, float, float]:
    """(min x, min y, max x, max y) of a filter's envelope, whichever corners it was given by."""
    e = envelope
    return min(e.x1, e.x2), min(e.y1, e.y2), max(e.x1, e.x2), max(e.y1, e.y2)


def like_pattern(node: ast.Like, locator: str) -> str:
    """The filter's pattern (its own wildcard, single character and escape) for SQL LIKE with ``\\`` as escape."""
    out = []
    chars = iter(node.pattern)
    for ch in chars:
        if node.escapechar and ch == node.escapechar:
            literal_char = next(chars, None)
            if literal_char is None:
                raise InvalidInput("a LIKE pattern cannot end with its escape character", locator=locator)
            out.append("\\" + literal_char if literal_char in "%_\\" else literal_char)
        elif ch == node.wildcard:
            out.append("%")
        elif ch == (node.singlechar or "_"):
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


class _Walk:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.locator = schema.locator

    def node(self, node: Any) -> Condition:
        if isinstance(node, ast.And | ast.Or):
            parts = [self.node(n) for n in operands(node, type(node))]
            join = and_ if isinstance(node, ast.And) else or_
            while len(parts) > 1:
                parts = [type_coerce(join(*parts[i:i + GROUP]), Boolean).self_group()  # parentheses kept
                         for i in range(0, len(parts), GROUP)]
            return parts[0]
        if isinstance(node, ast.Not):
            if isinstance(node.sub_node, ast.GeometryDisjoint):  # OGC BBOX and CQL's INTERSECTS parsed as this
                inner = node.sub_node
                return self.spatial("intersects", inner.lhs, inner.rhs)
            return self.schema.negate(self.node(node.sub_node))
        if isinstance(node, ast.Include):
            return false() if node.not_ else true()
        if type(node) in COMPARISONS:
            return self.comparison(node)
        if isinstance(node, ast.IsNull):
            condition = self.schema.is_null(self.name(node.lhs))
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.Between):
            name = self.name(node.lhs)
            condition = self.schema.compared(name, False).between(self.schema.value(name, node.low, False),
                                                                   self.schema.value(name, node.high, False))
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.In):
            name = self.name(node.lhs)
            condition = self.schema.compared(name, False).in_([self.schema.value(name, v, False)
                                                                for v in node.sub_nodes])
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.Like):
            name = self.name(node.lhs)
            condition = self.schema.like(name, like_pattern(node, self.locator), bool(getattr(node, "nocase", False)))
            return not_(condition) if node.not_ else condition
        if isinstance(node, ast.BBox):
            box = values.Envelope(node.minx, node.maxx, node.miny, node.maxy)
            return self.spatial("intersects", node.lhs, box)
        if type(node) in SPATIAL:
            return self.spatial(SPATIAL[type(node)], node.lhs, node.rhs)
        if isinstance(node, ast.TemporalPredicate):
            return self.temporal(node)
        raise InvalidInput(f"this filter operation is not supported: {type(node).__name__}", locator=self.locator)

    def name(self, node: Any) -> str:
        if not isinstance(node, ast.Attribute):
            raise InvalidInput("the left side of a comparison must be a property", locator=self.locator)
        return self.schema.check(node.name)

    def comparison(self, node: Any) -> Condition:
        lhs, rhs, kind = node.lhs, node.rhs, type(node)
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs, kind = rhs, lhs, FLIPPED.get(kind, kind)
        name = self.name(lhs)
        nocase = bool(getattr(node, "nocase", False)) and isinstance(rhs, str)  # OGC Filter's matchCase="false"
        if kind in (ast.Equal, ast.NotEqual):
            faster = self.schema.equality(name, rhs, nocase)
            if faster is not None:
                return faster if kind is ast.Equal else not_(faster)
        compare = COMPARISONS[kind]
        return compare(self.schema.compared(name, nocase), self.schema.value(name, rhs, nocase))  # type: ignore[no-any-return]

    def spatial(self, op: str, lhs: Any, rhs: Any) -> Condition:
        literals = values.Geometry | values.Envelope
        if isinstance(lhs, literals) and not isinstance(rhs, literals):
            lhs, rhs, op = rhs, lhs, CONVERSE.get(op, op)
        if lhs is not None and not isinstance(lhs, ast.Attribute):
            raise InvalidInput("spatial operators compare a geometry property with a geometry", locator=self.locator)
        if not isinstance(rhs, literals):
            raise InvalidInput("the second argument of a spatial operator must be a geometry", locator=self.locator)
        return self.schema.spatial(op, lhs.name if lhs is not None else None, rhs)

    def temporal(self, node: Any) -> Condition:
        names = [self.name(n) for n in (node.lhs, node.rhs) if isinstance(n, ast.Attribute)]
        kind = self.schema.temporal_kind(names)
        (a0, a1), (b0, b1) = self.period(node.lhs, kind), self.period(node.rhs, kind)
        rules: dict[type, list[tuple[Any, str, Any]]] = {
            ast.TimeAfter: [(a0, ">", b1)],
            ast.TimeBefore: [(a1, "<", b0)],
            ast.TimeEquals: [(a0, "=", b0), (a1, "=", b1)],
            ast.TimeDuring: [(a0, ">", b0), (a1, "<", b1)],
            ast.TimeContains: [(a0, "<", b0), (a1, ">", b1)],
            ast.TimeBegins: [(a0, "=", b0), (a1, "<", b1)],
            ast.TimeBegunBy: [(a0, "=", b0), (a1, ">", b1)],
            ast.TimeEnds: [(a0, ">", b0), (a1, "=", b1)],
            ast.TimeEndedBy: [(a0, "<", b0), (a1, "=", b1)],
            ast.TimeMeets: [(a1, "=", b0)],
            ast.TimeMetBy: [(a0, "=", b1)],
            ast.TimeOverlaps: [(a0, "<", b0), (a1, ">", b0), (a1, "<", b1)],
            ast.TimeOverlappedBy: [(a0, ">", b0), (a0, "<", b1), (a1, ">", b1)],
        }
        if isinstance(node, ast.TimeDisjoint):
            return or_(_compare(a1, "<", b0), _compare(a0, ">", b1)).self_group()
        if type(node) not in rules:
            raise InvalidInput(f"this temporal operator is not supported: {type(node).__name__}",
                               locator=self.locator)
        return and_(*(_compare(*rule) for rule in rules[type(node)])).self_group()

    def period(self, node: Any, kind: str) -> tuple[Any, Any]:
        """(start, end) of a temporal operand; NEG/POS for open ends."""
        if isinstance(node, ast.Attribute):
            return self.schema.period(self.schema.check(node.name))
        if isinstance(node, values.Interval):
            start = self.schema.instant(node.start, kind) if node.start is not None else NEG
            end = self.schema.instant(node.end, kind) if node.end is not None else POS
            return start, end
        instant = self.schema.instant(node, kind)
        return instant, instant


def _compare(left: Any, op: str, right: Any) -> Condition:
    """One comparison of interval ends; an open end decides it without SQL."""
    if isinstance(left, str) or isinstance(right, str):  # NEG or POS
        if op == "=":
            return false()
        below = left == NEG or right == POS  # left is certainly smaller
        return true() if below == (op == "<") else false()
    return {"<": operator.lt, ">": operator.gt, "=": operator.eq}[op](left, right)  # type: ignore[no-any-return]


# Features ---------------------------------------------------------------------------------------------------

TEMPORAL_TYPES = {"date", "datetime"}
NUMBER_TYPES = {"integer", "number"}
GEOMETRY_NAMES = {"geometry", "geom"}


class FeatureFields(Schema):
    """A dataset's fields: ``types`` maps each to its type (string, integer, number, boolean, date, datetime…),
    ``columns`` to its column; ``spatial(op, geometry, crs name or None)`` tests the features' geometry against a
    shapely geometry of the filter (None: no spatial filters here)."""

    def __init__(self, types: dict[str, str], columns: dict[str, Any], dialect: Dialect,
                 spatial: Callable[[str, Any, str | None], Condition] | None) -> None:
        self.types, self.columns, self.dialect, self.spatial_test = types, columns, dialect, spatial

    def check(self, name: str) -> str:
        if name not in self.types:
            known = ", ".join(sorted(self.types))
            raise InvalidInput(f"unknown property {name!r} in filter; queryables: {known}", locator=self.locator)
        return name

    def temporal(self, name: str) -> bool:
        return self.types.get(name) in TEMPORAL_TYPES

    def compared(self, name: str, nocase: bool) -> Any:
        column = self.columns[name]
        if self.temporal(name):
            return self.dialect.time(column)
        return func.lower(column) if nocase and self.types[name] == "string" else column

    def value(self, name: str, value: Any, nocase: bool) -> Any:
        if self.temporal(name):
            return self.instant(value, self.types[name])
        if isinstance(value, date | datetime):
            value = value.isoformat()
        if not (isinstance(value, bool | int | float | str) or value is None):
            raise InvalidInput(f"unsupported value in filter: {value!r}", locator=self.locator)
        typed = _typed(name, self.types[name], value)
        return func.lower(literal(typed)) if nocase and self.types[name] == "string" else literal(typed)

    def is_null(self, name: str) -> Condition:
        return self.columns[name].is_(None)  # type: ignore[no-any-return]

    def like(self, name: str, pattern: str, nocase: bool) -> Condition:
        if self.types[name] != "string":
            raise InvalidInput(f"LIKE compares text; {name!r} is a {self.types[name]} property", locator=self.locator)
        column = self.columns[name]
        if nocase:
            return func.lower(column).like(func.lower(literal(pattern)), escape="\\")  # type: ignore[no-any-return]
        return column.like(literal(pattern), escape="\\")  # type: ignore[no-any-return]

    def spatial(self, op: str, name: str | None, literal_node: Any) -> Condition:
        if name not in GEOMETRY_NAMES:
            raise InvalidInput("spatial operators compare the 'geometry' property with a geometry",
                               locator=self.locator)
        if self.spatial_test is None:
            raise InvalidInput("spatial filters are not available here", locator=self.locator)
        if isinstance(literal_node, values.Envelope):
            return self.spatial_test(op, shapely.box(*envelope_bounds(literal_node)), None)
        return self.spatial_test(op, check_geometry(literal_node), crs_name(literal_node))

    def temporal_kind(self, names: list[str]) -> str:
        kinds = [self.types[n] for n in names if self.temporal(n)]
        return kinds[0] if kinds else "datetime"

    def period(self, name: str) -> tuple[Any, Any]:
        if not self.temporal(name):
            raise InvalidInput(f"{name!r} is not a date or time property", locator=self.locator)
        column = self.dialect.time(self.columns[name])
        return column, column

    def instant(self, value: Any, kind: str) -> Any:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"{value!r} is not a date or a timestamp", locator=self.locator) from None
        if not isinstance(value, date):
            raise InvalidInput(f"expected a date or a timestamp, not {value!r}", locator=self.locator)
        if kind == "date" and isinstance(value, datetime):
            value = value.astimezone(UTC).date() if value.tzinfo else value.date()
        elif kind == "datetime" and not isinstance(value, datetime):
            value = datetime.combine(value, time(), UTC)
        return self.dialect.time(literal(self.dialect.time_value(value)))


def _typed(name: str, kind: str, value: Any) -> Any:
    """A comparison's value as the property's type takes it: numbers for numbers (their text too, as OGC Filter
    literals come), text for text; anything else is the client's mistake."""
    if value is None:
        raise InvalidInput(f"compare {name!r} with a value; for no value use IS NULL", locator="filter")
    if kind in NUMBER_TYPES:
        number = value
        if isinstance(value, str):
            try:
                number = int(value) if kind == "integer" and value.strip().lstrip("+-").isdigit() else float(value)
            except ValueError:
                number = None
        if isinstance(number, bool) or not isinstance(number, int | float) or not _finite(number):
            raise InvalidInput(f"{name!r} is a number property: {value!r} is not a number it can hold",
                               locator="filter")
        return number
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise InvalidInput(f"{name!r} is a boolean property: {value!r} is not true or false", locator="filter")
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{name!r} is a {kind} property: compare it with a text, not {value!r}", locator="filter")
    return value


def _finite(number: int | float) -> bool:
    return -INT64 <= number < INT64 if isinstance(number, int) else math.isfinite(number)
