"""What differs between the two databases, said once: SQLite (embedded store) and PostgreSQL/PostGIS.

Code outside stores/ never asks which one it runs on; stores pick the dialect of their connection here.

>>> dialect_of(engine).time_condition("date", start, None)   # doctest: +SKIP
'"date" >= \\'2001-01-01T00:00:00.000Z\\'::timestamptz'
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement


class Dialect:
    name = ""
    is_postgres = False
    schema: str | None = None  # where the catalogue's tables live (stores/catalog.py SCHEMA)
    true = "1=1"
    mark = ""  # the driver's placeholder
    sql: Any = None  # SQLAlchemy's dialect, for compiling conditions to text
    fts5 = False  # SQLite: the records' text index is FTS5 tables; PostgreSQL: GIN-indexed arrays in record_keys

    def time(self, expr: Any) -> Any:
        """A date or date-time (a column, a bound value) as compared in filters."""
        return expr

    def time_value(self, value: date) -> Any:
        """A date or date-time as the driver binds it."""
        return value

    def compile(self, condition: ColumnElement[bool]) -> tuple[str, list[Any]]:
        """A condition as SQL text with the driver's placeholders, and its parameters in order: for the feature
        readers, which run text on the driver's own connection."""
        compiled = condition.compile(dialect=self.sql, compile_kwargs={"render_postcompile": True})
        return compiled.string, [compiled.params[name] for name in compiled.positiontup or ()]

    def table(self, name: str) -> str:
        """A catalogue table's name as written in SQL text."""
        return f"{self.schema}.{name}" if self.schema else name

    def time_condition(self, field: str, start: datetime | None, end: datetime | None) -> str:
        """Rows whose date or date-time ``field`` lies in [start, end]; the bounds are formatted here from
        datetimes, never taken from a request."""
        column = quote(field)
        parts = [self._compare(column, op, when) for op, when in ((">=", start), ("<=", end)) if when]
        return " AND ".join(parts) or self.true

    def _compare(self, column: str, op: str, when: datetime) -> str:
        raise NotImplementedError

    def create_schema(self, conn: Connection, lock: int) -> None:
        """Make the catalogue's schema, one process at a time (``lock``: an advisory lock key); SQLite has none."""

    def insert_if_absent(self, table: str, values: str, key: str) -> str:
        """``INSERT INTO table values`` that does nothing when a row with the same ``key`` exists.

        >>> SQLITE.insert_if_absent("t", "(id, n) VALUES (1, 0)", "id")
        'INSERT OR IGNORE INTO t (id, n) VALUES (1, 0)'
        """
        raise NotImplementedError

    def triggers(self, function: str, body: str, on: list[tuple[str, str, str]], *, each_statement: bool = False
                 ) -> list[str]:
        """Statements that run ``body`` (SQL) after ``events`` on ``table``, for each (trigger, table, events) of
        ``on``; ``function`` names the body where the database wants it apart. ``each_statement``: once per
        statement, not per row, where the database can.

        >>> SQLITE.triggers("bump", "UPDATE c SET n = n + 1", [("t_bump", "t", "DELETE")])
        ['CREATE TRIGGER IF NOT EXISTS t_bump AFTER DELETE ON t BEGIN UPDATE c SET n = n + 1; END']
        """
        raise NotImplementedError

    def box_index_test(self, columns: tuple[Any, Any, Any, Any], box: tuple[float, float, float, float]
                       ) -> ColumnElement[bool] | None:
        """Whether the box of ``columns`` (minx, miny, maxx, maxy) touches ``box``, written as the database's index
        of boxes reads it; None where there is no such index."""
        return None


class SQLite(Dialect):
    name = "sqlite"
    mark = "?"
    fts5 = True
    sql = sqlite.dialect()

    def time(self, expr: Any) -> Any:
        return func.julianday(expr)

    def time_value(self, value: date) -> Any:
        return value.isoformat()

    def _compare(self, column: str, op: str, when: datetime) -> str:
        return f"julianday({column}) {op} julianday('{_text(when)}')"

    def insert_if_absent(self, table: str, values: str, key: str) -> str:
        return f"INSERT OR IGNORE INTO {table} {values}"

    def triggers(self, function: str, body: str, on: list[tuple[str, str, str]], *, each_statement: bool = False
                 ) -> list[str]:
        # a trigger per event (SQLite takes one each), named after it when there are several; always per row
        statements = []
        for trigger, table, events in on:
            several = " OR " in events
            for event in events.split(" OR "):
                name = f"{trigger}_{event.split()[0].lower()}" if several else trigger
                statements.append(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} BEGIN {body}; END")
        return statements


class PostgreSQL(Dialect):
    name = "postgresql"
    is_postgres = True
    schema = "kartenn"
    true = "true"
    mark = "%s"
    sql = PGDialect(paramstyle="format")  # plain placeholders; psycopg binds dates and times itself

    def _compare(self, column: str, op: str, when: datetime) -> str:
        return f"{column} {op} '{_text(when)}'::timestamptz"

    def create_schema(self, conn: Connection, lock: int) -> None:
        # worker processes start together, and two running the same DDL at once fail ("tuple concurrently
        # updated" on CREATE OR REPLACE FUNCTION)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {self.schema}"))

    def insert_if_absent(self, table: str, values: str, key: str) -> str:
        return f"INSERT INTO {table} {values} ON CONFLICT ({key}) DO NOTHING"

    def triggers(self, function: str, body: str, on: list[tuple[str, str, str]], *, each_statement: bool = False
                 ) -> list[str]:
        function = f"{self.schema}.{function}"
        statements = [f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; "
                      "RETURN NULL; END $$"]
        for trigger, table, events in on:
            # a TRUNCATE fires statement triggers only
            when = f"{events} OR TRUNCATE ON {self.table(table)} FOR EACH STATEMENT" if each_statement \
                else f"{events} ON {self.table(table)} FOR EACH ROW"
            statements.append(f"CREATE OR REPLACE TRIGGER {trigger} AFTER {when} EXECUTE FUNCTION {function}()")
        return statements

    def box_index_test(self, columns: tuple[Any, Any, Any, Any], box: tuple[float, float, float, float]
                       ) -> ColumnElement[bool] | None:
        minx, miny, maxx, maxy = columns
        w, s, e, n = box
        return func.box(func.point(minx, miny), func.point(maxx, maxy)).op("&&")(
            func.box(func.point(w, s), func.point(e, n)))


SQLITE, POSTGRESQL = SQLite(), PostgreSQL()


def dialect_of(bind: Any) -> Dialect:
    """The dialect of an engine or connection."""
    return POSTGRESQL if bind.dialect.name == "postgresql" else SQLITE


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
