"""Records rows, their facet terms and their full-text index, on SQLite (FTS5) and PostgreSQL (tsvector).

Stems come from kartenn.text on both stores, so both find the same records for the same words:
SQLite matches them with FTS5 (unicode61, diacritics removed), PostgreSQL with a GIN-indexed tsvector.

>>> result = search(conn, RecordQuery(q="routes", bbox=(-5, 47, -1, 49)), is_postgres=False)  # doctest: +SKIP
>>> result.matched, [r.id for r in result.records], result.facets["keyword"]                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import ColumnClause

from kartenn.domain import Field, Record
from kartenn.stores.catalog import SCHEMA, _aware, _bounds, record_terms, records
from kartenn.text import fold, query_terms, stems_of_folded

FACETS = ("keyword", "organisation", "type", "format", "year", "theme")
# SQLite only, outside the translated schema: the FTS5 table of stems.
records_fts = Table("records_fts", MetaData(), Column("id", String), Column("body", Text))
# SQLite only: an FTS5 trigram index of anytext, so LIKE '%word%' on it reads the index, not every record.
records_anytext = Table("records_anytext", MetaData(), Column("id", String), Column("anytext", Text))
DETAILS = ("keyword_sets", "contacts", "dates", "formats", "links", "constraints", "themes", "topics")


@dataclass
class RecordQuery:
    """A catalogue search. ``where`` is a pygeofilter AST (CQL2, OGC Filter…); bbox is lon/lat."""

    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    start: str | None = None  # time range, ISO 8601 strings; either may be None (open)
    end: str | None = None
    types: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)  # the record's or its dataset's identifier
    where: Any = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, ascending); "relevance", "title"…
    limit: int = 10
    offset: int = 0
    facets: bool = False
    states: tuple[str, ...] = ("published",)
    visible: Any = None  # a SQL condition on records: what the caller may view (None: everything)
    # Set when states and visibility are known to hold for every stored record: a text search alone can then be
    # counted and ranked from the text index alone.
    every_record: bool = False


@dataclass
class SearchResult:
    matched: int
    records: list[Record]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def create(conn: Connection, *, is_postgres: bool) -> None:
    # Facet counts read (facet, value) of each matching record from the index alone.
    terms = f"{SCHEMA}.record_terms" if is_postgres else "record_terms"
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS record_terms_cover ON {terms} (record_id, facet, value)")
    _count_changes(conn, is_postgres=is_postgres)
    if is_postgres:
        # A stored vector: ranking read it instead of computing to_tsvector() again for every matching record.
        has_vector = conn.execute(sql_text("SELECT 1 FROM information_schema.columns WHERE table_schema = :s "
                                       "AND table_name = 'records' AND column_name = 'search_vector'"),
                                  {"s": SCHEMA}).first()
        if has_vector is None:  # ALTER TABLE locks the table even when there is nothing to add
            conn.exec_driver_sql(f"ALTER TABLE {SCHEMA}.records ADD COLUMN IF NOT EXISTS search_vector tsvector "
                                 "GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED")
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS records_search_vector ON {SCHEMA}.records "
                             "USING gin (search_vector)")
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {SCHEMA}.records_search")
        # Trigrams make substring filters (csw:AnyText LIKE '%word%') use an index instead of reading every row.
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
                conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS records_anytext_trgm ON {SCHEMA}.records "
                                     "USING gin (anytext public.gin_trgm_ops)")
        except DBAPIError:
            pass  # no pg_trgm on this server: the same filters scan the table
        return
    # What searches test of every candidate record (workflow state, dataset, box), readable from the index alone:
    # the rows themselves are large (the original XML), and reading them was half the time of a count.
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS records_filter ON records (id, state, dataset_id, minx, maxx, "
                         "miny, maxy)")
    conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS records_fts USING fts5("
                         "id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 2')")
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'records_anytext'").first() is None:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE records_anytext USING fts5(id UNINDEXED, anytext, "
                             "tokenize = 'trigram')")
        conn.exec_driver_sql("INSERT INTO records_anytext (id, anytext) SELECT id, anytext FROM records")


# What decides which records a caller sees: the records' ids, states and datasets, their owners and grants.
WATCHED = {"records": "INSERT OR DELETE OR UPDATE OF id, state, dataset_id", "grants": "INSERT OR DELETE OR UPDATE",
           "owners": "INSERT OR DELETE OR UPDATE"}


def _count_changes(conn: Connection, *, is_postgres: bool) -> None:
    """A counter, ``catalog_changes``, that every write to what decides visibility increments in its own
    transaction (triggers): what is derived from visibility can be kept while the counter stays the same."""
    table = f"{SCHEMA}.catalog_changes" if is_postgres else "catalog_changes"
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
    if is_postgres:
        conn.exec_driver_sql(f"INSERT INTO {table} (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")
        conn.exec_driver_sql(f"CREATE OR REPLACE FUNCTION {SCHEMA}.catalog_changed() RETURNS trigger "
                             f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {table} SET n = n + 1 WHERE id = 1; "
                             "RETURN NULL; END $$")
        for name, events in WATCHED.items():
            # once per statement: a bulk import of thousands of rows counts one change per statement
            conn.exec_driver_sql(f"CREATE OR REPLACE TRIGGER {name}_changed AFTER {events} OR TRUNCATE "
                                 f"ON {SCHEMA}.{name} FOR EACH STATEMENT EXECUTE FUNCTION "
                                 f"{SCHEMA}.catalog_changed()")
        return
    conn.exec_driver_sql(f"INSERT OR IGNORE INTO {table} (id, n) VALUES (1, 0)")
    for name, events in WATCHED.items():
        for event in events.split(" OR "):
            trigger = f"{name}_changed_{event.split()[0].lower()}"
            conn.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS {trigger} AFTER {event} ON {name} "
                                 f"BEGIN UPDATE {table} SET n = n + 1 WHERE id = 1; END")


def changes(conn: Connection, *, is_postgres: bool) -> int:
    """The ``catalog_changes`` counter (see _count_changes)."""
    table = f"{SCHEMA}.catalog_changes" if is_postgres else "catalog_changes"
    return int(conn.exec_driver_sql(f"SELECT n FROM {table} WHERE id = 1").scalar_one())


def visibility_extent(conn: Connection, visible: Any) -> tuple[str, frozenset[str]]:
    """What a visibility condition amounts to on the records stored now: "all" (it holds for every record),
    "published" (for exactly the published ones) or "some" (neither); and the states records have."""
    from sqlalchemy import case

    def n(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    published = records.c.state == "published"
    total, n_published, n_visible, n_both = conn.execute(select(
        func.count(), n(published), n(visible), n(and_(visible, published)))).one()
    states = frozenset(conn.execute(select(records.c.state).distinct()).scalars())
    if n_visible == total:
        return "all", states
    if n_visible == n_published == n_both:
        return "published", states
    return "some", states


def _anytext(rec: Record) -> str:
    parts = [rec.id, rec.title, rec.abstract, rec.lineage, " ".join(rec.keywords), " ".join(rec.formats),
             " ".join(rec.topics), " ".join(rec.constraints), rec.type]
    parts += [str(c.get(k) or "") for c in rec.contacts for k in ("organisation", "individual")]
    parts += [str(link.get(k) or "") for link in rec.links for k in ("name", "description")]
    return " ".join(p for p in parts if p)


def _terms(rec: Record) -> set[tuple[str, str]]:
    terms = {("keyword", k) for k in rec.keywords} | {("format", f) for f in rec.formats}
    terms |= {("theme", t) for t in rec.themes}
    if rec.type:
        terms.add(("type", rec.type))
    if rec.organisation:
        terms.add(("organisation", rec.organisation))
    if rec.year:
        terms.add(("year", str(rec.year)))
    return {(f, v[:500]) for f, v in terms if v}


def write(conn: Connection, rec: Record, *, is_postgres: bool, replace: bool = True) -> None:
    """Insert the rows of ``rec``; ``replace=False`` when it is known to be new: deleting from the FTS5 table by
    its unindexed id scans the whole table, which made imports quadratic."""
    write_many(conn, [rec], is_postgres=is_postgres, replaced=[rec.id] if replace else [])


def _row(rec: Record) -> tuple[dict[str, Any], str]:
    """(records row, stems) of a record."""
    anytext = fold(_anytext(rec))
    body = " ".join(sorted(stems_of_folded(anytext)))
    bbox = rec.extent_wgs84 or (None, None, None, None)
    return {
        "id": rec.id, "dataset_id": rec.dataset_id, "title": rec.title or None, "abstract": rec.abstract or "",
        "state": rec.state, "language": rec.language or "", "type": rec.type or "", "schema": rec.schema or "",
        "keywords": rec.keywords, "keyword_text": ", ".join(rec.keywords),
        "extent_wgs84": list(rec.extent_wgs84) if rec.extent_wgs84 else None,
        "minx": bbox[0], "miny": bbox[1], "maxx": bbox[2], "maxy": bbox[3], "crs": rec.crs,
        "attributes": [{"name": f.name, "type": f.type} for f in rec.attributes], "lineage": rec.lineage or "",
        "organisation": rec.organisation, "format_text": ", ".join(rec.formats), "time_begin": rec.time_begin,
        "time_end": rec.time_end, "modified": rec.modified, "parent_id": rec.parent_id,
        "details": {k: getattr(rec, k) for k in DETAILS},
        "xml": rec.xml.decode("utf-8") if rec.xml else None, "anytext": anytext, "search_text": body,
        "created": rec.created, "updated": rec.updated}, body


def write_many(conn: Connection, recs: list[Record], *, is_postgres: bool, replaced: list[str]) -> None:
    """Insert the rows of many records with one statement per table (``replaced``: the ids already stored,
    whose rows go first). Ids must be unique in ``recs``."""
    for chunk in _chunks(replaced):
        delete_rows_of(conn, chunk, is_postgres=is_postgres)
    rows, terms, fts, anytexts = [], [], [], []
    for rec in recs:
        row, body = _row(rec)
        rows.append(row)
        terms += [{"record_id": rec.id, "facet": f, "value": v} for f, v in _terms(rec)]
        if not is_postgres:
            fts.append({"id": rec.id, "body": body})
            anytexts.append({"id": rec.id, "anytext": row["anytext"]})
    for table, values in ((records, rows), (record_terms, terms), (records_fts, fts), (records_anytext, anytexts)):
        if values:
            conn.execute(insert(table), values)


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def delete_rows_of(conn: Connection, ids: list[str], *, is_postgres: bool) -> None:
    """Delete the rows of several records (one scan of the FTS5 tables for all of them)."""
    conn.execute(delete(records).where(records.c.id.in_(ids)))
    conn.execute(delete(record_terms).where(record_terms.c.record_id.in_(ids)))
    if not is_postgres:
        conn.execute(delete(records_fts).where(records_fts.c.id.in_(ids)))
        conn.execute(delete(records_anytext).where(records_anytext.c.id.in_(ids)))


def delete_rows(conn: Connection, record_id: str, *, is_postgres: bool) -> None:
    conn.execute(delete(records).where(records.c.id == record_id))
    conn.execute(delete(record_terms).where(record_terms.c.record_id == record_id))
    if not is_postgres:
        conn.execute(delete(records_fts).where(records_fts.c.id == record_id))
        conn.execute(delete(records_anytext).where(records_anytext.c.id == record_id))


def remove(conn: Connection, record_id: str, *, is_postgres: bool) -> None:
    delete_rows(conn, record_id, is_postgres=is_postgres)


def to_record(row: Any) -> Record:
    m = row._mapping
    details = m["details"] or {}
    return Record(
        id=m["id"], title=m["title"] or "", abstract=m["abstract"], dataset_id=m["dataset_id"], state=m["state"],
        language=m["language"], keywords=list(m["keywords"]), extent_wgs84=_bounds(m["extent_wgs84"]),
        crs=m["crs"], attributes=[Field(**f) for f in m["attributes"]], lineage=m["lineage"],
        created=_aware(m["created"]), updated=_aware(m["updated"]), type=m["type"], schema=m["schema"],
        time_begin=m["time_begin"], time_end=m["time_end"], modified=m["modified"], parent_id=m["parent_id"],
        xml=m["xml"].encode("utf-8") if m["xml"] else None,
        **{k: details.get(k, {} if k == "dates" else []) for k in DETAILS},
    )


# search ---------------------------------------------------------------------------------------------------


def _text_match(q: str, is_postgres: bool) -> tuple[ColumnElement[bool] | None, ColumnElement[Any], Any] | None:
    """(condition, relevance, FROM clause) for the words of ``q``; relevance grows with the match.

    On SQLite the records are joined to the FTS5 matches: ranking with a subquery correlated to each record
    ran the MATCH once per matching record."""
    groups = query_terms(q)
    if not groups:
        return None
    if is_postgres:
        tsquery = func.to_tsquery("simple", " & ".join("(" + " | ".join(g) + ")" for g in groups))
        vector = ColumnClause("search_vector", _selectable=records)  # see create()
        return vector.op("@@")(tsquery), func.ts_rank(vector, tsquery), records
    fts = (select(records_fts.c.id, literal_column("-bm25(records_fts)").label("rank"))
           .where(_fts_match(groups)).subquery())
    return None, fts.c.rank, records.join(fts, fts.c.id == records.c.id)


def _fts_match(groups: list[list[str]]) -> ColumnElement[bool]:
    """The FTS5 MATCH of records_fts for groups of stems (any stem of each group; every group)."""
    expr = " AND ".join("(" + " OR ".join(f'"{s}"' for s in g) + ")" for g in groups)
    return literal_column("records_fts").op("MATCH")(expr)


def _text_alone(query: RecordQuery) -> bool:
    """Whether ``query`` is words alone, ranked by relevance, over records that all pass its other tests."""
    return (query.every_record and query.visible is None and bool(query.q and query.q.strip())
            and not (query.bbox or query.start or query.end or query.types or query.ids or query.external_ids)
            and query.where is None and all(name == "relevance" for name, _ in query.sort))


def conditions(query: RecordQuery, is_postgres: bool) -> tuple[list[ColumnElement[bool]], ColumnElement[Any] | None,
                                                                  Any]:
    """(conditions, relevance or None, FROM clause: the records table, or it joined to text matches)."""
    from kartenn.stores.record_filter import to_sql

    where: list[ColumnElement[bool]] = [records.c.state.in_(query.states)]
    if query.visible is not None:
        where.append(query.visible)
    rank, source = None, records
    if query.q and query.q.strip():
        match = _text_match(query.q, is_postgres)
        if match is None:
            where.append(records.c.id.is_(None))  # only stop words: nothing to find
        else:
            if match[0] is not None:
                where.append(match[0])
            rank, source = match[1], match[2]
    if query.bbox:
        w, s, e, n = query.bbox
        where.append(and_(records.c.minx <= e, records.c.maxx >= w, records.c.miny <= n, records.c.maxy >= s))
    if query.start or query.end:
        begin = func.coalesce(records.c.time_begin, records.c.time_end, records.c.modified)
        end = func.coalesce(records.c.time_end, records.c.time_begin, records.c.modified)
        if query.end:
            where.append(begin <= query.end)
        if query.start:
            where.append(end >= query.start)
    if query.types:
        where.append(records.c.type.in_(query.types))
    if query.ids:
        where.append(records.c.id.in_(query.ids))
    if query.external_ids:
        where.append(or_(records.c.id.in_(query.external_ids), records.c.dataset_id.in_(query.external_ids)))
    if query.where is not None:
        where.append(to_sql(query.where, is_postgres))
    return where, rank, source


SORTABLE = {"title": func.lower(records.c.title), "modified": records.c.modified, "date": records.c.modified,
            "identifier": records.c.id, "id": records.c.id, "type": records.c.type,
            "organisation": records.c.organisation, "format": records.c.format_text,
            "abstract": records.c.abstract, "created": records.c.created, "updated": records.c.updated,
            "language": records.c.language, "time_begin": records.c.time_begin, "time_end": records.c.time_end}


def search(conn: Connection, query: RecordQuery, *, is_postgres: bool) -> SearchResult:
    where, rank, source = conditions(query, is_postgres)
    order = []
    for name, ascending in query.sort or ([("relevance", False)] if rank is not None else []):
        if name == "relevance":
            if rank is not None:
                order.append(rank.desc())
            continue
        column = SORTABLE[name]
        order.append(column.asc().nulls_last() if ascending else column.desc().nulls_last())
    # ties in the order of the last sort key (as pycsw does): a reversed sort reverses them too
    last_ascending = next((asc for name, asc in reversed(query.sort) if name != "relevance"), True)
    order.append(records.c.id.asc() if last_ascending else records.c.id.desc())
    found, matched = [], None
    full_text = is_postgres and rank is not None
    if full_text:
        # Matches found through the GIN index read only their own rows: a sequential scan, what the planner
        # picks when a word is common, unpacks every record's vector to test it (ten times slower).
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    if not is_postgres and rank is not None and _text_alone(query):
        # Every stored record passes the other tests: FTS5 counts the matches from its index alone (under a
        # millisecond, where joining each to its record took tens), and ranks them without the join.
        match = _fts_match(query_terms(query.q or ""))
        matched = conn.execute(select(func.count()).select_from(records_fts).where(match)).scalar_one()
        if query.limit > 0:
            page = (select(records_fts.c.id).where(match)
                    .order_by(literal_column("bm25(records_fts)").asc(), records_fts.c.id.asc()))
            ids = list(conn.execute(page.limit(query.limit).offset(query.offset)).scalars())
            rows = {row.id: row for row in conn.execute(select(records).where(records.c.id.in_(ids)))} if ids else {}
            found = [to_record(rows[i]) for i in ids if i in rows]
    elif query.limit > 0:
        # Ids first, rows after: sorting whole rows (with their XML) of every match was most of a search's time.
        # On SQLite the page counts the matches as it goes (one pass over them, not one for the count and one
        # for the page); PostgreSQL plans the two better apart (the page alone stops early on an index).
        counted = [] if is_postgres else [func.count().over().label("matched")]
        page = select(records.c.id, *counted).select_from(source).where(*where).order_by(*order).limit(query.limit)
        hits = conn.execute(page.offset(query.offset)).all()
        ids = [row[0] for row in hits]
        if not is_postgres:
            matched = hits[0][1] if hits else (0 if query.offset == 0 else None)
        rows = {row.id: row for row in conn.execute(select(records).where(records.c.id.in_(ids)))} if ids else {}
        found = [to_record(rows[i]) for i in ids if i in rows]
    if matched is None:
        matched = conn.execute(select(func.count()).select_from(source).where(*where)).scalar_one()
    if full_text:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")
    facets: dict[str, list[tuple[str, int]]] = {}
    if query.facets:
        ids = select(records.c.id).select_from(source).where(*where)
        counts = (select(record_terms.c.facet, record_terms.c.value, func.count().label("n"))
                  .where(record_terms.c.record_id.in_(ids))
                  .group_by(record_terms.c.facet, record_terms.c.value))
        for facet, value, n in conn.execute(counts):
            facets.setdefault(facet, []).append((value, int(n)))
        for facet in FACETS:
            facets[facet] = sorted(facets.get(facet, []), key=lambda vn: (-vn[1], vn[0]))[:50]
    return SearchResult(matched=int(matched), records=found, facets=facets)


def values(conn: Connection, column: str, *, is_postgres: bool, visible: Any = None) -> list[tuple[str, int]]:
    """Distinct values of a field with counts (CSW GetDomain), over the records ``visible`` allows."""
    shown = [visible] if visible is not None else [records.c.state == "published"]  # visible knows states
    if column in FACETS:
        q = (select(record_terms.c.value, func.count())
             .where(record_terms.c.facet == column, record_terms.c.record_id.in_(select(records.c.id).where(*shown)))
             .group_by(record_terms.c.value).order_by(record_terms.c.value))
    else:
        col = records.c[column]
        q = select(col, func.count()).where(col.is_not(None), *shown).group_by(col).order_by(col)
    return [(str(v), int(n)) for v, n in conn.execute(q)]


def extent(conn: Connection, *, visible: Any = None) -> tuple[float, float, float, float] | None:
    """The box around every published record ``visible`` allows (None when none has one)."""
    shown = [records.c.state == "published", records.c.minx.is_not(None), *([visible] if visible is not None else [])]
    row = conn.execute(select(func.min(records.c.minx), func.min(records.c.miny), func.max(records.c.maxx),
                              func.max(records.c.maxy)).where(*shown)).first()
    if row is None or row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


__all__ = ["RecordQuery", "SearchResult", "search", "write", "remove", "to_record", "create", "values", "extent"]
