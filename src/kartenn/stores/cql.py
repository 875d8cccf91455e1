"""CQL2 (a pygeofilter AST) → a SQL condition with bound parameters, for SQLite and PostgreSQL alike.

Identifiers are checked against the dataset's fields and quoted; every value is a bound parameter.
Spatial predicates are written by the store (``Dialect.spatial``); temporal ones compare instants and
intervals by their ends (an instant is an interval of no length), as CQL2 defines them.

>>> from kartenn.cql2 import parse_text
>>> to_sql(parse_text("nom = 'Bretagne' AND code IN ('53', '11')"), {"nom": "string", "code": "string"}, SQLITE)
('("nom" = ? AND "code" IN (?, ?))', ['Bretagne', '53', '11'])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from pygeofilter import ast, values

from kartenn.errors import InvalidInput
from kartenn.filter_check import INT64, check_geometry

COMPARISONS = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
               ast.GreaterThan: ">", ast.GreaterEqual: ">="}
SPATIAL = {ast.GeometryIntersects: "intersects", ast.GeometryDisjoint: "disjoint", ast.GeometryContains: "contains",
           ast.GeometryWithin: "within", ast.GeometryTouches: "touches", ast.GeometryCrosses: "crosses",
           ast.GeometryOverlaps: "overlaps", ast.GeometryEquals: "equals"}
CONVERSE = {"contains": "within", "within": "contains"}
GEOMETRY_NAMES = {"geometry", "geom"}
TEMPORAL_TYPES = {"date", "datetime"}
NUMBER_TYPES = {"integer", "number"}
GROUP = 8  # a run of ANDs or ORs is written in groups of this many, so SQLite's parser tree stays shallow
NEG, POS = "-inf", "+inf"  # the open ends of an interval
Operand = Any  # (SQL, its parameters), or NEG / POS


@dataclass(frozen=True)
class Dialect:
    """How one database writes what CQL2 needs beyond plain comparisons."""

    mark: str  # the driver's placeholder
    time_column: str = "{}"  # a temporal column in comparisons, e.g. "julianday({})"
    time_value: Callable[[Any], Any] = lambda v: v  # a date or datetime as a bound value
    # ("intersects", geometry, its CRS name or None for the filter CRS) → SQL and its parameters
    spatial: Callable[[str, Any, str | None], tuple[str, list[Any]]] | None = None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


SQLITE = Dialect("?", "julianday({})", _iso)
POSTGRES = Dialect("%s")


def to_sql(node: Any, fields: dict[str, str], dialect: Dialect) -> tuple[str, list[Any]]:
    """``fields`` maps each queryable name to its type (string, integer, number, boolean, date, datetime…)."""
    params: list[Any] = []
    return _Writer(fields, dialect, params).node(node), params


def spatial_literals(node: Any) -> list[tuple[Any, str | None]]:
    """Geometries (and their CRS names) every match must touch, from spatial predicates ANDed at the top:
    an index can prefilter with them."""
    found = []
    for term in operands(node, ast.And):
        op = SPATIAL.get(type(term))
        if op and op != "disjoint":
            literal = term.rhs if isinstance(term.rhs, values.Geometry) else term.lhs
            if isinstance(literal, values.Geometry):
                found.append((check_geometry(literal), _crs_name(literal)))
    return found


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


def _grouped(parts: list[str], op: str) -> str:
    while len(parts) > 1:
        parts = ["(" + op.join(parts[i:i + GROUP]) + ")" for i in range(0, len(parts), GROUP)]
    return parts[0]


@dataclass
class _Writer:
    fields: dict[str, str]
    dialect: Dialect
    params: list[Any]

    def node(self, node: Any) -> str:
        mark = self.dialect.mark
        if isinstance(node, ast.And | ast.Or):
            op = " AND " if isinstance(node, ast.And) else " OR "
            return _grouped([self.node(n) for n in operands(node, type(node))], op)
        if isinstance(node, ast.Not):
            return f"(NOT {self.node(node.sub_node)})"
        if isinstance(node, ast.Include):
            return "(1 = 0)" if node.not_ else "(1 = 1)"
        if type(node) in COMPARISONS:
            column = self.column(node.lhs)
            return f"{self.compared(node.lhs, column)} {COMPARISONS[type(node)]} {self.value(node.lhs, node.rhs)}"
        if isinstance(node, ast.IsNull):
            return f"{self.column(node.lhs)} IS {'NOT ' if node.not_ else ''}NULL"
        if isinstance(node, ast.Between):
            column = self.compared(node.lhs, self.column(node.lhs))
            low, high = self.value(node.lhs, node.low), self.value(node.lhs, node.high)
            return f"{column} {'NOT ' if node.not_ else ''}BETWEEN {low} AND {high}"
        if isinstance(node, ast.In):
            column = self.compared(node.lhs, self.column(node.lhs))
            marks = ", ".join(self.value(node.lhs, v) for v in node.sub_nodes)
            return f"{column} {'NOT ' if node.not_ else ''}IN ({marks})"
        if isinstance(node, ast.Like):
            column = self.column(node.lhs)
            if self.fields[node.lhs.name] != "string":
                raise InvalidInput(f"LIKE compares text; {node.lhs.name!r} is a {self.fields[node.lhs.name]} property",
                                   locator="filter")
            self.params.append(_like_pattern(node))
            return f"{column} {'NOT ' if node.not_ else ''}LIKE {mark} ESCAPE '\\'"
        if type(node) in SPATIAL:
            return self.spatial(SPATIAL[type(node)], node.lhs, node.rhs)
        if isinstance(node, ast.TemporalPredicate):
            return self.temporal(node)
        raise InvalidInput(f"this filter operation is not supported: {type(node).__name__}", locator="filter")

    def column(self, node: Any) -> str:
        if not isinstance(node, ast.Attribute):
            raise InvalidInput("the left side of a comparison must be a property", locator="filter")
        if node.name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise InvalidInput(f"unknown property {node.name!r} in filter; queryables: {known}", locator="filter")
        return '"' + node.name.replace('"', '""') + '"'

    def is_temporal(self, attribute: Any) -> bool:
        return self.fields.get(getattr(attribute, "name", ""), "") in TEMPORAL_TYPES

    def compared(self, attribute: Any, column: str) -> str:
        return self.dialect.time_column.format(column) if self.is_temporal(attribute) else column

    def value(self, attribute: Any, value: Any) -> str:
        """A bound value, as the column's type wants it."""
        if self.is_temporal(attribute):
            return self.instant(value, self.fields[attribute.name])
        if isinstance(value, date | datetime):
            value = value.isoformat()
        if not (isinstance(value, bool | int | float | str) or value is None):
            raise InvalidInput(f"unsupported value in filter: {value!r}", locator="filter")
        self.params.append(_typed(attribute.name, self.fields[attribute.name], value))
        return self.dialect.mark

    def instant(self, value: Any, kind: str) -> str:
        text, params = self.operand(value, kind)
        self.params += params
        return text

    def operand(self, value: Any, kind: str) -> Operand:
        """A date or timestamp as SQL and its one parameter, not yet added (it may be used twice)."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
            except ValueError:
                raise InvalidInput(f"{value!r} is not a date or a timestamp", locator="filter") from None
        if not isinstance(value, date):
            raise InvalidInput(f"expected a date or a timestamp, not {value!r}", locator="filter")
        if kind == "date" and isinstance(value, datetime):
            value = value.astimezone(UTC).date() if value.tzinfo else value.date()
        elif kind == "datetime" and not isinstance(value, datetime):
            value = datetime.combine(value, time(), UTC)
        return self.dialect.time_column.format(self.dialect.mark), [self.dialect.time_value(value)]

    def spatial(self, op: str, lhs: Any, rhs: Any) -> str:
        if isinstance(lhs, values.Geometry) and isinstance(rhs, ast.Attribute):
            lhs, rhs, op = rhs, lhs, CONVERSE.get(op, op)
        if not isinstance(lhs, ast.Attribute) or lhs.name not in GEOMETRY_NAMES:
            raise InvalidInput("spatial operators compare the 'geometry' property with a geometry", locator="filter")
        if not isinstance(rhs, values.Geometry):
            raise InvalidInput("the second argument of a spatial operator must be a geometry", locator="filter")
        if self.dialect.spatial is None:
            raise InvalidInput("spatial filters are not available here", locator="filter")
        geometry = check_geometry(rhs)
        text, params = self.dialect.spatial(op, geometry, _crs_name(rhs))
        self.params += params
        return text

    def temporal(self, node: Any) -> str:
        sides = [n for n in (node.lhs, node.rhs) if isinstance(n, ast.Attribute) and self.is_temporal(n)]
        kind = self.fields[sides[0].name] if sides else "datetime"
        a, b = self.period(node.lhs, kind), self.period(node.rhs, kind)
        (a0, a1), (b0, b1) = a, b
        rules: dict[type, list[tuple[Operand, str, Operand]]] = {
            ast.TimeAfter: [(a0, ">", b1)],
            ast.TimeBefore: [(a1, "<", b0)],
            ast.TimeDisjoint: [],  # below: an OR
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
            return f"({self.compare(a1, '<', b0)} OR {self.compare(a0, '>', b1)})"
        if type(node) not in rules:
            raise InvalidInput(f"this temporal operator is not supported: {type(node).__name__}", locator="filter")
        return "(" + " AND ".join(self.compare(*rule) for rule in rules[type(node)]) + ")"

    def compare(self, left: Operand, op: str, right: Operand) -> str:
        """One comparison of interval ends; an open end decides it without SQL."""
        if left in (NEG, POS) or right in (NEG, POS):
            if op == "=":
                return "(1 = 0)"
            below = left == NEG or right == POS  # left is certainly smaller
            return "(1 = 1)" if below == (op == "<") else "(1 = 0)"
        self.params += left[1] + right[1]
        return f"{left[0]} {op} {right[0]}"

    def period(self, node: Any, kind: str) -> tuple[Operand, Operand]:
        """(start, end) of a temporal operand as SQL; NEG/POS for open ends."""
        if isinstance(node, ast.Attribute):
            if not self.is_temporal(node) and node.name in self.fields:
                raise InvalidInput(f"{node.name!r} is not a date or time property", locator="filter")
            column = self.compared(node, self.column(node))
            return (column, []), (column, [])
        if isinstance(node, values.Interval):
            start = self.operand(node.start, kind) if node.start is not None else NEG
            end = self.operand(node.end, kind) if node.end is not None else POS
            return start, end
        instant = self.operand(node, kind)
        return instant, instant


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


def _crs_name(literal: values.Geometry) -> str | None:
    """The CRS a GML geometry named (srsName); its coordinates are then east/north. None: the filter CRS."""
    crs = literal.geometry.get("crs") if isinstance(literal.geometry, dict) else None
    return (crs or {}).get("properties", {}).get("name")


def _like_pattern(node: ast.Like) -> str:
    """CQL2's pattern (wildcards % and _) for SQL LIKE with backslash as the escape character."""
    out = []
    chars = iter(node.pattern)
    for ch in chars:
        if ch == node.escapechar:
            literal = next(chars, None)
            if literal is None:
                raise InvalidInput("a LIKE pattern cannot end with its escape character", locator="filter")
            out.append("\\" + literal if literal in "%_\\" else literal)
        elif ch == node.wildcard:
            out.append("%")
        elif ch == "_":
            out.append("_")
        elif ch in "%\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
