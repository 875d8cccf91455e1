"""Geometry clean-up on Arrow batches: pick one geometry type per layer, repair invalid shapes, track extent."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely

from kartenn.errors import InvalidInput

# shapely type ids
POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, COLLECTION = 0, 1, 3, 4, 5, 6, 7
FAMILY = {POINT: "point", MULTIPOINT: "point", LINESTRING: "line", 2: "line", MULTILINESTRING: "line",
          POLYGON: "polygon", MULTIPOLYGON: "polygon"}
MULTI = {"point": (MULTIPOINT, POINT, shapely.multipoints),
         "line": (MULTILINESTRING, LINESTRING, shapely.multilinestrings),
         "polygon": (MULTIPOLYGON, POLYGON, shapely.multipolygons)}


def target_type(declared: str, sample: np.ndarray) -> str:
    """The OGC type a layer is stored as: polygons and lines always as Multi*, points as declared.

    >>> target_type("Polygon", np.array([]))
    'MultiPolygon'
    """
    base = declared.replace("3D ", "").split(" ")[0].lower()
    if base in ("polygon", "multipolygon", "curvepolygon", "multisurface"):
        return "MultiPolygon"
    if base in ("linestring", "multilinestring", "multicurve", "compoundcurve"):
        return "MultiLineString"
    if base == "point":
        return "Point"
    if base == "multipoint":
        return "MultiPoint"
    ids = set(shapely.get_type_id(sample[~shapely.is_missing(sample)]).tolist())
    families = {FAMILY.get(i, "mixed") for i in ids}
    if families == {"polygon"}:
        return "MultiPolygon"
    if families == {"line"}:
        return "MultiLineString"
    if families == {"point"}:
        return "Point" if ids == {POINT} else "MultiPoint"
    return "Geometry"


@dataclass
class GeometryStats:
    count: int = 0
    repaired: int = 0
    empty: int = 0
    bounds: list[float] = field(default_factory=lambda: [np.inf, np.inf, -np.inf, -np.inf])

    def extent(self) -> tuple[float, float, float, float] | None:
        if not np.isfinite(self.bounds).all():
            return None
        return (float(self.bounds[0]), float(self.bounds[1]), float(self.bounds[2]), float(self.bounds[3]))


def conform(geoms: np.ndarray, target: str, stats: GeometryStats, first_row: int) -> np.ndarray:
    """Repair invalid geometries (make_valid) and cast each to ``target``. Counts what it repaired."""
    present = ~shapely.is_missing(geoms)
    if target not in ("Point",):
        invalid = present & ~shapely.is_valid(geoms)
        n_invalid = int(invalid.sum())
        if n_invalid:
            method = "structure" if target == "MultiPolygon" else "linework"
            kwargs = {"keep_collapsed": False} if method == "structure" else {}
            geoms = geoms.copy()
            geoms[invalid] = shapely.make_valid(geoms[invalid], method=method, **kwargs)
            stats.repaired += n_invalid
    if target.startswith("Multi"):
        geoms = _to_multi(geoms, target, present, first_row)
    elif target == "Point":
        ids = shapely.get_type_id(geoms)
        bad = present & (ids != POINT)
        if bad.any():
            index = int(np.argmax(bad))
            raise InvalidInput(f"feature {first_row + index + 1} is a {geoms[index].geom_type} in a Point layer")
    stats.count += len(geoms)
    stats.empty += int((present & shapely.is_empty(geoms)).sum())
    if present.any():
        b = shapely.bounds(geoms[present])
        with np.errstate(invalid="ignore"):
            stats.bounds = [
                min(stats.bounds[0], np.nanmin(b[:, 0], initial=np.inf)),
                min(stats.bounds[1], np.nanmin(b[:, 1], initial=np.inf)),
                max(stats.bounds[2], np.nanmax(b[:, 2], initial=-np.inf)),
                max(stats.bounds[3], np.nanmax(b[:, 3], initial=-np.inf)),
            ]
    return geoms


def _to_multi(geoms: np.ndarray, target: str, present: np.ndarray, first_row: int) -> np.ndarray:
    family = {"MultiPolygon": "polygon", "MultiLineString": "line", "MultiPoint": "point"}[target]
    multi_id, single_id, build = MULTI[family]
    ids = shapely.get_type_id(geoms)
    todo = np.flatnonzero(present & (ids != multi_id))
    if len(todo) == 0:
        return geoms
    sub = geoms[todo]
    parts, index = shapely.get_parts(sub, return_index=True)
    # GeometryCollections (from make_valid) may nest multi-geometries: flatten once more.
    parts, inner = shapely.get_parts(parts, return_index=True)
    index = index[inner]
    part_ids = shapely.get_type_id(parts)
    keep = part_ids == single_id
    foreign = ~keep & ~shapely.is_empty(parts)
    if foreign.any():
        # Collapsed pieces from repair (lines or points in a polygon) are dropped; a whole foreign
        # geometry is an error, not something to throw away.
        lost = np.setdiff1d(np.arange(len(sub)), index[keep])
        whole = np.intersect1d(lost, index[foreign])
        if len(whole):
            row = first_row + int(todo[whole[0]])
            raise InvalidInput(f"feature {row + 1} is a {sub[whole[0]].geom_type} in a {target} layer")
    out = np.array([shapely.from_wkt(f"{target.upper()} EMPTY")] * len(sub), dtype=object)
    if keep.any():
        out = build(parts[keep], indices=index[keep], out=out)
    geoms = geoms.copy()
    geoms[todo] = out
    return geoms
