"""Features of a published table inside a box, from either feature store (used to answer map clicks).

>>> rows = features_in_box(store, "regions_4f1a", ["nom"], (2, 48, 3, 49), limit=50)  # doctest: +SKIP
>>> rows[0]["fid"], rows[0]["properties"]["nom"]                                                       # doctest: +SKIP
(1, 'Île-de-France')
"""

from __future__ import annotations

from typing import Any

import pyogrio
from psycopg import sql

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
