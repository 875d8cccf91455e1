"""CQL2 text and JSON → a pygeofilter AST, as OGC 21-065 (CQL2 1.0) writes them.

pygeofilter 0.4's CQL2 readers miss parts of the standard: the function form of temporal operators
(``T_AFTER(updated, TIMESTAMP('…'))``), ``INTERVAL`` with dates and ``'..'``, the ``BBOX(…)`` literal,
and T_INTERSECTS (read as T_OVERLAPS). This module reuses pygeofilter's grammar and transformer, with
those rules amended (and NOT of a parenthesised condition), so every filter reaches the stores as one AST.

>>> parse_text("T_INTERSECTS(day, INTERVAL('2018-01-01', '..')) AND S_INTERSECTS(geom, BBOX(-5, 47, -1, 49))")
... # doctest: +ELLIPSIS
And(lhs=Not(sub_node=TimeDisjoint(...)), rhs=GeometryIntersects(...))
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

import shapely
from lark import Lark, logger, v_args
from pygeofilter import ast, values
from pygeofilter.cql2 import TEMPORAL_PREDICATES_MAP
from pygeofilter.parsers import cql2_json
from pygeofilter.parsers.cql2_text import parser as text_parser
from pygeofilter.util import parse_date, parse_datetime

# (what pygeofilter's grammar says, what CQL2 says); each must match, so an upgrade that changes the
# grammar fails the tests instead of silently parsing differently.
AMENDMENTS = [
    ('?temporal_predicate: expression _binary_temporal_predicate_func expression -> binary_temporal_predicate',
     '?temporal_predicate: _binary_temporal_predicate_func "(" expression "," expression ")" -> temporal_function'),
    ('?timestamp: "TIMESTAMP" "(" "\'" DATETIME "\'" ")"',
     '?timestamp: "TIMESTAMP"i "(" SINGLE_QUOTED ")" -> timestamp_literal'),
    ('?interval: "INTERVAL" "("  "\'" DATETIME "\'" "," "\'" DATETIME "\'" ")"',
     '?interval: "INTERVAL"i "(" interval_bound "," interval_bound ")" -> interval_literal\n'
     'interval_bound: SINGLE_QUOTED | attribute\n'
     'bbox_literal: "BBOX"i "(" full_number "," full_number "," full_number "," full_number '
     '["," full_number "," full_number] ")"'),
    ('| "T_INTERSECTS"i', '| "T_INTERSECTS"i | "T_DISJOINT"i | "T_STARTS"i | "T_STARTEDBY"i | "T_FINISHES"i '
                          '| "T_FINISHEDBY"i'),
    ('| "NOT"i "(" predicate ")"', '| "NOT"i "(" condition ")"'),  # NOT (a OR b), NOT (NOT (a))
    ('?date: "DATE" "(" "\'" DATE "\'" ")"', '?date: "DATE"i "(" SINGLE_QUOTED ")" -> date_literal'),
    ('        | envelope\n', '        | envelope\n        | bbox_literal\n'),
    ('                  | "BBOX" "(" expression "," full_number "," full_number "," full_number "," full_number '
     '[ ","  SINGLE_QUOTED] ")" -> bbox_spatial_predicate\n', ''),
]


class FilterSyntaxError(ValueError):
    """The filter is not valid CQL2."""


@v_args(meta=False, inline=True)
class _Transformer(text_parser.CQLTransformer):
    def temporal_function(self, op: Any, lhs: Any, rhs: Any) -> ast.Node:
        return _temporal(str(op).lower(), lhs, rhs)

    def timestamp_literal(self, token: str) -> Any:
        return _instant(str(token))

    def date_literal(self, token: str) -> Any:
        return _instant(str(token))

    def interval_bound(self, value: Any) -> Any:
        if isinstance(value, ast.Attribute):
            raise FilterSyntaxError("interval bounds that are properties are not supported")
        return _instant(str(value))

    def interval_literal(self, start: Any, end: Any) -> values.Interval:
        return values.Interval(start, end)

    def bbox_literal(self, *numbers: float) -> values.Geometry:
        return _bbox_geometry(list(numbers))


# CQL2 1.0 names for what pygeofilter still calls by draft names
FINAL_NAMES = {"t_starts": "t_begins", "t_startedby": "t_begunby", "t_finishes": "t_ends", "t_finishedby": "t_endedby"}


def _temporal(op: str, lhs: Any, rhs: Any) -> ast.Node:
    op = FINAL_NAMES.get(op, op)
    if op == "t_intersects":  # T_INTERSECTS is exactly "not disjoint"
        return ast.Not(ast.TimeDisjoint(lhs, rhs))
    if op == "t_disjoint":
        return ast.TimeDisjoint(lhs, rhs)
    if op not in TEMPORAL_PREDICATES_MAP:
        raise FilterSyntaxError(f"unknown temporal operator {op}")
    return TEMPORAL_PREDICATES_MAP[op](lhs, rhs)


def _instant(text: str) -> Any:
    if text == "..":
        return None
    try:
        return parse_datetime(text) if "T" in text.upper() else parse_date(text)
    except ValueError:
        raise FilterSyntaxError(f"{text!r} is not a date or a timestamp") from None


def _bbox_geometry(numbers: list[float]) -> values.Geometry:
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise FilterSyntaxError("a BBOX has 4 or 6 numbers")
    return values.Geometry(shapely.geometry.mapping(shapely.box(*numbers)))


@cache
def _text_parser() -> Lark:
    logger.setLevel(logging.WARNING)  # pygeofilter turns lark's debug output on
    folder = os.path.dirname(text_parser.__file__)
    with open(os.path.join(folder, "grammar.lark"), encoding="utf-8") as f:
        grammar = f.read()
    for old, new in AMENDMENTS:
        if old not in grammar:
            raise RuntimeError(f"pygeofilter's CQL2 grammar changed; cannot amend: {old[:60]}")
        grammar = grammar.replace(old, new)
    return Lark(grammar, parser="lalr", maybe_placeholders=False, transformer=_Transformer(),
                import_paths=[os.path.dirname(folder)], source_path=os.path.join(folder, "grammar.lark"))


def parse_text(text: str) -> Any:
    """A CQL2 text filter as a pygeofilter AST."""
    return _text_parser().parse(text)


def parse_json(document: Any) -> Any:
    """A CQL2 JSON filter (already decoded) as a pygeofilter AST."""
    return cql2_json.parse(_amend_json(document))


def _amend_json(node: Any) -> Any:
    if isinstance(node, list):
        return [_amend_json(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "bbox" in node and "op" not in node:
        return _bbox_geometry([float(n) for n in node["bbox"]])
    op = str(node.get("op", "")).lower()
    if op.startswith("t_"):  # pygeofilter's reader lacks T_DISJOINT and reads T_INTERSECTS as T_OVERLAPS
        args = node.get("args")
        if not isinstance(args, list) or len(args) != 2:
            raise FilterSyntaxError(f"{op} takes two arguments")
        return _temporal(op, *(cql2_json.parse(_amend_json(a)) for a in args))
    if op.startswith("s_"):
        node = {**node, "op": op}
    return {k: _amend_json(v) for k, v in node.items()}
