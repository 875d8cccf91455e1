"""Reads of the embedded store's GeoPackage files: features in a box, their generalised levels, a field's values.

On a GeoPackage the R-tree is read directly with SQLite where it pays: opening the file through GDAL costs more
than a zoom-14 tile.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from kartenn.stores.base import GEOMETRY_COLUMN, Box

LAYER = "features"
FID = "fid"
Columns = tuple[list[int], dict[str, list[Any]], list[bytes | None]]


# Bytes of the envelope after a GeoPackage geometry header's 8 bytes, by the envelope code in its flags.
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def columns_in_box(path: Path, fields: list[str], bbox: Box, limit: int, table: str = LAYER) -> Columns | None:
    """None when the file has no R-tree of the expected name (then GDAL reads it)."""
    rtree = f"rtree_{table}_{GEOMETRY_COLUMN}"
    columns = ", ".join(['f."fid"', *('f."' + f.replace('"', '""') + '"' for f in fields), f'f."{GEOMETRY_COLUMN}"'])
    query = (f"SELECT {columns} FROM {table} f JOIN {rtree} r ON f.fid = r.id "  # noqa: S608 - quoted names
             "WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? LIMIT ?")
    uri = path.resolve().as_uri() + "?mode=ro"
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


def features_in_box(path: Path, fields: list[str], bbox: Box, limit: int) -> list[dict[str, Any]]:
    # GDAL uses the GeoPackage R-tree for the bbox filter.
    import pyogrio

    _, table = pyogrio.read_arrow(path, layer=LAYER, bbox=bbox, columns=fields,
                                  return_fids=True, max_features=limit)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    fids = columns.pop(FID, None) or columns.pop("OGC_FID", [])
    geoms = columns.pop(GEOMETRY_COLUMN, None) or [None] * len(fids)
    return [{"fid": fid, "properties": {name: values[i] for name, values in columns.items()}, "wkb": geoms[i]}
            for i, fid in enumerate(fids)]


def distinct_values(path: Path, field: str, limit: int) -> list[Any]:
    """Up to ``limit`` distinct non-null values of ``field``, sorted."""
    column = '"' + field.replace('"', '""') + '"'
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
        rows = conn.execute(f"SELECT DISTINCT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                            f"ORDER BY julianday({column}) LIMIT ?", (limit,)).fetchall()
    return [r[0] for r in rows]


def value_range(path: Path, field: str) -> tuple[Any, Any]:
    """(lowest, highest) non-null value of a date or date-time ``field``."""
    column = '"' + field.replace('"', '""') + '"'
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
        low = conn.execute(f"SELECT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                           f"ORDER BY julianday({column}) LIMIT 1").fetchone()
        high = conn.execute(f"SELECT {column} FROM {LAYER} WHERE {column} IS NOT NULL "  # noqa: S608
                            f"ORDER BY julianday({column}) DESC LIMIT 1").fetchone()
    return (low[0] if low else None, high[0] if high else None)
