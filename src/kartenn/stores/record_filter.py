"""The catalogue's records as a filter sees them (OGC Filter 1.1, FES 2.0, CQL, CQL2): the schema the filter
translator (stores/filters.py) writes conditions on the records tables with, on both stores.

Properties are queryables of CSW (``dc:title``, ``csw:AnyText``, ``apiso:OrganisationName``…) and of
OGC API Records (``title``, ``q``…); prefixes and a leading ``/`` are ignored. Records have bounding
boxes, so spatial operators compare boxes. Values are always bound parameters.

>>> from pygeofilter.parsers.cql2_text import parse
>>> from kartenn.stores.dialect import SQLITE
>>> str(to_sql(parse("title = 'Lacs'"), SQLITE))
'kartenn.records.title = :param_1'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pygeofilter import values
from sqlalchemy import and_, false, func, literal, literal_column, not_, select
from sqlalchemy.sql import ColumnElement

from kartenn.errors import InvalidInput
from kartenn.filter_check import check_geometry
from kartenn.stores.catalog import record_terms, records
from kartenn.stores.dialect import Dialect
from kartenn.stores.filters import Schema, envelope_bounds, to_condition
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


class RecordQueryables(Schema):
    """The catalogue's queryables, for the filter translator (stores/filters.py)."""

    locator = "constraint"

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def check(self, name: str) -> str:
        if queryable(name) not in COLUMNS | TERM_FACETS and queryable(name) not in SPATIAL:
            raise InvalidInput(f"unknown property {name!r}", locator=self.locator)
        return queryable(name)

    def column(self, name: str) -> Any:
        if name not in COLUMNS:
            raise InvalidInput(f"{name!r} is only compared with '=', or with spatial operators for the box",
                               locator=self.locator)
        return COLUMNS[name]

    def compared(self, name: str, nocase: bool) -> Any:
        return func.lower(self.column(name)) if nocase else self.column(name)

    def value(self, name: str, value: Any, nocase: bool) -> Any:
        text = _value(value)
        return literal(text.lower() if nocase else text)

    def is_null(self, name: str) -> ColumnElement[bool]:
        return self.column(name).is_(None)  # type: ignore[no-any-return]

    def equality(self, name: str, value: Any, nocase: bool) -> ColumnElement[bool] | None:
        """Keyword equality looks for the exact keyword among the record's terms: an uncorrelated IN on an alias,
        read once through the (facet, value) index. (A correlated EXISTS was run per record, seconds with 10,000
        records, and would correlate with the facet count's own record_terms.)"""
        if name not in TERM_FACETS:
            return None
        text = _value(value)
        terms = record_terms.alias()
        term = func.lower(terms.c.value) if nocase else terms.c.value
        return k.id.in_(select(terms.c.record_id).where(terms.c.facet == TERM_FACETS[name],
                                                        term == (text.lower() if nocase else text)))

    def like(self, name: str, pattern: str, nocase: bool) -> ColumnElement[bool]:
        if name in ("anytext", "q"):
            return _anytext_like(fold(pattern), self.dialect)
        return func.lower(self.column(name)).like(func.lower(pattern), escape="\\")  # type: ignore[no-any-return]

    def spatial(self, op: str, name: str | None, literal_node: Any) -> ColumnElement[bool]:
        if name is not None and queryable(name) not in SPATIAL:
            raise InvalidInput(f"spatial operators compare the record's box (ows:BoundingBox), not {name!r}",
                               locator=self.locator)
        w, s, e, n = _bounds(literal_node)
        has = k.minx.is_not(None)
        kind = BOX_TESTS.get(op, "intersects")
        if kind == "intersects":
            return and_(has, box_intersects(w, s, e, n, self.dialect))
        if kind == "disjoint":
            return and_(has, not_(_touches(w, s, e, n)))
        if kind == "within":
            return and_(has, k.minx >= w, k.maxx <= e, k.miny >= s, k.maxy <= n)
        if kind == "contains":
            return and_(has, k.minx <= w, k.maxx >= e, k.miny <= s, k.maxy >= n)
        return and_(has, k.minx == w, k.maxx == e, k.miny == s, k.maxy == n)

    def period(self, name: str) -> tuple[Any, Any]:
        """A record's time: its temporal extent, or the date it was changed when it has none; the date it was
        changed when a filter names that."""
        if name in COLUMNS and COLUMNS[name] is c.modified:
            return c.modified, c.modified
        return func.coalesce(c.time_begin, c.modified), func.coalesce(c.time_end, c.time_begin, c.modified)

    def instant(self, value: Any, kind: str) -> Any:
        if not isinstance(value, dt.date | str):
            raise InvalidInput(f"a temporal operator compares dates or times, not {value!r}", locator=self.locator)
        return literal(_value(value))

    def negate(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        # a record without the property does not match the inner filter, so it matches its negation
        return not_(func.coalesce(condition, false()))


def to_sql(node: Any, dialect: Dialect) -> ColumnElement[bool]:
    """The SQL condition of a filter on the catalogue's records."""
    return to_condition(node, RecordQueryables(dialect))


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
        return envelope_bounds(geom)
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


# Records have boxes: overlapping, crossing and touching are taken as touching the box.
BOX_TESTS = {"intersects": "intersects", "overlaps": "intersects", "crosses": "intersects", "touches": "intersects",
             "disjoint": "disjoint", "within": "within", "contains": "contains", "equals": "equals"}
