"""Records rows, their facet terms and their search index, on SQLite (FTS5) and PostgreSQL (GIN arrays).

Searches match, count and page on ``record_keys``, a narrow table of what they test, and read the records rows
of the page only. Stems come from kartenn.text on both stores, so both find the same records for the same
words, and rank them alike: every word in the title first, then the records written last.

>>> result = search(conn, RecordQuery(q="routes", bbox=(-5, 47, -1, 49)))  # doctest: +SKIP
>>> result.matched, [r.id for r in result.records], result.facets["keyword"]                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ColumnElement, visitors

from kartenn.domain import Field, Record
from kartenn.stores.catalog import SCHEMA, _aware, _bounds, record_terms, records
from kartenn.stores.dialect import Dialect, dialect_of
from kartenn.stores.refusals import refused_filters
from kartenn.text import WORD, fold, query_terms, stems_of_folded

FACETS = ("keyword", "organisation", "type", "format", "year", "theme")
# What searches test of every record, in a narrow table: matching and counting read these rows, not the wide
# records rows (with their XML). ``n`` numbers records in the order they were written; the text indexes are keyed
# by it. PostgreSQL only: ``stems`` (full-text search), ``title_stems`` (relevance) and ``words`` (every word of
# anytext, for substring filters), GIN-indexed arrays kept out of line so the rows stay small.
record_keys = Table(
    "record_keys", MetaData(schema=SCHEMA),
    Column("n", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("id", String(255), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("dataset_id", String(80)),
    Column("minx", Float), Column("miny", Float), Column("maxx", Float), Column("maxy", Float),
    Column("stems", ARRAY(Text)), Column("title_stems", ARRAY(Text)), Column("words", ARRAY(Text)),
)
KEY_COLUMNS = ("id", "state", "dataset_id", "minx", "miny", "maxx", "maxy")
# PostgreSQL only: the words of every record's anytext, once or a few times each (no unique constraint, so
# concurrent imports never wait for each other), trigram-indexed: LIKE '%word%' finds the words containing the
# pattern here, then the records having one of them through record_keys.words.
record_words = Table("record_words", MetaData(schema=SCHEMA), Column("word", Text))
# SQLite only, outside the translated schema, rowid = record_keys.n: FTS5 tables of the stems (title, all) and of
# anytext's trigrams (LIKE '%word%' reads the index, not every record).
record_stems = Table("record_stems", MetaData(), Column("rowid", Integer), Column("title", Text),
                     Column("body", Text))
record_trigrams = Table("record_trigrams", MetaData(), Column("rowid", Integer), Column("anytext", Text))
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


def create(conn: Connection) -> None:
    dialect = dialect_of(conn)
    # Facet counts read (facet, value) of each matching record from the index alone.
    terms = dialect.table("record_terms")
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS record_terms_cover ON {terms} (record_id, facet, value)")
    _count_changes(conn, dialect)
    fresh = _create_keys_sqlite(conn) if dialect.fts5 else _create_keys_pg(conn)
    _follow_updates(conn, dialect)
    if fresh:
        _fill_keys(conn)


def _follow_updates(conn: Connection, dialect: Dialect) -> None:
    """A trigger that copies to record_keys what an UPDATE of records changes of its columns (records are
    written by write_many, but an UPDATE of a state or an id must not leave record_keys behind)."""
    changed = ", ".join(KEY_COLUMNS)
    assign = ", ".join(f"{name} = NEW.{name}" for name in KEY_COLUMNS)
    body = f"UPDATE {dialect.table('record_keys')} SET {assign} WHERE id = OLD.id"
    for statement in dialect.triggers("record_keys_follow", body,
                                      [("records_keys_follow", "records", f"UPDATE OF {changed}")]):
        conn.exec_driver_sql(statement)


def _create_keys_pg(conn: Connection) -> bool:
    """The narrow table and its indexes; True when it is new (to be filled from the records stored)."""
    exists = conn.execute(sql_text("SELECT to_regclass(:t)"), {"t": f"{SCHEMA}.record_keys"}).scalar()
    if exists is None:
        conn.exec_driver_sql(
            f"CREATE TABLE {SCHEMA}.record_keys (n BIGSERIAL PRIMARY KEY, id VARCHAR(255) NOT NULL UNIQUE, "
            "state VARCHAR(16) NOT NULL, dataset_id VARCHAR(80), minx FLOAT8, miny FLOAT8, maxx FLOAT8, "
            "maxy FLOAT8, stems TEXT[] NOT NULL, title_stems TEXT[] NOT NULL, words TEXT[] NOT NULL) "
            "WITH (toast_tuple_target = 128)")
        conn.exec_driver_sql(f"ALTER TABLE {SCHEMA}.record_keys ALTER stems SET STORAGE EXTERNAL, "
                             "ALTER words SET STORAGE EXTERNAL, ALTER title_stems SET STORAGE MAIN")
        conn.exec_driver_sql(f"CREATE TABLE {SCHEMA}.record_words (word TEXT NOT NULL)")
        conn.exec_driver_sql(f"CREATE INDEX record_words_word ON {SCHEMA}.record_words (word)")
    # (IF NOT EXISTS: a bulk load may drop the GIN indexes and have them built here once, afterwards)
    for name, column in (("stems", "stems"), ("words", "words"), ("title", "title_stems")):
        # title: the first tier of relevance (every word in the title) is read from its index
        conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS record_keys_{name} ON {SCHEMA}.record_keys "
                             f"USING gin ({column})")
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS record_keys_box ON {SCHEMA}.record_keys "
                         "USING gist (box(point(minx, miny), point(maxx, maxy)))")
    # Trigrams make substring filters (LIKE '%word%') use an index instead of reading every row.
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS record_words_trgm ON {SCHEMA}.record_words "
                                 "USING gin (word public.gin_trgm_ops)")
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS records_anytext_trgm ON {SCHEMA}.records "
                                 "USING gin (anytext public.gin_trgm_ops)")
    except DBAPIError:
        pass  # no pg_trgm on this server: the same filters scan the table
    # the stored vector of earlier versions, which record_keys.stems replaces (ALTER TABLE locks the table even
    # when there is nothing to drop)
    if conn.execute(sql_text("SELECT 1 FROM information_schema.columns WHERE table_schema = :s AND "
                             "table_name = 'records' AND column_name = 'search_vector'"), {"s": SCHEMA}).first():
        conn.exec_driver_sql(f"ALTER TABLE {SCHEMA}.records DROP COLUMN search_vector")
    return exists is None


def _create_keys_sqlite(conn: Connection) -> bool:
    exists = conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'record_keys'").first()
    if exists is not None:
        return False
    conn.exec_driver_sql("CREATE TABLE record_keys (n INTEGER PRIMARY KEY, id VARCHAR(255) NOT NULL UNIQUE, "
                         "state VARCHAR(16) NOT NULL, dataset_id VARCHAR(80), minx FLOAT, miny FLOAT, "
                         "maxx FLOAT, maxy FLOAT)")
    conn.exec_driver_sql("CREATE VIRTUAL TABLE record_stems USING fts5(title, body, "
                         "tokenize = 'unicode61 remove_diacritics 2')")
    conn.exec_driver_sql("CREATE VIRTUAL TABLE record_trigrams USING fts5(anytext, tokenize = 'trigram')")
    for old in ("records_fts", "records_anytext"):  # keyed by id in earlier versions
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {old}")
    conn.exec_driver_sql("DROP INDEX IF EXISTS records_filter")
    return True


def _fill_keys(conn: Connection) -> None:
    """Index the records already stored (a catalogue made by an earlier version), in order of their ids."""
    last = ""
    columns = [records.c[name] for name in (*KEY_COLUMNS, "title", "anytext", "search_text")]
    while True:
        rows = conn.execute(select(*columns).where(records.c.id > last).order_by(records.c.id).limit(2000)).all()
        if not rows:
            return
        _insert_keys(conn, [(row._mapping, row.search_text) for row in rows])
        last = rows[-1].id


# What decides which records a caller sees: the records' ids, states and datasets, their owners and grants.
WATCHED = {"records": "INSERT OR DELETE OR UPDATE OF id, state, dataset_id", "grants": "INSERT OR DELETE OR UPDATE",
           "owners": "INSERT OR DELETE OR UPDATE"}


def _count_changes(conn: Connection, dialect: Dialect) -> None:
    """A counter, ``catalog_changes``, that every write to what decides visibility increments in its own
    transaction (triggers): what is derived from visibility can be kept while the counter stays the same."""
    table = dialect.table("catalog_changes")
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
    conn.exec_driver_sql(dialect.insert_if_absent(table, "(id, n) VALUES (1, 0)", key="id"))
    watched = [(f"{name}_changed", name, events) for name, events in WATCHED.items()]
    # once per statement where possible: a bulk import of thousands of rows counts one change per statement
    for statement in dialect.triggers("catalog_changed", f"UPDATE {table} SET n = n + 1 WHERE id = 1", watched,
                                      each_statement=True):
        conn.exec_driver_sql(statement)


def changes(conn: Connection) -> int:
    """The ``catalog_changes`` counter (see _count_changes)."""
    table = dialect_of(conn).table("catalog_changes")
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


def write(conn: Connection, rec: Record, *, replace: bool = True) -> None:
    """Insert the rows of ``rec``; ``replace=False`` when it is known to be new: deleting from the FTS5 table by
    its unindexed id scans the whole table, which made imports quadratic."""
    write_many(conn, [rec], replaced=[rec.id] if replace else [])


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


def write_many(conn: Connection, recs: list[Record], *, replaced: list[str]) -> None:
    """Insert the rows of many records with one statement per table (``replaced``: the ids already stored,
    whose rows go first). Ids must be unique in ``recs``."""
    for chunk in _chunks(replaced):
        delete_rows_of(conn, chunk)
    rows, terms, keyed = [], [], []
    for rec in recs:
        row, body = _row(rec)
        rows.append(row)
        keyed.append((row, body))
        terms += [{"record_id": rec.id, "facet": f, "value": v} for f, v in _terms(rec)]
    for table, values in ((records, rows), (record_terms, terms)):
        if values:
            conn.execute(insert(table), values)
    if keyed:
        _insert_keys(conn, keyed)


def _insert_keys(conn: Connection, keyed: list[tuple[Any, str]]) -> None:
    """record_keys rows (and, on SQLite, the text indexes' rows) of records rows and their stems."""
    keys = [{name: row[name] for name in KEY_COLUMNS} for row, _ in keyed]
    titles = [sorted(stems_of_folded(fold(row["title"] or ""))) for row, _ in keyed]
    if not dialect_of(conn).fts5:
        words: set[str] = set()
        for key, title, (row, body) in zip(keys, titles, keyed, strict=True):
            key["stems"] = body.split()
            key["title_stems"] = title
            key["words"] = sorted(set(WORD.findall(row["anytext"])))
            words.update(key["words"])
        conn.execute(insert(record_keys), keys)
        # new words only; two imports at once may both add a word, which does no harm
        new = sql_text(f"INSERT INTO {SCHEMA}.record_words (word) SELECT w FROM unnest(CAST(:words AS text[])) "
                       f"AS w WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.record_words v WHERE v.word = w)")
        conn.execute(new, {"words": sorted(words)})
        return
    conn.execute(insert(record_keys), keys)
    numbers = {}
    for chunk in _chunks([key["id"] for key in keys]):
        numbers.update(conn.execute(select(record_keys.c.id, record_keys.c.n)
                                    .where(record_keys.c.id.in_(chunk))).all())
    stems, trigrams = [], []
    for title, (row, body) in zip(titles, keyed, strict=True):
        n = numbers[row["id"]]
        stems.append({"rowid": n, "title": " ".join(title), "body": body})
        trigrams.append({"rowid": n, "anytext": row["anytext"]})
    conn.execute(insert(record_stems), stems)
    conn.execute(insert(record_trigrams), trigrams)


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def delete_rows_of(conn: Connection, ids: list[str]) -> None:
    """Delete the rows of several records."""
    if dialect_of(conn).fts5:
        numbers = select(record_keys.c.n).where(record_keys.c.id.in_(ids)).scalar_subquery()
        conn.execute(delete(record_stems).where(literal_column("rowid").in_(numbers)))
        conn.execute(delete(record_trigrams).where(literal_column("rowid").in_(numbers)))
    conn.execute(delete(record_keys).where(record_keys.c.id.in_(ids)))
    conn.execute(delete(records).where(records.c.id.in_(ids)))
    conn.execute(delete(record_terms).where(record_terms.c.record_id.in_(ids)))


def delete_rows(conn: Connection, record_id: str) -> None:
    delete_rows_of(conn, [record_id])


def remove(conn: Connection, record_id: str) -> None:
    delete_rows(conn, record_id)


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


def _fts(groups: list[list[str]]) -> str:
    """The FTS5 query of groups of stems (any stem of each group; every group)."""
    return " AND ".join("(" + " OR ".join(f'"{s}"' for s in g) + ")" for g in groups)


def _stems_matching(expr: str) -> Any:
    """The numbers (record_keys.n) of the records whose stems match an FTS5 query (SQLite)."""
    return select(literal_column("rowid")).select_from(record_stems).where(
        literal_column("record_stems").op("MATCH")(expr))


def _text_match(groups: list[list[str]], dialect: Dialect) -> tuple[list[ColumnElement[bool]], ColumnElement[bool]]:
    """(conditions, title test) of the words of a query: every word (any of its stems) must occur; relevance is
    1 when they all occur in the title (the title test), else 0 (ties: the records written last first)."""
    k = record_keys.c
    if dialect.fts5:
        expr = _fts(groups)
        return [k.n.in_(_stems_matching(expr))], k.n.in_(_stems_matching(f"title : ({expr})"))
    found = [k.stems.overlap(cast(g, ARRAY(Text))) for g in groups]
    return found, and_(*[k.title_stems.overlap(cast(g, ARRAY(Text))) for g in groups])


def _text_alone(query: RecordQuery) -> bool:
    """Whether ``query`` is words alone, ranked by relevance, over records that all pass its other tests."""
    return (query.every_record and query.visible is None and bool(query.q and query.q.strip())
            and not (query.bbox or query.start or query.end or query.types or query.ids or query.external_ids)
            and query.where is None and all(name == "relevance" for name, _ in query.sort))


def _on_keys(expr: Any) -> Any:
    """``expr`` with the records columns that record_keys also has taken from record_keys."""
    def swap(element: Any, **_: Any) -> Any:
        if isinstance(element, Column) and element.table is records and element.name in KEY_COLUMNS:
            return record_keys.c[element.name]
        return None
    return visitors.replacement_traverse(expr, {}, swap)


def _columns_of(exprs: list[Any], table: Table) -> set[str]:
    return {e.name for x in exprs for e in visitors.iterate(x) if isinstance(e, Column) and e.table is table}


def conditions(query: RecordQuery, dialect: Dialect) -> tuple[list[ColumnElement[bool]], ColumnElement[bool] | None]:
    """(conditions on record_keys, and on records where record_keys has not the column; the title test of the
    query's words, or None without words)."""
    from kartenn.stores.record_filter import box_intersects, to_sql

    k = record_keys.c
    where: list[ColumnElement[bool]] = [k.state.in_(query.states)]
    if query.visible is not None:  # a condition on records: what record_keys has is read from it
        where.append(_on_keys(query.visible))
    in_title = None
    if query.q and query.q.strip():
        groups = query_terms(query.q)
        if not groups:
            where.append(k.id.is_(None))  # only stop words: nothing to find
        else:
            found, in_title = _text_match(groups, dialect)
            where += found
    if query.bbox:
        where.append(box_intersects(*query.bbox, dialect))
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
        where.append(k.id.in_(query.ids))
    if query.external_ids:
        where.append(or_(k.id.in_(query.external_ids), k.dataset_id.in_(query.external_ids)))
    if query.where is not None:
        where.append(to_sql(query.where, dialect))
    return where, in_title


SORTABLE = {"title": func.lower(records.c.title), "modified": records.c.modified, "date": records.c.modified,
            "identifier": record_keys.c.id, "id": record_keys.c.id, "type": records.c.type,
            "organisation": records.c.organisation, "format": records.c.format_text,
            "abstract": records.c.abstract, "created": records.c.created, "updated": records.c.updated,
            "language": records.c.language, "time_begin": records.c.time_begin, "time_end": records.c.time_end}


def _rows(conn: Connection, ids: list[str]) -> list[Record]:
    """The records of ``ids``, in that order (rows read last: sorting whole rows of every match was most of a
    search's time)."""
    rows = {row.id: row for row in conn.execute(select(records).where(records.c.id.in_(ids)))} if ids else {}
    return [to_record(rows[i]) for i in ids if i in rows]


def _tiered_page(conn: Connection, query: RecordQuery, where: list[ColumnElement[bool]],
                 in_title: ColumnElement[bool]) -> tuple[int, list[Record]]:
    """(matches, page) of a PostgreSQL search ranked by relevance alone (see _text_match): the count, then the
    page from the first tier and, when it runs out, from the second."""
    k = record_keys.c
    # both counts in one pass over the matches (the title test reads a small array kept in the row)
    matched, first = conn.execute(select(func.count(), func.count().filter(in_title))
                                  .select_from(record_keys).where(*where)).one()
    if query.limit <= 0 or query.offset >= matched:
        return matched, []
    ids: list[str] = []
    if query.offset < first:
        page = select(k.id).where(*where, in_title).order_by(k.n.desc()).limit(query.limit).offset(query.offset)
        ids = list(conn.execute(page).scalars())
    if len(ids) < query.limit:
        rest = (select(k.id).where(*where, not_(in_title)).order_by(k.n.desc()).limit(query.limit - len(ids))
                .offset(max(0, query.offset - first)))
        ids += list(conn.execute(rest).scalars())
    return matched, _rows(conn, ids)


@refused_filters()
def search(conn: Connection, query: RecordQuery) -> SearchResult:
    k = record_keys.c
    dialect = dialect_of(conn)
    where, in_title = conditions(query, dialect)
    rank = None if in_title is None else case((in_title, 1), else_=0)
    ranked_alone = rank is not None and all(name == "relevance" for name, _ in query.sort)
    order, last_ascending = [], True
    for name, ascending in query.sort or ([("relevance", False)] if rank is not None else []):
        if name == "relevance":
            if rank is not None:
                order.append(rank.desc())
            continue
        column = SORTABLE[name]
        order.append(column.asc().nulls_last() if ascending else column.desc().nulls_last())
        last_ascending = ascending
    if ranked_alone:
        order.append(k.n.desc())  # equally relevant: the records written last first
    else:
        # ties in the order of the last sort key (as pycsw does): a reversed sort reverses them too
        order.append(k.id.asc() if last_ascending else k.id.desc())
    source: Any = record_keys
    if _columns_of([*where, *order], records):
        source = record_keys.join(records, records.c.id == k.id)
    arrays = not dialect.fts5 and bool(_columns_of(where, record_keys) & {"stems", "words"})
    if arrays:
        # Matches found through the GIN indexes read only their own narrow rows: a sequential scan, what the
        # planner may pick for a common word, would unpack every record's arrays to test them.
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    found, matched = [], None
    if not dialect.fts5 and ranked_alone and source is record_keys:
        # Relevance has two tiers: the page is read from the records with every word in the title (a small set,
        # through its own index), then from the others, each newest first, instead of ranking every match.
        matched, found = _tiered_page(conn, query, where, in_title)
    elif dialect.fts5 and rank is not None and _text_alone(query):
        # Every stored record passes the other tests: FTS5 counts and ranks the matches from its index alone.
        expr = _fts(query_terms(query.q or ""))
        match = literal_column("record_stems").op("MATCH")(expr)
        matched = conn.execute(select(func.count()).select_from(record_stems).where(match)).scalar_one()
        if query.limit > 0:
            number = literal_column("rowid")
            page = (select(number).select_from(record_stems).where(match)
                    .order_by(number.in_(_stems_matching(f"title : ({expr})")).desc(), number.desc()))
            numbers = list(conn.execute(page.limit(query.limit).offset(query.offset)).scalars())
            ids = dict(conn.execute(select(k.n, k.id).where(k.n.in_(numbers))).all()) if numbers else {}
            found = _rows(conn, [ids[n] for n in numbers if n in ids])
    elif query.limit > 0:
        # The page counts the matches as it goes: one pass over them, not one for the count and one for the page.
        counted = func.count().over().label("matched")
        page = select(k.id, counted).select_from(source).where(*where).order_by(*order).limit(query.limit)
        hits = conn.execute(page.offset(query.offset)).all()
        matched = hits[0][1] if hits else (0 if query.offset == 0 else None)
        found = _rows(conn, [row[0] for row in hits])
    if matched is None:
        matched = conn.execute(select(func.count()).select_from(source).where(*where)).scalar_one()
    if arrays and query.facets:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = on")  # else the transaction ends with the search
    facets: dict[str, list[tuple[str, int]]] = {}
    if query.facets:
        ids = select(k.id).select_from(source).where(*where)
        counts = (select(record_terms.c.facet, record_terms.c.value, func.count().label("n"))
                  .where(record_terms.c.record_id.in_(ids))
                  .group_by(record_terms.c.facet, record_terms.c.value))
        for facet, value, n in conn.execute(counts):
            facets.setdefault(facet, []).append((value, int(n)))
        for facet in FACETS:
            facets[facet] = sorted(facets.get(facet, []), key=lambda vn: (-vn[1], vn[0]))[:50]
    return SearchResult(matched=int(matched), records=found, facets=facets)


def values(conn: Connection, column: str, *, visible: Any = None) -> list[tuple[str, int]]:
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
