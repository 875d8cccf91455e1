"""What is under a map pixel: the features of the store near it (not the colours of the image).

>>> hits = feature_info(site, dataset, "EPSG:3857", bbox, 256, 256, 120, 88, count=1)  # doctest: +SKIP
>>> hits[0]["id"], hits[0]["properties"]["nom"]                                         # doctest: +SKIP
(11, 'Bretagne')
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from kartenn.domain import Dataset
from kartenn.site import Site

Box = tuple[float, float, float, float]
CANDIDATES = 1000  # features read around the pixel before the exact distance test


def feature_info(site: Site, dataset: Dataset, crs: str, bbox: Box, width: int, height: int, i: int, j: int,
                 *, count: int = 1, tolerance: int = 4) -> list[dict[str, Any]]:
    """Features of ``dataset`` within ``tolerance`` pixels of pixel (i, j), nearest first, as GeoJSON-like dicts."""
    rx, ry = (bbox[2] - bbox[0]) / width, (bbox[3] - bbox[1]) / height
    x, y = bbox[0] + (i + 0.5) * rx, bbox[3] - (j + 0.5) * ry
    native = CRS.from_user_input(f"EPSG:{dataset.srid}" if dataset.srid else dataset.crs)
    to_native = Transformer.from_crs(_crs(crs), native, always_xy=True)
    if dataset.kind == "raster":
        return _raster_value(site, dataset, *to_native.transform(x, y))
    tx, ty = tolerance * rx, tolerance * ry
    box = to_native.transform_bounds(x - tx, y - ty, x + tx, y + ty, densify_pts=5)
    if not all(np.isfinite(box)):
        return []
    px, py = to_native.transform(x, y)
    reach = max(box[2] - box[0], box[3] - box[1]) / 2
    rows = site.features.features_in_box(dataset.storage, [f.name for f in dataset.fields], box, CANDIDATES)
    if not rows:
        return []
    geoms = shapely.from_wkb([r["wkb"] for r in rows])
    distances = shapely.distance(geoms, shapely.Point(px, py))
    order = [k for k in np.argsort(distances, kind="stable") if distances[k] <= reach][:count]
    return [{"type": "Feature", "id": rows[k]["fid"], "layer": dataset.id,
             "properties": {n: plain(v) for n, v in rows[k]["properties"].items()}} for k in order]


def _raster_value(site: Site, dataset: Dataset, x: float, y: float) -> list[dict[str, Any]]:
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(site.files.path(dataset.storage)) as src:
        row, col = src.index(x, y)
        if not (0 <= row < src.height and 0 <= col < src.width):
            return []
        values = src.read(window=Window(col, row, 1, 1), masked=True)[:, 0, 0]
    if np.ma.is_masked(values) and np.ma.getmaskarray(values).all():
        return []
    props = {f"band_{b + 1}": (None if np.ma.is_masked(v) else plain(v.item())) for b, v in enumerate(values)}
    return [{"type": "Feature", "id": f"{row},{col}", "layer": dataset.id, "properties": props}]


def _crs(code: str) -> CRS:
    return CRS.from_user_input("OGC:CRS84" if code.upper() == "CRS:84" else code)


def plain(value: Any) -> Any:
    """A value JSON can carry."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.generic):
        return value.item()
    return value
