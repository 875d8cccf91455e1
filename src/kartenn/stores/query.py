"""What the services compute over a feature store's own reads: the generalised level a view draws from, and
features in several boxes at once (a view across the antimeridian).

>>> level_for_view(store, "regions_4f1a", (2, 48, 3, 49), 256, 256)   # doctest: +SKIP
0
"""

from __future__ import annotations

import math
from typing import Any

from kartenn.stores import display
from kartenn.stores.base import Box, Columns, FeatureStore


def level_for_view(store: FeatureStore, storage: str, box: Box, width: float, height: float) -> int:
    """The generalised level (0: the originals) a view of ``box`` (native CRS) on ``width`` × ``height`` pixels
    draws from: the coarsest within half a pixel (stores/display.py)."""
    pixel = min((box[2] - box[0]) / width, (box[3] - box[1]) / height)
    if not (math.isfinite(pixel) and pixel > 0):
        return 0
    return display.level_for(store.levels(storage).tolerances, pixel)


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

