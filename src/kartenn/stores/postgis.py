"""The PostGIS feature store: one table per dataset in schema ``kartenn_data``, filled with COPY.

The table is created and filled inside the catalogue's transaction: a failure or a killed process
rolls everything back, and nobody sees the table before the catalogue entry that points to it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from psycopg import sql
from pyproj import CRS
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from kartenn.stores import display, measurements
from kartenn.stores import postgis_reads as reads
from kartenn.stores.base import GEOMETRY_COLUMN, SCHEMA_LOCK, Box, Columns, LayerSpec, Series, TimeBounds, columns_of
from kartenn.stores.dialect import POSTGRESQL
from kartenn.stores.ewkb import ewkb_hex

SCHEMA, FID = reads.SCHEMA, reads.FID

PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "time": "time",
}


class PostGISStore:
    name = "PostGIS"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader: Engine | None = None

    @property
    def reader(self) -> Engine:
        """Autocommit connections with no ping on checkout, for one-query reads on hot paths (vector tiles).

        The catalogue's pool pings every connection it lends and rolls back every one it takes back: two round
        trips that cost more than a zoom-14 tile. A read that finds its connection dead invalidates it and
        tries once more (``stores.postgis_reads.read_one``).
        """
        if self._reader is None:
            self._reader = create_engine(self.engine.url, pool_size=8, max_overflow=8,
                                         isolation_level="AUTOCOMMIT",
                                         pool_reset_on_return=None)  # autocommit: nothing to roll back
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.dispose()

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
            conn.execute(text(measurements.CREATE_SCHEMA))
            postgis = conn.execute(text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                        "WHERE extname = 'postgis'")).scalar_one()
            conn.exec_driver_sql(display.WEB_MERCATOR_FUNCTION.format(schema=SCHEMA, postgis=postgis))

    def map_datasource(self, storage: str, *, srid: int = 0, extent: str | None = None, level: int = 0,
                       time: TimeBounds | None = None) -> dict[str, Any]:
        url = self.engine.url
        source, geometry = f'"{SCHEMA}"."{storage}"', GEOMETRY_COLUMN
        conditions = [POSTGRESQL.time_condition(*time)] if time else []
        drawn = ""
        if level:
            # A level's column, read where the originals' index finds the features: Mapnik puts the map's box in
            # for !bbox! and adds no filter of its own.
            conditions.append(f'"{GEOMETRY_COLUMN}" && !bbox!')
            drawn, geometry = f', "{display.column(level)}" AS display_geom', "display_geom"
        if conditions:
            source = f"(SELECT *{drawn} FROM {source} WHERE {' AND '.join(conditions)}) AS t"
        params = {"type": "postgis", "host": url.host or "", "port": url.port or 5432, "dbname": url.database or "",
                  "user": url.username or "", "password": url.password or "",
                  "table": source, "geometry_field": geometry, "key_field": FID,
                  "srid": srid or 0, "estimate_extent": "false", "max_size": 8, "persist_connection": "true"}
        if extent:
            params["extent"] = extent
        return {k: v for k, v in params.items() if v != ""}

    def vector_tile(self, storage: str, fields: list[str], layer: str, tile_srid: int, tile_bounds: Box,
                    native_boxes: list[Box], extent: int, buffer: int, level: int = 0) -> bytes | None:
        return reads.vector_tile(self, storage, fields, layer, tile_srid, tile_bounds, native_boxes, extent, buffer,
                                 level)

    def features_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int) -> list[dict[str, Any]]:
        return reads.features_in_box(self, storage, fields, bbox, limit)

    def columns_in_box(self, storage: str, fields: list[str], bbox: Box, limit: int, level: int = 0) -> Columns:
        return columns_of(self.features_in_box(storage, fields, bbox, limit), fields)

    def levels(self, storage: str) -> display.Levels:
        return display.postgis_levels(self.engine, SCHEMA, storage)

    def distinct_values(self, storage: str, field: str, limit: int) -> list[Any]:
        return reads.distinct_values(self, storage, field, limit)

    def value_range(self, storage: str, field: str) -> tuple[Any, Any]:
        return reads.value_range(self, storage, field)

    def load(self, conn: Connection, spec: LayerSpec, batches: Iterable[pa.RecordBatch]) -> None:
        raw = conn.connection.driver_connection
        table = sql.Identifier(SCHEMA, spec.storage)
        srid = self._srid(conn, spec.srid)
        geom_type = spec.geometry_type.upper() + ("Z" if spec.has_z else "")
        columns = [sql.SQL("{} bigint PRIMARY KEY").format(sql.Identifier(FID))]
        columns += [
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type])) for f in spec.fields
        ]
        columns.append(
            sql.SQL("{} geometry({}, {})").format(
                sql.Identifier(GEOMETRY_COLUMN), sql.SQL(geom_type), sql.Literal(srid)
            )
        )
        batches = iter(batches)
        first = next(batches, None)
        tolerances: list[float] = []
        if first is not None and display.applies(spec.geometry_type):
            tolerances = display.choose(shapely.from_wkb(
                first.column(GEOMETRY_COLUMN)[:display.SAMPLE].to_numpy(zero_copy_only=False)))
            columns += display.postgis_columns(SCHEMA, srid, _geographic(srid), tolerances)
        names = [FID, *(f.name for f in spec.fields), GEOMETRY_COLUMN]
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            table, sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with raw.cursor() as cur:
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(columns)))
            for comment in display.postgis_comments(table, tolerances):
                cur.execute(comment)
            next_fid = 1
            with cur.copy(copy_sql) as copy:
                for batch in ([] if first is None else chain([first], batches)):
                    copy.write(_csv_rows(batch, spec, srid, next_fid))
                    next_fid += batch.num_rows
            index = sql.Identifier(f"{spec.storage}_geom_idx"[:63])
            cur.execute(
                sql.SQL("CREATE INDEX {} ON {} USING GIST ({})").format(
                    index, table, sql.Identifier(GEOMETRY_COLUMN)
                )
            )
            cur.execute(sql.SQL("ANALYZE {}").format(table))

    def load_series(self, conn: Connection, storage: str, table: pa.Table) -> None:
        measurements.postgis_load(conn, storage, table)

    def read_series(self, storage: str, stations: list[str], parameters: list[str], start: datetime | None,
                    end: datetime | None) -> list[Series]:
        return measurements.postgis_read(self.reader, storage, stations, parameters, start, end)

    def discard(self, storage: str) -> None:
        """Nothing to do: the table was created in the transaction that was rolled back."""

    def drop(self, storage: str) -> None:
        with self.engine.begin() as conn:
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(SCHEMA, storage)))
            measurements.postgis_drop(conn, storage)

    def tables(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": SCHEMA}
            )
            return set(rows.scalars())

    def unreferenced(self, known: set[str]) -> list[str]:
        # a table being loaded is not seen outside its transaction
        return sorted((self.tables() | measurements.postgis_tables(self.engine)) - known)

    @staticmethod
    def _srid(conn: Connection, srid: int | None) -> int:
        if not srid:
            return 0
        found = conn.execute(
            text("SELECT 1 FROM spatial_ref_sys WHERE srid = :srid"), {"srid": srid}
        ).first()
        return srid if found else 0


def _geographic(srid: int) -> bool:
    try:
        return bool(srid) and CRS.from_epsg(srid).is_geographic
    except Exception:
        return False



def _csv_rows(batch: pa.RecordBatch, spec: LayerSpec, srid: int, first_fid: int) -> bytes:
    """One batch as CSV for COPY: fid, attributes, EWKB hex geometry (nulls as unquoted empty fields).

    The geometry is never parsed here: the SRID is written into each WKB header (stores/ewkb.py).
    """
    n = batch.num_rows
    arrays = [pa.array(np.arange(first_fid, first_fid + n, dtype=np.int64))]
    for f in spec.fields:
        arrays.append(batch.column(f.name))
    arrays.append(ewkb_hex(batch.column(GEOMETRY_COLUMN), srid))
    table = pa.Table.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return buf.getvalue()

