"""The rows of the datasets table kept in memory on PostgreSQL, for as long as the database reports no change.

A tile or a map reads its dataset's row on every request: on PostgreSQL a round trip that costs as much as making
a small tile. Each process keeps the rows it has read; one connection of its own LISTENs on ``CHANNEL``, which a
trigger NOTIFYs after every statement that writes the table, from any process or machine. Each lookup first takes
the notifications that have arrived (a read that does not wait) and forgets every row if any has. While that
connection is down, or where notifications do not come back (a pooler in transaction mode), nothing is kept.

>>> rows = DatasetRows(engine)            # doctest: +SKIP
>>> rows.read("communes", fetch_row)      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

CHANNEL = "kartenn_datasets"
NOTIFY = f"PERFORM pg_notify('{CHANNEL}', '')"  # the trigger's body (stores/catalog.py)
MAX_ROWS = 10_000  # ids asked for that do not exist are kept too; past this many, all are forgotten
RETRY_SECONDS = 5.0
_MISSING = object()

log = logging.getLogger(__name__)


class DatasetRows:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows: dict[str, Any] = {}
        self._generation = 0
        self._conn: psycopg.Connection | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._closed = False

    def read(self, dataset_id: str, fetch: Callable[[str], Any]) -> Any:
        """The row of ``dataset_id`` (None when there is none), from memory or through ``fetch``."""
        generation = self._current()
        if generation is None:
            return fetch(dataset_id)
        row = self._rows.get(dataset_id, _MISSING)
        if row is not _MISSING:
            return row
        row = fetch(dataset_id)
        with self._lock:
            # a change taken while fetching may be newer than what was fetched: keep nothing then
            if generation == self._generation and self._conn is not None:
                if len(self._rows) >= MAX_ROWS:
                    self._rows.clear()
                self._rows[dataset_id] = row
        return row

    def forget(self) -> None:
        """Forget every row (this process has just written the table)."""
        with self._lock:
            self._forget()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    def _forget(self) -> None:
        self._rows.clear()
        self._generation += 1

    def _current(self) -> int | None:
        """The generation of the rows after taking the notifications that have arrived; None when none can be kept."""
        with self._lock:
            if self._conn is None and not self._listen():
                return None
            assert self._conn is not None
            try:
                pgconn = self._conn.pgconn
                pgconn.consume_input()
                changed = False
                while pgconn.notifies() is not None:
                    changed = True
            except psycopg.Error:
                self._drop()
                return None
            if pgconn.status != psycopg.pq.ConnStatus.OK:
                self._drop()
                return None
            if changed:
                self._forget()
            return self._generation

    def _listen(self) -> bool:
        if self._closed or time.monotonic() < self._retry_at:
            return False
        self._retry_at = time.monotonic() + RETRY_SECONDS
        dialect = self._engine.dialect
        args, params = dialect.create_connect_args(self._engine.url)
        try:
            conn = psycopg.connect(*args, **{**params, "autocommit": True, "connect_timeout": 3})
            conn.execute(f"LISTEN {CHANNEL}")
            # a notification of its own must come back: it does not through a pooler in transaction mode
            conn.execute(f"SELECT pg_notify('{CHANNEL}', 'check')")
            if not any(n.payload == "check" for n in conn.notifies(timeout=1.0, stop_after=1)):
                log.warning("dataset rows are read from the database each time: no notification comes back")
                conn.close()
                return False
        except psycopg.Error as e:
            log.warning("dataset rows are read from the database each time: %s", e)
            return False
        self._conn = conn
        self._forget()  # what was read while no one listened may be stale
        return True

    def _drop(self) -> None:
        self._forget()
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None
