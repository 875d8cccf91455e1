"""pygeofilter AST (OGC Filter 1.1, CQL, CQL2) → SQLAlchemy condition on the records tables, both stores.

Properties are queryables of CSW (``dc:title``, ``csw:AnyText``, ``apiso:OrganisationName``…) and of
OGC API Records (``title``, ``q``…); prefixes and a leading ``/`` are ignored. Records have bounding
boxes, so spatial operators compare boxes. Values are always bound parameters.

>>> from pygeofilter.parsers.cql2_text import parse
>>> from kartenn.stores.dialect import SQLITE
>>> str(to_sql(parse("title = 'Lacs'"), SQLITE))
'kartenn.records.title = :title_1'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pygeofilter import ast, values
from sqlalchemy import Boolean, and_, false, func, literal_column, not_, or_, select, true, type_coerce
from sqlalchemy.sql import ColumnElement

from kartenn.errors import InvalidInput
from kartenn.filter_check import check_geometry
from kartenn.stores.catalog import record_terms, records
from kartenn.stores.cql import GROUP, operands
from kartenn.stores.dialect import Dialect
from kartenn.stores.record_index import WORD, record_keys, record_trigrams, record_words
from kartenn.text import fold

# The columns searches test most are read from record_keys (a narrow table), the others from records, which a
# search then joins.
c, k = records.c, record_keys.c
COLUMNS: dict[str, Any] = {
    "anytext": c.anytext, "q": c.anytext,
    "title": c.title, "abstract": c.abstract, "description": c.abstract,
    "subject": c.keyword_text, "keywords": c.keyword_text, "keyword": c.keyword_text,
    "identifier": k.id, "id": k.id, "fileidentifier": k.id, "externalid": k.id,
    "type": c.type, "hierarchylevelname": c.type, "format": c.format_text,
    "modified": c.modified, "date": c.modified, "datestamp": c.modified, "updated": c.modified,
    "revisiondate": c.modified, "creationdate": c.modified, "publicationdate": c.modified,
    "organisationname": c.organisation, "creator": c.organisation, "publisher": c.organisation,
    "contributor": c.organisation, "organisation": c.organisation,
    "language": c.language, "resourcelanguage": c.language,
    "tempextent_begin": c.time_begin, "time_begin": c.time_begin,
    "tempextent_end": c.time_end, "time_end": c.time_end,
    "parentidentifier": c.parent_id, "relation": c.parent_id, "lineage": c.lineage,
    "crs": c.crs, "referencesystem": c.crs, "state": k.state,
}
SPATIAL = {"boundingbox", "bbox", "geometry", "envelope", "footprint", "spatial"}
# Keyword equality looks for the exact keyword among the record's terms.
TERM_FACETS = {"subject": "keyword", "keywords": "keyword", "keyword": "keyword", "format": "format",
               "theme": "theme", "themes": "theme"}


def queryable(name: str) -> str:
    """``/csw:Record/dc:title`` → ``title``."""
    return name.strip().lstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()


def column(node: Any) -> Any:
    if not isinstance(node, ast.Attribute):
        raise InvalidInput("the left side of a comparison must be a property", locator="constraint")
    name = queryable(node.name)
    if name not in COLUMNS:
        raise InvalidInput(f"unknown property {node.name!r}", locator="constraint")
    return COLUMNS[name]


def _value(v: Any) -> str:
    """A value as the records' columns (all text) compare it: a text, a date or a time."""
    if isinstance(v, dt.datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return v
    if isinstance(v, bool | int | float) or v is None:
        raise InvalidInput(f"the catalogue's queryables are texts and dates: compare them with a text, not {v!r}",
                           locator="constraint")
    if isinstance(v, values.Interval):
        raise InvalidInput("time intervals are only allowed in temporal operators", locator="constraint")
    raise InvalidInput(f"unsupported value {v!r} in filter", locator="constraint")


def _like(node: ast.Like, dialect: Dialect) -> ColumnElement[bool]:
    pattern, out, i = node.pattern, [], 0
    while i < len(pattern):
        ch = pattern[i]
        if node.escapechar and ch == node.escapechar and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else nxt)
            i += 2
            continue
        if ch == node.wildcard:
            out.append("%")
        elif ch == node.singlechar:
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    sql_pattern = "".join(out)
    col = column(node.lhs)
    if queryable(node.lhs.name) in ("anytext", "q"):
        expr = _anytext_like(fold(sql_pattern), dialect)
    else:
        expr = func.lower(col).like(func.lower(sql_pattern), escape="\\")
    return not_(expr) if node.not_ else expr


def _anytext_like(pattern: str, dialect: Dialect) -> ColumnElement[bool]:
    """anytext is stored folded (lower case, no accents) and the pattern is folded alike, so no lower() is
    needed. '%word%' (word characters only) is read from indexes of record_keys: on PostgreSQL the stored
    words containing it (a trigram index of every word), then the records having one of them; on SQLite the
    phrase of its trigrams in the FTS5 table record_trigrams. Other patterns test anytext itself."""
    escape = "\\" if "\\" in pattern else None
    inner = pattern[1:-1]
    word = len(pattern) >= 3 and pattern[0] == pattern[-1] == "%" and WORD.fullmatch(inner) is not None
    if not dialect.fts5:
        if word:
            having = select(record_words.c.word).where(record_words.c.word.like(pattern)).scalar_subquery()
            return record_keys.c.words.overlap(func.array(having))
        return c.anytext.like(pattern, escape=escape)
    number = literal_column("rowid")
    if len(pattern) >= 5 and pattern[0] == pattern[-1] == "%" and not any(ch in inner for ch in "%_\\"):
        # the phrase of the pattern's trigrams: the index answers it alone, where LIKE reads the text of every
        # candidate again to check it
        phrase = '"' + inner.replace('"', '""') + '"'
        found = select(number).select_from(record_trigrams).where(
            literal_column("record_trigrams").op("MATCH")(phrase))
    else:
        found = select(number).select_from(record_trigrams).where(record_trigrams.c.anytext.like(pattern,
                                                                                                  escape=escape))
    return record_keys.c.n.in_(found)


def _bounds(geom: Any) -> tuple[float, float, float, float]:
    if isinstance(geom, values.Envelope):
        return (min(geom.x1, geom.x2), min(geom.y1, geom.y2), max(geom.x1, geom.x2), max(geom.y1, geom.y2))
    if isinstance(geom, values.Geometry):
        return check_geometry(geom, "constraint").bounds  # type: ignore[no-any-return]
    raise InvalidInput("a spatial operator needs a geometry or an envelope", locator="constraint")


def _touches(w: float, s: float, e: float, n: float) -> ColumnElement[bool]:
    return and_(k.minx <= e, k.maxx >= w, k.miny <= n, k.maxy >= s)


def box_intersects(w: float, s: float, e: float, n: float, dialect: Dialect) -> ColumnElement[bool]:
    """Records whose box touches (w, s, e, n). On PostgreSQL the same test also in the form of the GiST index of
    record_keys' boxes (``record_keys_box``), which can then narrow the candidates of the other indexes."""
    test = _touches(w, s, e, n)
    indexed = dialect.box_index_test((k.minx, k.miny, k.maxx, k.maxy), (w, s, e, n))
    return test if indexed is None else and_(test, indexed)


def _spatial(node: Any, kind: str, dialect: Dialect) -> ColumnElement[bool]:
    lhs, rhs = node.lhs, node.rhs
    if isinstance(lhs, (values.Geometry, values.Envelope)):
        lhs, rhs = rhs, lhs
    if lhs is not None and isinstance(lhs, ast.Attribute) and queryable(lhs.name) not in SPATIAL:
        raise InvalidInput(f"spatial operators compare the record's box (ows:BoundingBox), not {lhs.name!r}",
                           locator="constraint")
    w, s, e, n = _bounds(rhs)
    has = k.minx.is_not(None)
    if kind == "intersects":
        return and_(has, box_intersects(w, s, e, n, dialect))
    if kind == "disjoint":
        return and_(has, not_(_touches(w, s, e, n)))
    if kind == "within":
        return and_(has, k.minx >= w, k.maxx <= e, k.miny >= s, k.maxy <= n)
    if kind == "contains":
        return and_(has, k.minx <= w, k.maxx >= e, k.miny <= s, k.maxy >= n)
    return and_(has, k.minx == w, k.maxx == e, k.miny == s, k.maxy == n)


SPATIAL_OPS = {ast.GeometryIntersects: "intersects", ast.GeometryOverlaps: "intersects",
               ast.GeometryCrosses: "intersects", ast.GeometryTouches: "intersects",
               ast.GeometryDisjoint: "disjoint", ast.GeometryWithin: "within",
               ast.GeometryContains: "contains", ast.GeometryEquals: "equals"}
COMPARE = {ast.Equal: "__eq__", ast.NotEqual: "__ne__", ast.LessThan: "__lt__", ast.LessEqual: "__le__",
           ast.GreaterThan: "__gt__", ast.GreaterEqual: "__ge__"}


def _time_bounds(v: Any) -> tuple[str | None, str | None]:
    if not isinstance(v, values.Interval | dt.date | str):
        raise InvalidInput(f"a temporal operator compares dates or times, not {v!r}", locator="constraint")
    if isinstance(v, values.Interval):
        return _value(v.start) if v.start is not None else None, _value(v.end) if v.end is not None else None
    return _value(v), _value(v)


def to_sql(node: Any, dialect: Dialect) -> ColumnElement[bool]:
    """The SQL condition of one filter node."""
    if isinstance(node, ast.Not):
        sub = node.sub_node
        if isinstance(sub, ast.GeometryDisjoint):  # OGC BBOX is parsed as NOT DISJOINT
            return _spatial(sub, "intersects", dialect)
        # a record without the property does not match the inner filter, so it matches its negation
        return not_(func.coalesce(to_sql(sub, dialect), false()))
    if isinstance(node, ast.And | ast.Or):
        # a run of ANDs or ORs as one list, in groups of GROUP so that SQLite's parser tree stays shallow
        parts = [to_sql(n, dialect) for n in operands(node, type(node))]
        join = and_ if isinstance(node, ast.And) else or_
        while len(parts) > 1:
            parts = [type_coerce(join(*parts[i:i + GROUP]), Boolean).self_group()  # parentheses kept
                     for i in range(0, len(parts), GROUP)]
        return parts[0]
    if isinstance(node, ast.Include):
        return false() if node.not_ else true()
    if type(node) in COMPARE:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            lhs, rhs = rhs, lhs
        if not isinstance(lhs, ast.Attribute):
            raise InvalidInput("a comparison needs a property name", locator="constraint")
        name = queryable(lhs.name)
        # OGC Filter's matchCase="false" (the parser marks such nodes ``nocase``)
        nocase = getattr(node, "nocase", False) and isinstance(_value(rhs), str)
        value = _value(rhs).lower() if nocase else _value(rhs)
        if name in TERM_FACETS and type(node) in (ast.Equal, ast.NotEqual):
            # An uncorrelated IN, on an alias: read once through the (facet, value) index. A correlated EXISTS
            # was run per record (seconds with 10,000 records), and would correlate with the facet count's own
            # record_terms.
            terms = record_terms.alias()
            term = func.lower(terms.c.value) if nocase else terms.c.value
            found = k.id.in_(select(terms.c.record_id).where(terms.c.facet == TERM_FACETS[name], term == value))
            return found if isinstance(node, ast.Equal) else not_(found)
        col = func.lower(column(lhs)) if nocase else column(lhs)
        return getattr(col, COMPARE[type(node)])(value)  # type: ignore[no-any-return]
    if isinstance(node, ast.Like):
        return _like(node, dialect)
    if isinstance(node, ast.Between):
        expr = column(node.lhs).between(_value(node.low), _value(node.high))
        return not_(expr) if node.not_ else expr
    if isinstance(node, ast.In):
        expr = column(node.lhs).in_([_value(v) for v in node.sub_nodes])
        return not_(expr) if node.not_ else expr
    if isinstance(node, ast.IsNull):
        expr = column(node.lhs).is_(None)
        return not_(expr) if node.not_ else expr
    if isinstance(node, ast.BBox):
        return _spatial(ast.GeometryIntersects(node.lhs, values.Envelope(node.minx, node.maxx, node.miny,
                                                                          node.maxy)), "intersects", dialect)
    if type(node) in SPATIAL_OPS:
        return _spatial(node, SPATIAL_OPS[type(node)], dialect)
    if isinstance(node, ast.TemporalPredicate):
        return _temporal(node)
    raise InvalidInput(f"unsupported filter operation {type(node).__name__}", locator="constraint")


def _temporal(node: ast.TemporalPredicate) -> ColumnElement[bool]:
    start, end = _time_bounds(node.rhs)
    begin = func.coalesce(c.time_begin, c.modified)
    finish = func.coalesce(c.time_end, c.time_begin, c.modified)
    # an open end (None) is beyond every time: nothing is after it, before it or equal to it
    after = begin > end if end is not None else false()
    before = finish < start if start is not None else false()
    if isinstance(node, ast.TimeAfter):
        return after
    if isinstance(node, ast.TimeBefore):
        return before
    if isinstance(node, ast.TimeDisjoint):
        return or_(before, after)
    if isinstance(node, ast.TimeDuring):
        return and_(begin >= start if start is not None else true(), finish <= end if end is not None else true())
    if isinstance(node, ast.TimeEquals):
        return and_(begin == start, finish == end) if start is not None and end is not None else false()
    # Every other relation (overlaps, meets, contains, T_INTERSECTS…) is taken as "shares some time".
    conds = []
    if end is not None:
        conds.append(begin <= end)
    if start is not None:
        conds.append(finish >= start)
    return and_(*conds) if conds else true()
