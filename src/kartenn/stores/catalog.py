"""The catalogue database: datasets, records and jobs, in SQLite (embedded) or PostgreSQL, through SQLAlchemy Core.

>>> catalog = Catalog(create_engine_for("sqlite:///:memory:"))
>>> catalog.create_schema()
>>> catalog.list_datasets()
[]
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from kartenn.domain import Dataset, Field, Job, JobState, Record
from kartenn.errors import NotFound, PreconditionFailed
from kartenn.stores import dataset_rows
from kartenn.stores.base import SCHEMA_LOCK
from kartenn.stores.dataset_rows import DatasetRows
from kartenn.stores.dialect import dialect_of

SCHEMA = "kartenn"
metadata = MetaData(schema=SCHEMA)


def _now() -> datetime:
    return datetime.now(UTC)


datasets = Table(
    "datasets",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("title", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("crs", Text, nullable=False),
    Column("srid", Integer),
    Column("extent", JSON),
    Column("extent_wgs84", JSON),
    Column("count", BigInteger),
    Column("geometry_type", String(40)),
    Column("fields", JSON, nullable=False),
    Column("storage", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("style", JSON, nullable=False),
    Column("raster", JSON, nullable=False),
    Column("record_id", String(80), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("dataset_id", String(80), index=True),
    Column("title", Text),  # NULL when the record has none (CSW filters tell "no title" from "")
    Column("abstract", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("language", String(32), nullable=False),
    Column("type", String(120), nullable=False, index=True),
    Column("schema", String(16), nullable=False),
    Column("keywords", JSON, nullable=False),
    Column("keyword_text", Text, nullable=False),  # keywords joined, for LIKE filters
    Column("extent_wgs84", JSON),
    Column("minx", Float, index=True),
    Column("miny", Float),
    Column("maxx", Float),
    Column("maxy", Float),
    Column("crs", Text),
    Column("attributes", JSON, nullable=False),
    Column("lineage", Text, nullable=False),
    Column("organisation", Text),
    Column("format_text", Text, nullable=False),
    Column("time_begin", String(40)),
    Column("time_end", String(40)),
    Column("modified", String(40), index=True),
    Column("parent_id", String(255)),
    Column("details", JSON, nullable=False),  # keyword_sets, contacts, dates, formats, links, constraints…
    Column("xml", Text),  # the original document of an imported record
    Column("anytext", Text, nullable=False),  # every text, accent-folded and lower-cased
    Column("search_text", Text, nullable=False),  # stems (French and English) for full-text search
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

# One row per facet value of a record: counts by GROUP BY on both stores, no JSON functions needed.
record_terms = Table(
    "record_terms",
    metadata,
    Column("record_id", String(255), nullable=False, index=True),
    Column("facet", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Index("record_terms_facet_value", "facet", "value"),
)

# What a station dataset measures: {"station": key field, "parameters": [{"name", "unit", "begin", "end",
# "count"}], "begin", "end"}; its measurements are beside its points in the feature store.
series = Table(
    "series",
    metadata,
    Column("dataset_id", String(80), primary_key=True),
    Column("info", JSON, nullable=False),
)

# Named styles of a dataset besides its default (``datasets.style``): one row per (dataset, name).
styles = Table(
    "styles",
    metadata,
    Column("dataset_id", String(80), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("style", JSON, nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("progress", Float, nullable=False),
    Column("message", Text, nullable=False),
    Column("log", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
)


def create_engine_for(url: str) -> Engine:
    """An engine for a sqlite:// or postgresql:// URL (psycopg 3 for PostgreSQL)."""
    if url.startswith("postgres"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
        # No JIT: searches joined to the rights tables are estimated costly enough to be compiled, which took
        # ten to twenty times as long as running them (400 ms of JIT for a 25 ms count). Custom plans: a search
        # repeated with other words is planned for its words (how many records a pattern matches decides between
        # the text index and the primary key), not with a generic plan that guesses.
        return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                             connect_args={"options": "-c jit=off -c plan_cache_mode=force_custom_plan"})
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    # SQLite has no schemas: the same tables live in the main database.
    return engine.execution_options(schema_translate_map={SCHEMA: None})


def _bounds(value: Any) -> tuple[float, float, float, float] | None:
    return tuple(value) if value else None  # type: ignore[return-value]


def later(expected: datetime | None) -> datetime:
    """Now, and always after ``expected``: each write a new version, even in the same clock tick."""
    now = _now()
    if expected is None:
        return now
    return max(now, _aware(expected) + timedelta(microseconds=1))


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes: they were stored as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


DATASET_COLUMNS = [c.name for c in datasets.columns]
_JSON_COLUMNS = {c.name for c in datasets.columns if isinstance(c.type, JSON)}
_TIME_COLUMNS = {c.name for c in datasets.columns if isinstance(c.type, DateTime)}


class Catalog:
    def __init__(self, engine: Engine, reader: Callable[[], Engine] | None = None) -> None:
        """``reader`` gives the autocommit engine to read with on PostgreSQL (the feature store's, when it is in the
        same database: one pool of such connections per process); one of its own is made otherwise."""
        self.engine = engine
        self.dialect = dialect_of(engine)
        self._reader: Engine | None = None
        self._shared_reader = reader
        names = ", ".join(DATASET_COLUMNS)
        table = self.dialect.table("datasets")
        self._dataset_sql = f"SELECT {names} FROM {table} WHERE id = {self.dialect.mark}"  # noqa: S608
        # SQLite reads a row in the process, faster than any check that it is still current
        self._rows = DatasetRows(engine) if self.dialect.is_postgres else None

    @property
    def reader(self) -> Engine:
        """PostgreSQL: autocommit connections with no ping on checkout, for one-query reads on hot paths (a tile,
        a map asks for its dataset every time). The main pool pings every connection it lends and rolls back every
        one it takes back: three round trips for one row."""
        if self._shared_reader is not None:
            return self._shared_reader()
        if self._reader is None:
            self._reader = create_engine(self.engine.url, pool_size=4, max_overflow=8, isolation_level="AUTOCOMMIT",
                                         pool_reset_on_return=None)  # autocommit: nothing to roll back
        return self._reader

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()
        if self._reader is not None:
            self._reader.dispose()

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            self.dialect.create_schema(conn, lock=SCHEMA_LOCK)
            from kartenn.stores import (  # noqa: F401  (their tables join the metadata)
                migration_sources,
                record_files,
                record_versions,
                sync_state,
                thesauri,
                working_copies,
            )

            metadata.create_all(conn)
            from kartenn.stores import record_index

            record_index.create(conn)
            if self.dialect.is_postgres:  # what tells every process to forget the rows it keeps (DatasetRows)
                for statement in self.dialect.triggers("datasets_changed", dataset_rows.NOTIFY,
                                                       [("datasets_changed", "datasets", "INSERT OR UPDATE OR DELETE")],
                                                       each_statement=True):
                    conn.exec_driver_sql(statement)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # datasets ---------------------------------------------------------------------------------------

    def add_dataset(self, conn: Connection, ds: Dataset) -> None:
        now = _now()
        ds.created = ds.created or now
        ds.updated = now
        conn.execute(datasets.insert().values(**self._dataset_row(ds)))
        self._forget_rows()

    def update_dataset(self, conn: Connection, ds: Dataset) -> None:
        ds.updated = _now()
        conn.execute(datasets.update().where(datasets.c.id == ds.id).values(**self._dataset_row(ds)))
        self._forget_rows()

    def set_dataset_record(self, conn: Connection, dataset_id: str, record_id: str) -> None:
        """Give the dataset another record (its data and time of change stay as they are)."""
        conn.execute(datasets.update().where(datasets.c.id == dataset_id).values(record_id=record_id))

    def delete_dataset(self, conn: Connection, dataset_id: str) -> None:
        conn.execute(datasets.delete().where(datasets.c.id == dataset_id))
        self._forget_rows()
        conn.execute(styles.delete().where(styles.c.dataset_id == dataset_id))
        conn.execute(series.delete().where(series.c.dataset_id == dataset_id))
        for record_id in conn.execute(select(records.c.id).where(records.c.dataset_id == dataset_id)).scalars():
            self.delete_record(conn, record_id)

    def _forget_rows(self) -> None:
        # at once in this process; the others when the database's notification reaches them
        if self._rows is not None:
            self._rows.forget()

    def get_dataset(self, dataset_id: str, conn: Connection | None = None) -> Dataset:
        if conn is None:
            found = self._read_dataset(dataset_id)
            if found is None:
                raise NotFound(f"no dataset {dataset_id!r}")
            return self._dataset_of(found)
        row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is None:
            raise NotFound(f"no dataset {dataset_id!r}")
        return self._dataset(row)

    def former_dataset_name(self, name: str) -> str | None:
        """The id of the dataset a migrated layer's old name (``ws:layer``) now names, or None."""
        from kartenn.stores import migration_sources

        with self.engine.connect() as conn:
            return migration_sources.dataset_of(conn, name)

    def _read_dataset(self, dataset_id: str) -> dict[str, Any] | None:
        """The row of one dataset, as committed now: on PostgreSQL from the rows this process keeps while the
        database reports no change to the table (stores/dataset_rows.py), else in one query on the driver."""
        if self._rows is None:
            return self._fetch_dataset(dataset_id)
        found = self._rows.read(dataset_id, self._fetch_dataset)
        if found is None:
            return None
        return {**found, **{name: copy.deepcopy(found[name]) for name in _JSON_COLUMNS}}  # kept rows stay as read

    def _fetch_dataset(self, dataset_id: str) -> dict[str, Any] | None:
        """The row of one dataset in one query on the driver (no ORM layer, no transaction). On PostgreSQL a
        connection that died since its last use (server restart) is dropped and the query tried once more."""
        if not self.dialect.is_postgres:  # sqlite3, not psycopg: no reader pool, no prepared statements
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                try:
                    row = cur.execute(self._dataset_sql, (dataset_id,)).fetchone()
                finally:
                    cur.close()
            finally:
                raw.close()
            if row is None:
                return None
            found = dict(zip(DATASET_COLUMNS, row, strict=True))
            for name in _JSON_COLUMNS:
                if found[name] is not None:
                    found[name] = json.loads(found[name])
            for name in _TIME_COLUMNS:
                if found[name] is not None:
                    found[name] = datetime.fromisoformat(found[name])
            return found
        for attempt in (1, 2):
            with self.reader.connect() as conn:
                raw = conn.connection.driver_connection
                try:
                    with raw.cursor() as cur:
                        cur.execute(self._dataset_sql, (dataset_id,), prepare=True)
                        row = cur.fetchone()
                    return dict(zip(DATASET_COLUMNS, row, strict=True)) if row is not None else None
                except psycopg.OperationalError:
                    conn.invalidate()
                    if attempt == 2 or not raw.closed:
                        raise
        return None

    def list_datasets(self, *, limit: int | None = None, offset: int = 0) -> list[Dataset]:
        query = select(datasets).order_by(datasets.c.created, datasets.c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [self._dataset(row) for row in conn.execute(query)]

    def dataset_ids(self, conn: Connection | None = None) -> set[str]:
        query = select(datasets.c.id)
        if conn is not None:
            return set(conn.execute(query).scalars())
        with self.engine.connect() as c:
            return set(c.execute(query).scalars())

    def ids_in(self, query: Any) -> set[str]:
        """The ids a SELECT of ids yields (one the accounts store built: who may do what)."""
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(query)}

    @staticmethod
    def records_among(datasets: Any, standalone: Any, draft_datasets: Any, draft_records: Any) -> Any:
        """A condition on the records table: published records of ``datasets`` or ``standalone`` records, and
        unpublished ones of ``draft_datasets`` or ``draft_records`` (each a SELECT of ids; None: every id)."""

        def among(dataset_ids: Any, record_ids: Any) -> Any:
            return or_(and_(records.c.dataset_id.is_not(None), _member(records.c.dataset_id, dataset_ids)),
                       and_(records.c.dataset_id.is_(None), _member(records.c.id, record_ids)))

        published = records.c.state == "published"
        return or_(and_(published, among(datasets, standalone)),
                   and_(records.c.state != "published", among(draft_datasets, draft_records)))

    def storages(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(datasets.c.storage)).scalars())

    @staticmethod
    def _dataset_row(ds: Dataset) -> dict[str, Any]:
        row = ds.as_dict()
        row["fields"] = [{"name": f.name, "type": f.type} for f in ds.fields]
        row["created"], row["updated"] = ds.created, ds.updated
        return row

    @staticmethod
    def _dataset(row: Any) -> Dataset:
        return Catalog._dataset_of(row._mapping)

    @staticmethod
    def _dataset_of(m: Any) -> Dataset:
        return Dataset(
            id=m["id"],
            title=m["title"],
            kind=m["kind"],
            crs=m["crs"],
            srid=m["srid"],
            extent=_bounds(m["extent"]),
            extent_wgs84=_bounds(m["extent_wgs84"]),
            count=m["count"],
            geometry_type=m["geometry_type"],
            fields=[Field(**f) for f in m["fields"]],
            storage=m["storage"],
            source=m["source"],
            style=m["style"],
            raster=m["raster"],
            record_id=m["record_id"],
            created=_aware(m["created"]),
            updated=_aware(m["updated"]),
        )

    # station datasets -------------------------------------------------------------------------------

    def put_series(self, conn: Connection, dataset_id: str, info: dict[str, Any] | None) -> None:
        """Say what a dataset measures (None: it is no longer a station dataset)."""
        conn.execute(series.delete().where(series.c.dataset_id == dataset_id))
        if info is not None:
            conn.execute(series.insert().values(dataset_id=dataset_id, info=info))

    def series_of(self, dataset_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What each station dataset among ``dataset_ids`` measures; the others are left out."""
        if not dataset_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(series.c.dataset_id, series.c.info).where(series.c.dataset_id.in_(dataset_ids)))
            return {row.dataset_id: row.info for row in rows}

    # named styles -----------------------------------------------------------------------------------

    def named_styles(self, dataset_id: str, conn: Connection | None = None) -> list[dict[str, Any]]:
        """The style dicts of a dataset's named styles (not its default), by name."""
        query = select(styles.c.style).where(styles.c.dataset_id == dataset_id).order_by(styles.c.name)
        if conn is not None:
            return list(conn.execute(query).scalars())
        with self.engine.connect() as c:
            return list(c.execute(query).scalars())

    def named_styles_of(self, dataset_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The named styles of many datasets in one query (capabilities list them all)."""
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in dataset_ids}
        query = select(styles.c.dataset_id, styles.c.style).where(styles.c.dataset_id.in_(dataset_ids)).order_by(
            styles.c.dataset_id, styles.c.name)
        with self.engine.connect() as conn:
            for dataset_id, style in conn.execute(query):
                found[dataset_id].append(style)
        return found

    def put_named_style(self, conn: Connection, dataset_id: str, style: dict[str, Any]) -> None:
        where = (styles.c.dataset_id == dataset_id) & (styles.c.name == style["name"])
        if conn.execute(select(styles.c.name).where(where)).first() is None:
            conn.execute(styles.insert().values(dataset_id=dataset_id, name=style["name"], style=style,
                                                updated=_now()))
        else:
            conn.execute(styles.update().where(where).values(style=style, updated=_now()))

    def delete_named_style(self, conn: Connection, dataset_id: str, name: str) -> bool:
        done = conn.execute(styles.delete().where((styles.c.dataset_id == dataset_id) & (styles.c.name == name)))
        return bool(done.rowcount)

    # records ----------------------------------------------------------------------------------------

    def put_record(self, conn: Connection, rec: Record, expected: datetime | None = None) -> None:
        """Insert or replace a record with its search index (see stores/record_index.py).

        ``expected``: the ``updated`` time the record had when it was read; the write then happens only if it
        still has it — one conditional UPDATE, the transaction's first write, so of two writers that read the same
        version one succeeds and the other gets PreconditionFailed (the row lock in PostgreSQL, the database
        lock in SQLite make the second wait for the first, then find the time changed).
        """
        from kartenn.stores import record_index

        now = later(expected)
        if expected is not None:
            expected = _aware(expected)
            done = conn.execute(records.update().where(records.c.id == rec.id, records.c.updated == expected)
                                .values(updated=now))
            if done.rowcount != 1:
                raise PreconditionFailed(f"record {rec.id!r} was changed meanwhile; read it again")
        rec.updated = now
        exists = conn.execute(select(records.c.created).where(records.c.id == rec.id)).first()
        rec.created = exists[0] if exists else now
        record_index.write(conn, rec, replace=exists is not None)

    def put_records(self, conn: Connection, recs: list[Record]) -> None:
        """Insert or replace many records (a bulk import's batch) with a few statements; the last of the
        records sharing an id wins, as if they were put one after the other."""
        from kartenn.stores import record_index

        last = list({rec.id: rec for rec in recs}.values())
        created = self.record_origins(conn, [rec.id for rec in last])
        now = _now()
        for rec in last:
            rec.updated = now
            rec.created = created[rec.id][0] if rec.id in created else now
        record_index.write_many(conn, last, replaced=list(created))

    def record_origins(self, conn: Connection, ids: list[str]) -> dict[str, tuple[datetime, str | None]]:
        """(created, dataset id) of those of ``ids`` that are stored."""
        found: dict[str, tuple[datetime, str | None]] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 500):
            query = select(records.c.id, records.c.created, records.c.dataset_id).where(
                records.c.id.in_(unique[i:i + 500]))
            found.update({row.id: (row.created, row.dataset_id) for row in conn.execute(query)})
        return found

    def analyze(self) -> None:
        """Refresh the planner's statistics of the catalogue tables (after a bulk import changed them)."""
        with self.engine.begin() as conn:
            if self.dialect.is_postgres:  # SQLite: one table per ANALYZE, and no statistics of owners
                conn.exec_driver_sql(f"ANALYZE {SCHEMA}.records, {SCHEMA}.record_terms, {SCHEMA}.grants, "
                                     f"{SCHEMA}.owners")
            else:
                conn.exec_driver_sql("ANALYZE records")
                conn.exec_driver_sql("ANALYZE record_terms")
                conn.exec_driver_sql("ANALYZE grants")

    def delete_record(self, conn: Connection, record_id: str) -> None:
        from kartenn.stores import record_files, record_index, working_copies

        record_index.remove(conn, record_id)
        record_files.remove(conn, record_id)
        working_copies.remove(conn, record_id)

    def get_record(self, record_id: str, conn: Connection | None = None) -> Record:
        from kartenn.stores import record_index

        row = self._first(select(records).where(records.c.id == record_id), conn)
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return record_index.to_record(row)

    def count_records(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())

    # jobs -------------------------------------------------------------------------------------------

    def add_job(self, job: Job) -> None:
        now = _now()
        job.created = job.updated = now
        with self.engine.begin() as conn:
            conn.execute(jobs.insert().values(**self._job_row(job)))

    def save_job(self, job: Job) -> None:
        job.updated = _now()
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(**self._job_row(job)))

    def get_job(self, job_id: str) -> Job:
        row = self._first(select(jobs).where(jobs.c.id == job_id), None)
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return self._job(row)

    def list_jobs(self, state: JobState | None = None, limit: int = 100) -> list[Job]:
        query = select(jobs).order_by(jobs.c.created.desc()).limit(limit)
        if state is not None:
            query = query.where(jobs.c.state == state.value)
        with self.engine.connect() as conn:
            return [self._job(row) for row in conn.execute(query)]

    def count_jobs(self) -> dict[JobState, int]:
        """How many jobs are in each state (every state listed, with 0 when none)."""
        query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
        with self.engine.connect() as conn:
            found = {JobState(state): int(n) for state, n in conn.execute(query)}
        return {state: found.get(state, 0) for state in JobState}

    def answers(self) -> bool:
        """Whether the catalogue can be read now: one row of a small table (a readiness check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(jobs.c.id).limit(1)).all()
        except (SQLAlchemyError, OSError):
            return False
        return True

    @staticmethod
    def _job_row(job: Job) -> dict[str, Any]:
        row = job.as_dict()
        row["created"], row["updated"] = job.created, job.updated
        return row

    @staticmethod
    def _job(row: Any) -> Job:
        m = dict(row._mapping)
        m["state"] = JobState(m["state"])
        m["created"], m["updated"] = _aware(m["created"]), _aware(m["updated"])
        return Job(**m)

    def _first(self, query: Any, conn: Connection | None) -> Any:
        if conn is not None:
            return conn.execute(query).first()
        with self.engine.connect() as c:
            return c.execute(query).first()


def _member(column: Any, ids: Any) -> Any:
    """``column`` among ``ids`` (a SELECT of ids; None: every id), as a correlated EXISTS: the database probes the
    grants index for each candidate record, where IN listed every permitted id again for each search."""
    if ids is None:
        return true()
    sub = ids.subquery()
    return exists(select(literal(1)).select_from(sub).where(list(sub.c)[0] == column))
