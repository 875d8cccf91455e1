"""A view's box (a tile with its buffer, a map) as query boxes in a dataset's CRS that never wrap.

A box padded past ±180° or a pole makes ``transform_bounds`` wrap (xmin > xmax) or fold latitudes back, and a box
that crosses the antimeridian comes out of it wrapped: queried as such, it finds nothing or the wrong features.
So the box is first clamped to its CRS's domain (a tile matrix set's extent, the world in degrees), then
transformed; a geographic result crossing the antimeridian is split in two, one part each side. ``both_sides``
redraws on both sides of the world the geometries that crossed the antimeridian uncut in their own CRS (a Pacific
one), which projecting alone would stretch from one side of the world to the other.

>>> native_boxes("EPSG:3857", "EPSG:4326", (-2.1e7, 0, 0, 2.1e7), (-2e7, -2e7, 2e7, 2e7))  # doctest: +ELLIPSIS
[(-179.66..., 0.0, 0.0, 85.0...)]
>>> [tuple(round(v) for v in b) for b in native_boxes("EPSG:3832", "EPSG:4326", (3e6, -1e6, 4e6, 1e6))]
[(177, -9, 186, 9), (-183, -9, -174, 9)]
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import shapely
import shapely.affinity
from pyproj import CRS, Transformer

Box = tuple[float, float, float, float]
WORLD = (-180.0, -90.0, 180.0, 90.0)


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached x/y transformer between two CRSs (maps, tiles and WMTS share it)."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def clamp(box: Box, domain: Box) -> Box | None:
    """``box`` within ``domain``; None when nothing is left."""
    x0, y0 = max(box[0], domain[0]), max(box[1], domain[1])
    x1, y1 = min(box[2], domain[2]), min(box[3], domain[3])
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


@lru_cache(maxsize=64)
def domain_of(crs: str) -> Box | None:
    """Where a CRS's coordinates mean something, in its own units (x/y): the world for a geographic CRS, its area
    of use for one that spans every longitude (Web Mercator's ±85.06°); None otherwise (not clamped)."""
    found = CRS.from_user_input(crs)
    if found.is_geographic:
        return WORLD
    area = found.area_of_use
    if area is None or area.west > -179.9 or area.east < 179.9:
        return None
    try:
        box = transformer("EPSG:4326", crs).transform_bounds(*area.bounds, densify_pts=21)
    except Exception:
        return None
    return box if all(map(math.isfinite, box)) and box[0] < box[2] else None


def native_boxes(src: str, dst: str, box: Box, domain: Box | None = None) -> list[Box]:
    """``box`` (x/y in ``src``) as boxes in ``dst`` that cover it: one, or two across the antimeridian; none when
    it lies outside ``domain`` (by default the domain of ``src``) or where ``dst`` is undefined."""
    domain = domain or domain_of(src)
    part = clamp(box, domain) if domain else box
    if part is None:
        return []
    try:
        x0, y0, x1, y1 = transformer(src, dst).transform_bounds(*part, densify_pts=21)
    except Exception:
        return []
    if not all(map(math.isfinite, (x0, y0, x1, y1))):
        return []
    if x0 > x1:  # a geographic result that crossed the antimeridian: each side, whatever its longitude range
        return [(x0, y0, x1 + 360, y1), (x0 - 360, y0, x1, y1)]
    return [(x0, y0, x1, y1)]


def both_sides(geoms: np.ndarray, width: float) -> np.ndarray:
    """Geometries in a world CRS ``width`` wide (x/y), where one drawn from one side of the world to the other (it
    crosses the antimeridian in the CRS it was read in) is redrawn where it lies: each of its rings and lines made
    continuous, and copied one world east or west where it passes an edge. A ring around a pole is kept."""
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    bounds = shapely.bounds(geoms)
    for i in np.flatnonzero(bounds[:, 2] - bounds[:, 0] > width / 2):
        out[i] = _both_sides(geoms[i], width)
    return out


def _continuous(coords: np.ndarray, width: float, closed: bool) -> np.ndarray | None:
    x = np.unwrap(coords[:, 0], period=width)
    if closed and abs(x[-1] - x[0]) > width / 2:
        return None  # around a pole
    return np.column_stack([x, coords[:, 1]])


def _both_sides(geom: shapely.Geometry, width: float) -> shapely.Geometry:
    parts = []
    for part in shapely.get_parts(geom):
        if isinstance(part, shapely.Polygon):
            rings = [_continuous(shapely.get_coordinates(r), width, True) for r in (part.exterior, *part.interiors)]
            moved = part if any(r is None for r in rings) else shapely.Polygon(rings[0], rings[1:])
        elif isinstance(part, shapely.LineString):
            moved = shapely.LineString(_continuous(shapely.get_coordinates(part), width, False))
        else:
            moved = part
        x0, _, x1, _ = moved.bounds
        parts += [moved, *([shapely.affinity.translate(moved, -width)] if x1 > width / 2 else []),
                  *([shapely.affinity.translate(moved, width)] if x0 < -width / 2 else [])]
    if all(isinstance(p, shapely.Polygon) for p in parts):
        return shapely.MultiPolygon(parts)
    if all(isinstance(p, shapely.LineString) for p in parts):
        return shapely.MultiLineString(parts)
    return shapely.GeometryCollection(parts)
