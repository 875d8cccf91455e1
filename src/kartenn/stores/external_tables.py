"""A table of another PostGIS database, read once as Arrow batches (geometry as WKB in ``geom``): what a migration
copies from a GeoServer PostGIS store. The bundled GDAL has no PostgreSQL driver, so psycopg reads it.

>>> info = table_info(conninfo, "public", "parcelles")          # doctest: +SKIP
>>> info.srid, info.count                                       # doctest: +SKIP
(4326, 1204)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from kartenn.errors import InvalidInput


@dataclass
class TableInfo:
    geometry: str
    srid: int
    geometry_type: str
    columns: list[str]
    count: int


def reachable(conninfo: dict[str, Any], timeout: int = 3) -> str | None:
    """None when the database answers within ``timeout`` seconds, else why not (one line)."""
    try:
        with psycopg.connect(**conninfo, connect_timeout=timeout):
            return None
    except psycopg.Error as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def table_info(conninfo: dict[str, Any], schema: str, table: str) -> TableInfo:
    with psycopg.connect(**conninfo, connect_timeout=5) as conn:
        row = conn.execute("SELECT f_geometry_column, srid, type FROM geometry_columns "
                           "WHERE f_table_schema = %s AND f_table_name = %s", (schema, table)).fetchone()
        if row is None:
            raise InvalidInput(f"no table {schema}.{table} with a geometry column")
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name <> %s ORDER BY ordinal_position", (schema, table, row[0]))]
        count = conn.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table))).fetchone()
    kind = str(row[2]).title().replace("Multipolygon", "MultiPolygon").replace("Multilinestring", "MultiLineString")
    return TableInfo(row[0], int(row[1]), kind.replace("Multipoint", "MultiPoint").replace("Linestring", "LineString"),
                     columns, int(count[0]) if count else 0)


def checksum(conninfo: dict[str, Any], schema: str, table: str) -> str:
    """A digest of the table's rows, whatever their order: what a migration compares to know it changed."""
    query = sql.SQL("SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM "
                    "(SELECT md5(t::text) AS h FROM {}.{} AS t) AS rows").format(sql.Identifier(schema),
                                                                                sql.Identifier(table))
    with psycopg.connect(**conninfo, connect_timeout=5) as conn:
        row = conn.execute(query).fetchone()
    return str(row[0]) if row else ""


def read_batches(conninfo: dict[str, Any], schema: str, table: str, info: TableInfo,
                 batch_size: int) -> Iterator[pa.RecordBatch]:
    """The table's rows in batches, through a server-side cursor."""
    query = sql.SQL("SELECT {}, ST_AsBinary({}) FROM {}.{}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in info.columns) if info.columns else sql.SQL("NULL"),
        sql.Identifier(info.geometry), sql.Identifier(schema), sql.Identifier(table))
    names = [*info.columns, "geom"] if info.columns else ["_", "geom"]
    with psycopg.connect(**conninfo, connect_timeout=5) as conn, conn.cursor(name="kartenn_copy") as cur:
        cur.itersize = batch_size
        cur.execute(query)
        while rows := cur.fetchmany(batch_size):
            arrays = [pa.array([_plain(r[i]) for r in rows]) for i in range(len(names) - 1)]
            arrays.append(pa.array([bytes(r[-1]) if r[-1] is not None else None for r in rows], pa.binary()))
            batch = pa.RecordBatch.from_arrays(arrays, names=names)
            yield batch.drop_columns(["_"]) if not info.columns else batch


def _plain(value: Any) -> Any:
    """Values Arrow takes as they are; others (Decimal, UUID, JSON…) as text or float."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    import datetime

    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value
    return str(value)
