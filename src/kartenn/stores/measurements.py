"""Measurements of station datasets: a table (station, parameter, time, value) keyed in that order, so that one
station's series over a time range is one range scan of the key.

Embedded: a table ``measurements`` in the dataset's GeoPackage (a plain SQLite table without rowid, the key its
clustered index; time in milliseconds since 1970). PostGIS: a table of the same name as the stations' in schema
``kartenn_series``, read back as arrays (``array_agg``), one row per series.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
from psycopg import sql
from sqlalchemy.engine import Connection, Engine

from kartenn.stores.base import Series

TABLE = "measurements"
SCHEMA = "kartenn_series"
CREATE_SCHEMA = f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"
_EPOCH = np.datetime64(0, "ms")


def _millis(moment: datetime | None, default: int) -> int:
    return default if moment is None else int(moment.timestamp() * 1000)


def _series(rows: list[tuple[str, str, np.ndarray, np.ndarray]]) -> list[Series]:
    return [Series(station, parameter, times, values) for station, parameter, times, values in rows]


# embedded ----------------------------------------------------------------------------------------------


def geopackage_load(path: Path, measurements: pa.Table) -> None:
    times = measurements.column("time").cast(pa.int64()).to_pylist()
    rows = zip(measurements.column("station").to_pylist(), measurements.column("parameter").to_pylist(), times,
               measurements.column("value").to_pylist(), strict=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(f"CREATE TABLE {TABLE} (station TEXT NOT NULL, parameter TEXT NOT NULL, time INTEGER NOT NULL, "
                     "value REAL, PRIMARY KEY (station, parameter, time)) WITHOUT ROWID")
        conn.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?)", rows)  # noqa: S608


def geopackage_read(path: Path, stations: list[str], parameters: list[str], start: datetime | None,
                    end: datetime | None) -> list[Series]:
    query = (f"SELECT time, value FROM {TABLE} WHERE station = ? AND parameter = ? "  # noqa: S608
             "AND time >= ? AND time <= ? ORDER BY time")
    low, high = _millis(start, -(2**62)), _millis(end, 2**62)
    found = []
    uri = path.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        for station in stations:
            for parameter in parameters:
                rows = conn.execute(query, (station, parameter, low, high)).fetchall()
                if not rows:
                    continue
                pairs = np.array(rows, dtype=np.float64).reshape(-1, 2)  # NULL values become NaN
                times = _EPOCH + pairs[:, 0].astype(np.int64).astype("timedelta64[ms]")
                found.append((station, parameter, times, pairs[:, 1]))
    return _series(found)


# PostGIS -----------------------------------------------------------------------------------------------


def postgis_load(conn: Connection, storage: str, measurements: pa.Table) -> None:
    raw = conn.connection.driver_connection
    table = sql.Identifier(SCHEMA, storage)
    with raw.cursor() as cur:
        cur.execute(CREATE_SCHEMA)
        cur.execute(sql.SQL("CREATE TABLE {} (station text NOT NULL, parameter text NOT NULL, "
                            "time timestamptz NOT NULL, value double precision, "
                            "PRIMARY KEY (station, parameter, time))").format(table))
        columns = [measurements.column(n).to_pylist() for n in ("station", "parameter", "time", "value")]
        with cur.copy(sql.SQL("COPY {} (station, parameter, time, value) FROM STDIN").format(table)) as copy:
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        cur.execute(sql.SQL("ANALYZE {}").format(table))


def postgis_read(engine: Engine, storage: str, stations: list[str], parameters: list[str],
                 start: datetime | None, end: datetime | None) -> list[Series]:
    query = sql.SQL(
        "SELECT station, parameter, array_agg((extract(epoch FROM time) * 1000)::bigint ORDER BY time), "
        "array_agg(value ORDER BY time) FROM {} WHERE station = ANY(%s) AND parameter = ANY(%s) "
        "AND (%s::timestamptz IS NULL OR time >= %s) AND (%s::timestamptz IS NULL OR time <= %s) "
        "GROUP BY station, parameter ORDER BY station, parameter").format(sql.Identifier(SCHEMA, storage))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(query, (stations, parameters, start, start, end, end))
            rows = cur.fetchall()
    return _series([(station, parameter, _EPOCH + np.array(millis, dtype=np.int64).astype("timedelta64[ms]"),
                     np.array(values, dtype=np.float64)) for station, parameter, millis, values in rows])


def postgis_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))
            return {row[0] for row in cur.fetchall()}


def postgis_drop(conn: Connection, storage: str) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, storage)))
