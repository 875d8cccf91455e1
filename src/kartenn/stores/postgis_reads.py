"""Reads of the PostGIS store's tables: features in a box, vector tiles made by PostGIS, a field's values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from kartenn.stores import display
from kartenn.stores.base import GEOMETRY_COLUMN, Box

if TYPE_CHECKING:
    from kartenn.stores.postgis import PostGISStore

SCHEMA = "kartenn_data"  # the tables of the published datasets
FID = "fid"


def features_in_box(store: PostGISStore, storage: str, fields: list[str], bbox: Box,
                    limit: int) -> list[dict[str, Any]]:
    columns = sql.SQL(", ").join([sql.Identifier(FID), *(sql.Identifier(f) for f in fields),
                                  sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY_COLUMN))])
    # Find_SRID once, in a subquery, so the planner sees a constant envelope and uses the GiST index.
    query = sql.SQL(
        "SELECT {columns} FROM {table} WHERE {geom} && ST_MakeEnvelope(%s, %s, %s, %s, "
        "(SELECT Find_SRID(%s, %s, %s))) LIMIT %s"
    ).format(columns=columns, table=sql.Identifier(SCHEMA, storage), geom=sql.Identifier(GEOMETRY_COLUMN))
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(query, (*bbox, SCHEMA, storage, GEOMETRY_COLUMN, limit))
            rows = cur.fetchall()
    out = []
    for row in rows:
        props = dict(zip(fields, row[1:-1], strict=True))
        out.append({"fid": row[0], "properties": props, "wkb": bytes(row[-1]) if row[-1] is not None else None})
    return out


def vector_tile(store: PostGISStore, storage: str, fields: list[str], layer: str, tile_srid: int, tile_bounds: Box,
                native_boxes: list[Box], extent: int, buffer: int, level: int = 0) -> bytes:
    """One MVT layer built by PostGIS (ST_AsMVTGeom + ST_AsMVT), for a tile in ``tile_srid``, of the features in
    any of ``native_boxes`` (the parts of a tile across the antimeridian), from the geometries of a generalised
    ``level``, or from their Web Mercator copy when there is one for the tile."""
    attrs = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(f)) for f in fields)
    drawn = sql.SQL("ST_Transform(t.{}, %(tile_srid)s)").format(sql.Identifier(GEOMETRY_COLUMN))
    if level:  # clipped to the tile's box first: fewer points to project, and none beyond the tile's CRS (a pole)
        drawn = sql.SQL("ST_Transform(ST_ClipByBox2D(t.{}, ST_MakeEnvelope(%(n0)s, %(n1)s, %(n2)s, %(n3)s, "
                        "%(native_srid)s)), %(tile_srid)s)").format(sql.Identifier(display.column(level)))
    elif tile_srid == display.WEB_MERCATOR and store.levels(storage).web_mercator:
        drawn = sql.SQL("t.{}").format(sql.Identifier(display.WEB_MERCATOR_COLUMN))
    query = sql.SQL(
        "WITH rows AS ("
        " SELECT ST_AsMVTGeom({drawn},"
        "  ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, %(tile_srid)s), %(extent)s, %(buffer)s, true) AS mvt_geom,"
        "  t.{fid}{attrs}"
        " FROM {table} t"
        " WHERE {where}"
        ") SELECT ST_AsMVT(rows.*, %(layer)s, %(extent)s, 'mvt_geom', %(fid_name)s) FROM rows"
        " WHERE mvt_geom IS NOT NULL"
    ).format(drawn=drawn, fid=sql.Identifier(FID), attrs=attrs, table=sql.Identifier(SCHEMA, storage),
             where=sql.SQL(" OR ").join(sql.SQL(
                 f"t.{{}} && ST_MakeEnvelope(%(b{i}_0)s, %(b{i}_1)s, %(b{i}_2)s, %(b{i}_3)s, %(native_srid)s)"
             ).format(sql.Identifier(GEOMETRY_COLUMN)) for i in range(len(native_boxes))))
    around = (min(b[0] for b in native_boxes), min(b[1] for b in native_boxes), max(b[2] for b in native_boxes),
              max(b[3] for b in native_boxes))
    params = {"tile_srid": tile_srid, "x0": tile_bounds[0], "y0": tile_bounds[1], "x1": tile_bounds[2],
              "y1": tile_bounds[3], "extent": extent, "buffer": buffer, "n0": around[0], "n1": around[1],
              "n2": around[2], "n3": around[3], "layer": layer, "fid_name": FID}
    params.update({f"b{i}_{k}": v for i, b in enumerate(native_boxes) for k, v in enumerate(b)})
    row = read_one(store, query, params, storage)
    return bytes(row[0]) if row and row[0] is not None else b""


def distinct_values(store: PostGISStore, storage: str, field: str, limit: int) -> list[Any]:
    """Up to ``limit`` distinct non-null values of ``field``, sorted."""
    query = sql.SQL("SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL ORDER BY 1 LIMIT %s").format(
        col=sql.Identifier(field), table=sql.Identifier(SCHEMA, storage))
    with store.engine.connect() as conn:
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(query, (limit,))
            return [r[0] for r in cur.fetchall()]


def value_range(store: PostGISStore, storage: str, field: str) -> tuple[Any, Any]:
    """(lowest, highest) non-null value of a date or date-time ``field``."""
    query = sql.SQL("SELECT min({col}), max({col}) FROM {table}").format(
        col=sql.Identifier(field), table=sql.Identifier(SCHEMA, storage))
    with store.engine.connect() as conn:
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(query)
            low, high = cur.fetchone()
    return low, high


def read_one(store: PostGISStore, query: sql.Composable, params: dict[str, Any], storage: str) -> tuple | None:
    """The first row of one read-only query on the store's reader pool (``native_srid`` filled in for ``storage``).

    One round trip: no ping, no transaction. A connection that died since its last use (server restart) is
    dropped and the query tried once more on a fresh one.
    """
    for attempt in (1, 2):
        with store.reader.connect() as conn:
            raw = conn.connection.driver_connection
            try:
                with raw.cursor() as cur:
                    params["native_srid"] = _column_srid(cur, storage)
                    cur.execute(query, params)
                    return cur.fetchone()
            except psycopg.OperationalError:
                conn.invalidate()
                if attempt == 2 or not raw.closed:
                    raise
    return None


_SRIDS: dict[str, int] = {}


def _column_srid(cur: Any, storage: str) -> int:
    """The SRID of a table's geometry column, asked once per table: Find_SRID costs more than a zoom-14 tile.

    A storage name belongs to one table for its whole life (republishing makes a new one), so the answer keeps.
    """
    srid = _SRIDS.get(storage)
    if srid is None:
        cur.execute("SELECT Find_SRID(%s, %s, %s)", (SCHEMA, storage, GEOMETRY_COLUMN))
        srid = _SRIDS[storage] = int(cur.fetchone()[0])
    return srid
