"""Features of a published table inside a box, from either feature store (used to answer map clicks).

>>> rows = features_in_box(store, "regions_4f1a", ["nom"], (2, 48, 3, 49), limit=50)  # doctest: +SKIP
>>> rows[0]["fid"], rows[0]["properties"]["nom"]                                                       # doctest: +SKIP
(1, 'Île-de-France')
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from typing import Any

import psycopg
import pyogrio
from psycopg import sql

from kartenn.stores import display
from kartenn.stores.base import GEOMETRY_COLUMN, FeatureStore
from kartenn.stores.geopackage import LAYER, GeoPackageStore
from kartenn.stores.postgis import FID, SCHEMA, PostGISStore

Box = tuple[float, float, float, float]


def features_in_box(store: FeatureStore, storage: str, fields: list[str], bbox: Box,
                    limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` features whose bounding box meets ``bbox`` (native CRS): fid, properties, WKB geometry."""
    if isinstance(store, GeoPackageStore):
        return _from_geopackage(store, storage, fields, bbox, limit)
    if isinstance(store, PostGISStore):
        return _from_postgis(store, storage, fields, bbox, limit)
    raise TypeError(f"unknown feature store {type(store).__name__}")


def levels_of(store: FeatureStore, storage: str) -> display.Levels:
    """The display copies a published table has (stores/display.py)."""
    if isinstance(store, GeoPackageStore):
        return display.geopackage_levels(store.path(storage), LAYER)
    if isinstance(store, PostGISStore):
        return display.postgis_levels(store.engine, SCHEMA, storage)
    return display.Levels()


def level_for_view(store: FeatureStore, storage: str, box: Box, width: float, height: float) -> int:
    """The generalised level (0: the originals) a view of ``box`` (native CRS) on ``width`` × ``height`` pixels
    draws from: the coarsest within half a pixel (stores/display.py)."""
    pixel = min((box[2] - box[0]) / width, (box[3] - box[1]) / height)
    if not (math.isfinite(pixel) and pixel > 0):
        return 0
    return display.level_for(levels_of(store, storage).tolerances, pixel)


def columns_in_box(store: FeatureStore, storage: str, fields: list[str], boxes: list[Box], limit: int,
                   level: int = 0) -> tuple[list[int], dict[str, list[Any]], list[bytes | None]]:
    """``features_in_box`` by column, in any of ``boxes`` (the parts of a view across the antimeridian), each
    feature once: (fids, {field: values}, WKB geometries), for code that works on them all at once (vector tiles),
    with the geometries of a generalised ``level`` (GeoPackage). On a GeoPackage the R-tree is read directly with
    SQLite: opening the file through GDAL costs more than a zoom-14 tile."""
    rows: dict[int, tuple[Any, ...]] = {}
    for bbox in boxes:
        found = None
        if isinstance(store, GeoPackageStore):
            found = _geopackage_columns(store, storage, fields, bbox, limit, display.table(LAYER, level))
        if found is None:
            some = features_in_box(store, storage, fields, bbox, limit)
            found = ([r["fid"] for r in some], {f: [r["properties"].get(f) for r in some] for f in fields},
                     [r["wkb"] for r in some])
        if len(boxes) == 1:
            return found
        fids, columns, wkb = found
        for i, fid in enumerate(fids):
            rows.setdefault(fid, (*(columns[f][i] for f in fields), wkb[i]))
    kept = list(rows.items())[:limit]
    return ([fid for fid, _ in kept], {f: [row[k] for _, row in kept] for k, f in enumerate(fields)},
            [row[-1] for _, row in kept])


# Bytes of the envelope after a GeoPackage geometry header's 8 bytes, by the envelope code in its flags.
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def _geopackage_columns(store: GeoPackageStore, storage: str, fields: list[str], bbox: Box, limit: int,
                        table: str = LAYER) -> tuple[list[int], dict[str, list[Any]], list[bytes | None]] | None:
    """None when the file has no R-tree of the expected name (then GDAL reads it)."""
    rtree = f"rtree_{table}_{GEOMETRY_COLUMN}"
    columns = ", ".join(['f."fid"', *('f."' + f.replace('"', '""') + '"' for f in fields), f'f."{GEOMETRY_COLUMN}"'])
    query = (f"SELECT {columns} FROM {table} f JOIN {rtree} r ON f.fid = r.id "  # noqa: S608 - quoted names
             "WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? LIMIT ?")
    uri = store.path(storage).resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        try:
            rows = conn.execute(query, (bbox[0], bbox[2], bbox[1], bbox[3], limit)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc) or "no such column: f.fid" in str(exc):
                return None
            raise
    if not rows:
        return [], {f: [] for f in fields}, []
    values = list(zip(*rows, strict=True))
    wkb = [None if b is None else b[8 + _ENVELOPE.get((b[3] >> 1) & 7, 0):] for b in values[-1]]
    return list(values[0]), {f: list(v) for f, v in zip(fields, values[1:-1], strict=True)}, wkb


def _from_geopackage(store: GeoPackageStore, storage: str, fields: list[str], bbox: Box,
                     limit: int) -> list[dict[str, Any]]:
    # GDAL uses the GeoPackage R-tree for the bbox filter.
    _, table = pyogrio.read_arrow(store.path(storage), layer=LAYER, bbox=bbox, columns=fields,
                                  return_fids=True, max_features=limit)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    fids = columns.pop(FID, None) or columns.pop("OGC_FID", [])
    geoms = columns.pop(GEOMETRY_COLUMN, None) or [None] * len(fids)
    return [{"fid": fid, "properties": {name: values[i] for name, values in columns.items()}, "wkb": geoms[i]}
            for i, fid in enumerate(fids)]


def _from_postgis(store: PostGISStore, storage: str, fields: list[str], bbox: Box,
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


def mvt_from_postgis(store: PostGISStore, storage: str, fields: list[str], layer: str, tile_srid: int,
                     tile_bounds: Box, native_boxes: list[Box], extent: int, buffer: int, level: int = 0) -> bytes:
    """One MVT layer built by PostGIS (ST_AsMVTGeom + ST_AsMVT), for a tile in ``tile_srid``, of the features in
    any of ``native_boxes`` (the parts of a tile across the antimeridian), from the geometries of a generalised
    ``level``, or from their Web Mercator copy when there is one for the tile."""
    attrs = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(f)) for f in fields)
    drawn = sql.SQL("ST_Transform(t.{}, %(tile_srid)s)").format(sql.Identifier(GEOMETRY_COLUMN))
    if level:  # clipped to the tile's box first: fewer points to project, and none beyond the tile's CRS (a pole)
        drawn = sql.SQL("ST_Transform(ST_ClipByBox2D(t.{}, ST_MakeEnvelope(%(n0)s, %(n1)s, %(n2)s, %(n3)s, "
                        "%(native_srid)s)), %(tile_srid)s)").format(sql.Identifier(display.column(level)))
    elif tile_srid == display.WEB_MERCATOR and levels_of(store, storage).web_mercator:
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


def distinct_values(store: FeatureStore, storage: str, field: str, limit: int) -> list[Any]:
    """Up to ``limit`` distinct non-null values of ``field``, sorted (a time dimension's extent)."""
    if isinstance(store, GeoPackageStore):
        column = '"' + field.replace('"', '""') + '"'
        with closing(sqlite3.connect(store.path(storage).resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            rows = conn.execute(f"SELECT DISTINCT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                                f"ORDER BY julianday({column}) LIMIT ?", (limit,)).fetchall()
        return [r[0] for r in rows]
    if isinstance(store, PostGISStore):
        query = sql.SQL("SELECT DISTINCT {col} FROM {table} WHERE {col} IS NOT NULL ORDER BY 1 LIMIT %s").format(
            col=sql.Identifier(field), table=sql.Identifier(SCHEMA, storage))
        with store.engine.connect() as conn:
            with conn.connection.driver_connection.cursor() as cur:
                cur.execute(query, (limit,))
                return [r[0] for r in cur.fetchall()]
    raise TypeError(f"unknown feature store {type(store).__name__}")


def value_range(store: FeatureStore, storage: str, field: str) -> tuple[Any, Any]:
    """(lowest, highest) non-null value of a date or date-time ``field``."""
    if isinstance(store, GeoPackageStore):
        column = '"' + field.replace('"', '""') + '"'
        with closing(sqlite3.connect(store.path(storage).resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            low = conn.execute(f"SELECT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                               f"ORDER BY julianday({column}) LIMIT 1").fetchone()
            high = conn.execute(f"SELECT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                                f"ORDER BY julianday({column}) DESC LIMIT 1").fetchone()
        return (low[0] if low else None, high[0] if high else None)
    if isinstance(store, PostGISStore):
        query = sql.SQL("SELECT min({col}), max({col}) FROM {table}").format(
            col=sql.Identifier(field), table=sql.Identifier(SCHEMA, storage))
        with store.engine.connect() as conn:
            with conn.connection.driver_connection.cursor() as cur:
                cur.execute(query)
                low, high = cur.fetchone()
        return low, high
    raise TypeError(f"unknown feature store {type(store).__name__}")


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
