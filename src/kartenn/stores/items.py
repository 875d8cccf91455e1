"""Pages of features for OGC API Features, from either store, in WGS 84 (CRS84).

Only bound parameters reach SQL; column names come from the dataset's own field list.

>>> page = query_items(site.features, dataset, ItemQuery(bbox=(-5, 47, -1, 49), limit=10))  # doctest: +SKIP
>>> page.matched, len(page.rows)                                                           # doctest: +SKIP
(1, 1)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from psycopg import sql
from pyproj import CRS, Transformer

from kartenn.domain import Dataset
from kartenn.stores.base import GEOMETRY_COLUMN, FeatureStore
from kartenn.stores.cql import to_sql
from kartenn.stores.geopackage import LAYER, GeoPackageStore
from kartenn.stores.postgis import FID, SCHEMA, PostGISStore

Box = tuple[float, float, float, float]
ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


@dataclass
class ItemQuery:
    bbox: Box | None = None  # CRS84
    equals: dict[str, Any] = field(default_factory=dict)  # field name → value of the field's type
    offset: int = 0
    limit: int = 10
    fid: int | None = None
    filter: Any = None  # a pygeofilter AST (CQL2)


@dataclass
class Page:
    matched: int
    rows: list[dict[str, Any]]  # fid, properties, geometry (shapely, CRS84)


def query_items(store: FeatureStore, dataset: Dataset, query: ItemQuery) -> Page:
    if isinstance(store, PostGISStore):
        return _postgis(store, dataset, query)
    if isinstance(store, GeoPackageStore):
        return _geopackage(store, dataset, query)
    raise TypeError(f"unknown feature store {type(store).__name__}")


# PostGIS --------------------------------------------------------------------------------------------------


def _postgis(store: PostGISStore, ds: Dataset, q: ItemQuery) -> Page:
    table = sql.Identifier(SCHEMA, ds.storage)
    geom = sql.Identifier(GEOMETRY_COLUMN)
    where, params = [sql.SQL("TRUE")], []
    if q.bbox is not None:
        # A bound SRID keeps the envelope constant, so the GIST index serves '&&'; ST_SRID(geom) is per row
        # and turns every bbox query into a sequential scan.
        srid = sql.SQL("%s") if ds.srid else sql.SQL("ST_SRID({g})").format(g=geom)
        where.append(sql.SQL("{g} && ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), {s}) AND "
                             "ST_Intersects({g}, ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 4326), {s}))"
                             ).format(g=geom, s=srid))
        params += [*q.bbox, *([ds.srid] if ds.srid else []), *q.bbox, *([ds.srid] if ds.srid else [])]
    for name, value in q.equals.items():
        where.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
        params.append(value)
    if q.fid is not None:
        where.append(sql.SQL("{} = %s").format(sql.Identifier(FID)))
        params.append(q.fid)
    if q.filter is not None:
        condition_sql, values = to_sql(q.filter, _queryables(ds), "%s")
        where.append(sql.SQL(condition_sql))  # quoted known identifiers and placeholders only
        params += values
    condition = sql.SQL(" AND ").join(where)
    columns = sql.SQL(", ").join(sql.Identifier(f.name) for f in ds.fields)
    to_wgs84 = sql.SQL("ST_AsBinary(ST_Transform({g}, 4326))" if ds.srid else "ST_AsBinary({g})").format(g=geom)
    select = sql.SQL("SELECT {fid}, {wkb}{sep}{cols} FROM {t} WHERE {c} ORDER BY {fid} LIMIT %s OFFSET %s").format(
        fid=sql.Identifier(FID), wkb=to_wgs84, sep=sql.SQL(", ") if ds.fields else sql.SQL(""), cols=columns,
        t=table, c=condition)
    count = sql.SQL("SELECT count(*) FROM {t} WHERE {c}").format(t=table, c=condition)
    with store.engine.connect() as conn:
        with conn.connection.driver_connection.cursor() as cur:
            matched = cur.execute(count, params).fetchone()[0]
            cur.execute(select, [*params, q.limit, q.offset])
            rows = [_row(ds, r[0], bytes(r[1]) if r[1] is not None else None, r[2:]) for r in cur]
    return Page(matched, rows)


# GeoPackage -------------------------------------------------------------------------------------------


def _geopackage(store: GeoPackageStore, ds: Dataset, q: ItemQuery) -> Page:
    path = store.path(ds.storage)
    quote = '"{}"'.format
    names = [f.name for f in ds.fields]
    where, params = ["1"], []
    box_native = None
    if q.bbox is not None:
        box_native = shapely.box(*_to_native(ds, q.bbox))
        where.append(f"f.fid IN (SELECT id FROM rtree_{LAYER}_{GEOMETRY_COLUMN} "
                     "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)")
        xmin, ymin, xmax, ymax = box_native.bounds
        params += [xmin, xmax, ymin, ymax]
    for name, value in q.equals.items():
        where.append(f"f.{quote(name.replace(chr(34), ''))} = ?")
        params.append(value)
    if q.fid is not None:
        where.append("f.fid = ?")
        params.append(q.fid)
    if q.filter is not None:
        condition_sql, values = to_sql(q.filter, _queryables(ds), "?")
        where.append(condition_sql)
        params += values
    columns = "".join(f", f.{quote(n)}" for n in names)
    query = f"SELECT f.fid, f.{GEOMETRY_COLUMN}{columns} FROM {LAYER} f WHERE {' AND '.join(where)} ORDER BY f.fid"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        conn.execute("PRAGMA case_sensitive_like = ON")  # CQL2 LIKE is case-sensitive, as in PostgreSQL
        if box_native is None:
            matched = conn.execute(f"SELECT count(*) FROM {LAYER} f WHERE {' AND '.join(where)}", params).fetchone()[0]
            cursor = conn.execute(query + " LIMIT ? OFFSET ?", [*params, q.limit, q.offset])
            raw = cursor.fetchall()
        else:
            # The R-tree gives candidates by envelope; the exact test is shapely's.
            matched, raw = 0, []
            cursor = conn.execute(query, params)
            while chunk := cursor.fetchmany(5000):
                geoms = shapely.from_wkb([_gpkg_wkb(r[1]) for r in chunk])
                for row, hit in zip(chunk, shapely.intersects(geoms, box_native), strict=True):
                    if hit:
                        if q.offset <= matched < q.offset + q.limit:
                            raw.append(row)
                        matched += 1
    rows = []
    transformer = _transformer(ds)
    for r in raw:
        wkb = _gpkg_wkb(r[1])
        rows.append(_row(ds, r[0], wkb, r[2:], transformer))
    return Page(matched, rows)


def _queryables(ds: Dataset) -> dict[str, str]:
    return {f.name: f.type for f in ds.fields}


def _gpkg_wkb(blob: bytes | None) -> bytes | None:
    """The WKB inside a GeoPackage geometry blob (header: 'GP', version, flags, srs id, envelope)."""
    if blob is None:
        return None
    flags = blob[3]
    return bytes(blob[8 + ENVELOPE_BYTES[(flags >> 1) & 0b111]:])


def _transformer(ds: Dataset) -> Transformer | None:
    if ds.srid == 4326:
        return None
    return Transformer.from_crs(CRS.from_user_input(ds.crs), CRS.from_epsg(4326), always_xy=True)


def _to_native(ds: Dataset, box: Box) -> Box:
    if ds.srid == 4326:
        return box
    t = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_user_input(ds.crs), always_xy=True)
    return t.transform_bounds(*box, densify_pts=21)


def _row(ds: Dataset, fid: int, wkb: bytes | None, values: tuple, transformer: Transformer | None = None) -> dict:
    geom = shapely.from_wkb(wkb) if wkb else None
    if geom is not None and transformer is not None:
        geom = shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    props = {f.name: _json_value(v) for f, v in zip(ds.fields, values, strict=True)}
    return {"fid": fid, "properties": props, "geometry": geom}


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
