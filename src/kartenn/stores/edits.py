"""Feature edits (insert, update, delete) in one transaction, on either store, then the dataset's new
count and extent. WFS-T uses it.

GeoPackage: plain sqlite3 writes; the R-tree triggers GDAL created call ST_IsEmpty/ST_MinX…, which are
registered here (on the blob's own envelope), and geometries are written as GeoPackage blobs (header
with the envelope, then ISO WKB). The generalised levels' rows of the features touched are written anew in the
same transaction. PostGIS: bound WKB, fids from the table's maximum under a lock; PostgreSQL computes the
levels' generated columns itself.

>>> new_fids = apply_edits(site.features, dataset, FeatureEdits(inserts=[({"nom": "x"}, point)]))  # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import dataclass, field
from typing import Any

import shapely

from kartenn.domain import Dataset
from kartenn.stores import display
from kartenn.stores.base import GEOMETRY_COLUMN, FeatureStore
from kartenn.stores.geopackage import LAYER, GeoPackageStore
from kartenn.stores.items import _gpkg_wkb
from kartenn.stores.postgis import FID, SCHEMA, PostGISStore

KEEP = object()  # an update that leaves the geometry as it is


@dataclass
class FeatureEdits:
    inserts: list[tuple[dict[str, Any], Any]] = field(default_factory=list)  # (properties, native geometry)
    updates: list[tuple[list[int], dict[str, Any], Any]] = field(default_factory=list)  # (fids, properties, geom)
    deletes: list[int] = field(default_factory=list)


@dataclass
class EditResult:
    inserted: list[int]
    updated: int
    deleted: int
    count: int
    extent: tuple[float, float, float, float] | None  # native CRS


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _shape(dataset: Dataset, geometry: Any) -> Any:
    """A geometry as the layer's type wants it: single parts promoted to multi."""
    if geometry is None:
        return None
    kind = dataset.geometry_type or ""
    if kind.startswith("Multi") and not geometry.geom_type.startswith("Multi"):
        maker = {"MultiPolygon": shapely.MultiPolygon, "MultiLineString": shapely.MultiLineString,
                 "MultiPoint": shapely.MultiPoint}.get(kind)
        if maker is not None:
            geometry = maker([geometry])
    return geometry


def apply_edits(store: FeatureStore, dataset: Dataset, edits: FeatureEdits) -> EditResult:
    known = {f.name for f in dataset.fields}
    for props in [p for p, _ in edits.inserts] + [p for _, p, _ in edits.updates]:
        unknown = set(props) - known
        if unknown:
            raise KeyError(sorted(unknown)[0])
    if isinstance(store, PostGISStore):
        return _postgis(store, dataset, edits)
    if isinstance(store, GeoPackageStore):
        return _geopackage(store, dataset, edits)
    raise TypeError(f"unknown feature store {type(store).__name__}")


# PostGIS --------------------------------------------------------------------------------------------------


def _postgis(store: PostGISStore, ds: Dataset, edits: FeatureEdits) -> EditResult:
    table = f"{_quote(SCHEMA)}.{_quote(ds.storage)}"
    geom, fid, srid = _quote(GEOMETRY_COLUMN), _quote(FID), ds.srid or 0
    inserted: list[int] = []
    updated = deleted = 0
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.transaction(), raw.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE".encode())
            next_fid = cur.execute(f"SELECT coalesce(max({fid}), 0) + 1 FROM {table}".encode()).fetchone()[0]
            for props, geometry in edits.inserts:
                names = [fid, geom, *(_quote(n) for n in props)]
                marks = ["%s", "ST_GeomFromWKB(%s, %s)", *(["%s"] * len(props))]
                wkb = shapely.to_wkb(_shape(ds, geometry)) if geometry is not None else None
                cur.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(marks)})".encode(),
                            [next_fid, wkb, srid, *props.values()])
                inserted.append(next_fid)
                next_fid += 1
            for fids, props, geometry in edits.updates:
                sets, params = [f"{_quote(n)} = %s" for n in props], list(props.values())
                if geometry is not KEEP:
                    sets.append(f"{geom} = ST_GeomFromWKB(%s, %s)")
                    params += [shapely.to_wkb(_shape(ds, geometry)) if geometry is not None else None, srid]
                if sets and fids:
                    cur.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE {fid} = ANY(%s)".encode(),
                                [*params, fids])
                    updated += cur.rowcount
            if edits.deletes:
                cur.execute(f"DELETE FROM {table} WHERE {fid} = ANY(%s)".encode(), [edits.deletes])
                deleted += cur.rowcount
            count, xmin, ymin, xmax, ymax = cur.execute(
                f"SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                f"(SELECT count(*) AS n, ST_Extent({geom}) AS e FROM {table}) x".encode()).fetchone()
    extent = (xmin, ymin, xmax, ymax) if xmin is not None else None
    return EditResult(inserted, updated, deleted, count, extent)


# GeoPackage -----------------------------------------------------------------------------------------------


def _blob(geometry: Any, srs_id: int) -> bytes | None:
    """A GeoPackage geometry blob: 'GP', version 0, flags (little endian, xy envelope), srs id, envelope, WKB."""
    if geometry is None:
        return None
    if geometry.is_empty:
        return b"GP\x00" + bytes([0b00010001]) + struct.pack("<i", srs_id) + shapely.to_wkb(geometry, flavor="iso")
    xmin, ymin, xmax, ymax = geometry.bounds
    return (b"GP\x00" + bytes([0b00000011]) + struct.pack("<i4d", srs_id, xmin, xmax, ymin, ymax)
            + shapely.to_wkb(geometry, flavor="iso"))


def _bounds(blob: bytes | None) -> tuple[float, float, float, float] | None:
    if blob is None:
        return None
    wkb = _gpkg_wkb(blob)
    geometry = shapely.from_wkb(wkb) if wkb else None
    if geometry is None or geometry.is_empty:
        return None
    return geometry.bounds


def _connect(store: GeoPackageStore, ds: Dataset) -> sqlite3.Connection:
    conn = sqlite3.connect(store.path(ds.storage), isolation_level=None, check_same_thread=False)
    conn.create_function("ST_IsEmpty", 1, lambda b: None if b is None else int(_bounds(b) is None),
                         deterministic=True)
    for name, index in (("ST_MinX", 0), ("ST_MinY", 1), ("ST_MaxX", 2), ("ST_MaxY", 3)):
        conn.create_function(name, 1, lambda b, i=index: (_bounds(b) or (None,) * 4)[i], deterministic=True)
    return conn


def _sync_levels(conn: sqlite3.Connection, ds: Dataset, tolerances: tuple[float, ...], fids: list[int],
                 srs_id: int) -> None:
    """The generalised levels' rows of ``fids``: removed, then made again from the features that are left."""
    if not tolerances or not fids:
        return
    names = [row[1] for row in conn.execute(f"PRAGMA table_info({LAYER})")]
    at = names.index(GEOMETRY_COLUMN)
    columns = ", ".join(map(_quote, names))
    for start in range(0, len(fids), 500):
        part = sorted(set(fids[start:start + 500]))
        marks = ", ".join("?" * len(part))
        rows = conn.execute(f"SELECT {columns} FROM {LAYER} WHERE fid IN ({marks})", part).fetchall()  # noqa: S608
        geoms = shapely.from_wkb([_gpkg_wkb(row[at]) for row in rows])
        for level, tolerance in enumerate(tolerances, start=1):
            table = display.table(LAYER, level)
            conn.execute(f"DELETE FROM {table} WHERE fid IN ({marks})", part)  # noqa: S608
            drawn = display.simplified(geoms, tolerance, ds.geometry_type or "")
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})",  # noqa: S608
                             [(*row[:at], _blob(g, srs_id), *row[at + 1:]) for row, g in zip(rows, drawn, strict=True)])


def _geopackage(store: GeoPackageStore, ds: Dataset, edits: FeatureEdits) -> EditResult:
    conn = _connect(store, ds)
    inserted: list[int] = []
    updated = deleted = 0
    try:
        srs_id = conn.execute("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?", [LAYER]).fetchone()[0]
        tolerances = display.geopackage_levels_in(conn, LAYER).tolerances  # on this connection: nothing waits
        conn.execute("BEGIN IMMEDIATE")
        for props, geometry in edits.inserts:
            names = [_quote(GEOMETRY_COLUMN), *(_quote(n) for n in props)]
            cursor = conn.execute(f"INSERT INTO {LAYER} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                  [_blob(_shape(ds, geometry), srs_id), *props.values()])
            inserted.append(int(cursor.lastrowid or 0))
        for fids, props, geometry in edits.updates:
            sets, params = [f"{_quote(n)} = ?" for n in props], list(props.values())
            if geometry is not KEEP:
                sets.append(f"{_quote(GEOMETRY_COLUMN)} = ?")
                params.append(_blob(_shape(ds, geometry), srs_id))
            for start in range(0, len(fids), 500):
                part = fids[start:start + 500]
                if sets and part:
                    cursor = conn.execute(f"UPDATE {LAYER} SET {', '.join(sets)} WHERE fid IN "
                                          f"({', '.join('?' * len(part))})", [*params, *part])
                    updated += cursor.rowcount
        for start in range(0, len(edits.deletes), 500):
            part = edits.deletes[start:start + 500]
            cursor = conn.execute(f"DELETE FROM {LAYER} WHERE fid IN ({', '.join('?' * len(part))})", part)
            deleted += cursor.rowcount
        touched = [*inserted, *(fid for fids, _, _ in edits.updates for fid in fids), *edits.deletes]
        _sync_levels(conn, ds, tolerances, touched, srs_id)
        count = conn.execute(f"SELECT count(*) FROM {LAYER}").fetchone()[0]
        box = conn.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM rtree_{LAYER}_{GEOMETRY_COLUMN}"
                           ).fetchone()
        if box and box[0] is not None:
            # Readers (GDAL, Mapnik) clip their requests to these extents: every level's follows the features'.
            for table in [LAYER, *(display.table(LAYER, k) for k in range(1, len(tolerances) + 1))]:
                conn.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, "
                             "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?", [*box, table])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    extent = tuple(box) if box and box[0] is not None else None
    return EditResult(inserted, updated, deleted, count, extent)  # type: ignore[arg-type]
