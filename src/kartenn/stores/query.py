"""Features of a published table inside a box, from either feature store (map clicks, vector tiles, time).

Each store reads in its own way (stores/geopackage_reads.py, stores/postgis_reads.py); these are the calls the
services make.

>>> rows = features_in_box(store, "regions_4f1a", ["nom"], (2, 48, 3, 49), limit=50)  # doctest: +SKIP
>>> rows[0]["fid"], rows[0]["properties"]["nom"]                                                       # doctest: +SKIP
(1, 'Île-de-France')
"""

from __future__ import annotations

import math
from typing import Any

from kartenn.stores import display
from kartenn.stores.base import Box, Columns, FeatureStore


def features_in_box(store: FeatureStore, storage: str, fields: list[str], bbox: Box,
                    limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` features whose bounding box meets ``bbox`` (native CRS): fid, properties, WKB geometry."""
    return store.features_in_box(storage, fields, bbox, limit)


def levels_of(store: FeatureStore, storage: str) -> display.Levels:
    """The display copies a published table has (stores/display.py)."""
    return store.levels(storage)


def level_for_view(store: FeatureStore, storage: str, box: Box, width: float, height: float) -> int:
    """The generalised level (0: the originals) a view of ``box`` (native CRS) on ``width`` × ``height`` pixels
    draws from: the coarsest within half a pixel (stores/display.py)."""
    pixel = min((box[2] - box[0]) / width, (box[3] - box[1]) / height)
    if not (math.isfinite(pixel) and pixel > 0):
        return 0
    return display.level_for(levels_of(store, storage).tolerances, pixel)


def columns_in_box(store: FeatureStore, storage: str, fields: list[str], boxes: list[Box], limit: int,
                   level: int = 0) -> Columns:
    """``features_in_box`` by column, in any of ``boxes`` (the parts of a view across the antimeridian), each
    feature once: (fids, {field: values}, WKB geometries), for code that works on them all at once (vector tiles),
    with the geometries of a generalised ``level`` (GeoPackage)."""
    if len(boxes) == 1:
        return store.columns_in_box(storage, fields, boxes[0], limit, level)
    rows: dict[int, tuple[Any, ...]] = {}
    for bbox in boxes:
        fids, columns, wkb = store.columns_in_box(storage, fields, bbox, limit, level)
        for i, fid in enumerate(fids):
            rows.setdefault(fid, (*(columns[f][i] for f in fields), wkb[i]))
    kept = list(rows.items())[:limit]
    return ([fid for fid, _ in kept], {f: [row[k] for _, row in kept] for k, f in enumerate(fields)},
            [row[-1] for _, row in kept])


def distinct_values(store: FeatureStore, storage: str, field: str, limit: int) -> list[Any]:
    """Up to ``limit`` distinct non-null values of ``field``, sorted (a time dimension's extent)."""
    return store.distinct_values(storage, field, limit)


def value_range(store: FeatureStore, storage: str, field: str) -> tuple[Any, Any]:
    """(lowest, highest) non-null value of a date or date-time ``field``."""
    return store.value_range(storage, field)
