"""CQL2 (a pygeofilter AST) → a SQL condition with bound parameters, for SQLite and PostgreSQL alike.

Identifiers are checked against the dataset's fields and quoted; every value is a bound parameter.

>>> from pygeofilter.parsers.cql2_text import parse
>>> to_sql(parse("nom = 'Bretagne' AND code IN ('53', '11')"), {"nom": "string", "code": "string"}, "?")
('("nom" = ? AND "code" IN (?, ?))', ['Bretagne', '53', '11'])
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pygeofilter import ast

from kartenn.errors import InvalidInput

COMPARISONS = {ast.Equal: "=", ast.NotEqual: "<>", ast.LessThan: "<", ast.LessEqual: "<=",
               ast.GreaterThan: ">", ast.GreaterEqual: ">="}


def to_sql(node: Any, fields: dict[str, str], mark: str) -> tuple[str, list[Any]]:
    """``fields`` maps each queryable name to its type; ``mark`` is the driver's placeholder (? or %s)."""
    params: list[Any] = []
    return _node(node, fields, mark, params), params


def _node(node: Any, fields: dict[str, str], mark: str, params: list[Any]) -> str:
    if isinstance(node, ast.And | ast.Or):
        op = " AND " if isinstance(node, ast.And) else " OR "
        return f"({_node(node.lhs, fields, mark, params)}{op}{_node(node.rhs, fields, mark, params)})"
    if isinstance(node, ast.Not):
        return f"(NOT {_node(node.sub_node, fields, mark, params)})"
    if type(node) in COMPARISONS:
        column = _column(node.lhs, fields)
        params.append(_value(node.rhs))
        return f"{column} {COMPARISONS[type(node)]} {mark}"
    if isinstance(node, ast.IsNull):
        return f"{_column(node.lhs, fields)} IS {'NOT ' if node.not_ else ''}NULL"
    if isinstance(node, ast.Between):
        params += [_value(node.low), _value(node.high)]
        return f"{_column(node.lhs, fields)} {'NOT ' if node.not_ else ''}BETWEEN {mark} AND {mark}"
    if isinstance(node, ast.In):
        values = [_value(v) for v in node.sub_nodes]
        params += values
        marks = ", ".join([mark] * len(values))
        return f"{_column(node.lhs, fields)} {'NOT ' if node.not_ else ''}IN ({marks})"
    if isinstance(node, ast.Like):
        params.append(_like_pattern(node))
        return f"{_column(node.lhs, fields)} {'NOT ' if node.not_ else ''}LIKE {mark} ESCAPE '\\'"
    raise InvalidInput(f"this filter operation is not supported yet: {type(node).__name__}", locator="filter")


def _column(node: Any, fields: dict[str, str]) -> str:
    if not isinstance(node, ast.Attribute):
        raise InvalidInput("the left side of a comparison must be a property", locator="filter")
    if node.name not in fields:
        known = ", ".join(sorted(fields))
        raise InvalidInput(f"unknown property {node.name!r} in filter; queryables: {known}", locator="filter")
    return '"' + node.name.replace('"', '""') + '"'


def _value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise InvalidInput(f"unsupported value in filter: {value!r}", locator="filter")


def _like_pattern(node: ast.Like) -> str:
    """CQL2's pattern (wildcards % and _) for SQL LIKE with backslash as the escape character."""
    out = []
    chars = iter(node.pattern)
    for ch in chars:
        if ch == node.escapechar:
            literal = next(chars, "")
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
