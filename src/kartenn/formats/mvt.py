"""Mapbox Vector Tile encoding (spec 2.1), vectorised: a whole layer's geometries become MVT commands with shapely 2
and numpy at once, and the protobuf bytes are laid out with numpy too. No per-vertex Python.

``on_grid`` puts geometries (in the tile's CRS) on the tile's grid, y pointing down, clipped to the tile plus a
buffer and simplified under half a grid unit, as PostGIS's ST_AsMVTGeom does. ``encode_layer`` snaps them to whole
units, drops repeated points and the rings (and features) that collapse — a sub-pixel commune at zoom 6 —, winds
exterior rings clockwise on screen and holes the other way, and writes one layer; tiles with several layers are
these bytes concatenated.

>>> grid = on_grid(shapely.from_wkt(["POLYGON ((0 0, 10 0, 10 10, 0 0))"]), (0, 0, 10, 10), 4096, 64)
>>> tile = encode_layer("demo", grid, [7], {"name": ["a"]})
>>> import mapbox_vector_tile
>>> decoded = mapbox_vector_tile.decode(tile)["demo"]
>>> decoded["features"][0]["id"], decoded["features"][0]["properties"], decoded["features"][0]["geometry"]["type"]
(7, {'name': 'a'}, 'Polygon')
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
from shapely import GeometryType

POINT, LINESTRING, POLYGON = 1, 2, 3  # MVT GeomType
MOVE_TO, LINE_TO, CLOSE_PATH = 1, 2, 7
_FAMILY = {GeometryType.POINT: POINT, GeometryType.MULTIPOINT: POINT, GeometryType.LINESTRING: LINESTRING,
           GeometryType.MULTILINESTRING: LINESTRING, GeometryType.LINEARRING: LINESTRING,
           GeometryType.POLYGON: POLYGON, GeometryType.MULTIPOLYGON: POLYGON}
_DIMENSION = {POINT: 0, LINESTRING: 1, POLYGON: 2}


def on_grid(geoms: np.ndarray, bounds: tuple[float, float, float, float], extent: int, buffer: int,
            transform: Any = None) -> np.ndarray:
    """``geoms`` in grid units of the tile (0…extent, y down), clipped to the tile plus ``buffer`` units and
    simplified under half a unit (as ST_AsMVTGeom does); None where nothing is left. ``transform(x, y) -> (x, y)``
    first takes coordinates to the tile's CRS. ``encode_layer`` snaps them to whole units."""
    left, bottom, right, top = bounds
    sx, sy = extent / (right - left), extent / (top - bottom)

    def to_grid(xy: np.ndarray) -> np.ndarray:
        x, y = (xy[:, 0], xy[:, 1]) if transform is None else transform(xy[:, 0], xy[:, 1])
        return np.column_stack([(np.asarray(x) - left) * sx, (top - np.asarray(y)) * sy])

    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    out = np.full(len(geoms), None, dtype=object)
    if not present.any():
        return out
    grid = shapely.transform(shapely.force_2d(geoms[present]), to_grid)
    grid = shapely.clip_by_rect(grid, -buffer, -buffer, extent + buffer, extent + buffer)
    grid = shapely.simplify(grid, 0.5, preserve_topology=False)
    grid[shapely.is_empty(grid)] = None
    out[present] = grid
    return out


def encode_layer(name: str, grid: np.ndarray, ids: Sequence[int | None], columns: dict[str, Sequence[Any]],
                 extent: int = 4096) -> bytes:
    """One MVT layer (as a whole tile message) of the features whose geometry in ``grid`` is not None; empty bytes
    when there are none. ``ids`` are the feature ids, ``columns`` their properties (None: absent)."""
    grid = np.asarray(grid, dtype=object)
    keep = ~shapely.is_missing(grid)
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []  # (feature rows, geometry bytes, lengths, type)
    types = shapely.get_type_id(grid)
    for family in (POINT, LINESTRING, POLYGON):
        rows = np.flatnonzero(keep & np.isin(types, [int(t) for t, f in _FAMILY.items() if f == family]))
        collections = np.flatnonzero(keep & (types == int(GeometryType.GEOMETRYCOLLECTION)))
        parts = grid[rows]
        if len(collections):  # what a clip left as a collection: its parts of this dimension
            picked = [_of_dimension(grid[i], _DIMENSION[family]) for i in collections]
            more = [(i, g) for i, g in zip(collections, picked, strict=True) if g is not None]
            if more:
                rows = np.concatenate([rows, [i for i, _ in more]]).astype(np.int64)
                parts = np.concatenate([parts, np.array([g for _, g in more], dtype=object)])
        if len(rows):
            data, lengths = _geometry_stream(parts, family)
            left = lengths > 0  # what collapsed on the grid (a sub-pixel polygon) is not a feature
            chunks.append((rows[left], data, lengths[left], family))
    if not chunks:
        return b""
    rows = np.concatenate([c[0] for c in chunks])
    geom_bytes = np.concatenate([c[1] for c in chunks])
    geom_lengths = np.concatenate([c[2] for c in chunks])
    geom_types = np.concatenate([np.full(len(c[0]), c[3], dtype=np.uint64) for c in chunks])
    keys, values, tag_bytes, tag_lengths = _tags(rows, columns)
    fids = np.array([ids[i] if ids[i] is not None and ids[i] >= 0 else 0 for i in rows], dtype=np.uint64)
    features = _features(fids, tag_bytes, tag_lengths, geom_types, geom_bytes, geom_lengths)
    layer = b"".join([
        b"\x78\x02",  # version 2
        _field_bytes(1, name.encode()),
        features,
        b"".join(_field_bytes(3, k.encode()) for k in keys),
        b"".join((bytes((0x22, len(v))) if len(v) < 128 else b"\x22" + _varint(len(v))) + v for v in values),
        b"\x28" + _varint(extent),
    ])
    return _field_bytes(3, layer)


def _of_dimension(geom: Any, dimension: int) -> Any:
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == dimension and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {0: shapely.MultiPoint, 1: shapely.MultiLineString,
                                             2: shapely.MultiPolygon}[dimension](parts)


def _geometry_stream(geoms: np.ndarray, family: int) -> tuple[np.ndarray, np.ndarray]:
    """The varint bytes of every feature's command integers, one after the other, and each feature's byte count
    (0: nothing left of it on the grid)."""
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    xy = np.rint(coords).astype(np.int64)
    n = len(geoms)
    if family == POINT:
        per_feature = np.arange(n + 1) if kind == GeometryType.POINT else offsets[0]
        counts = np.diff(per_feature)
        feature_of_point = np.repeat(np.arange(n), counts)
        sizes = 1 + 2 * counts  # one MoveTo with every point of the feature
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        out = np.zeros(int(sizes.sum()), dtype=np.uint64)
        out[starts] = MOVE_TO | (counts.astype(np.uint64) << np.uint64(3))
        slot = starts[feature_of_point] + 1 + 2 * (np.arange(len(xy)) - per_feature[feature_of_point])
        deltas = _deltas(xy, feature_of_point)
        out[slot], out[slot + 1] = _zigzag(deltas[:, 0]), _zigzag(deltas[:, 1])
        data, nbytes = varints(out)
        return data, np.bincount(np.repeat(np.arange(n), sizes), weights=nbytes, minlength=n).astype(np.int64)
    closed = family == POLYGON
    ring_offsets = offsets[0]
    if kind in (GeometryType.LINESTRING, GeometryType.POLYGON):
        feature_rings = offsets[1] if kind == GeometryType.POLYGON else np.arange(n + 1)
        part_rings = feature_rings
    else:  # Multi*: rings (or lines) of parts, parts of features
        part_rings = offsets[1]
        feature_rings = offsets[1][offsets[2]] if kind == GeometryType.MULTIPOLYGON else offsets[1]
    rings = len(ring_offsets) - 1
    ring_of_point = np.repeat(np.arange(rings), np.diff(ring_offsets))
    # Snapped to whole units: a point on the one before it (or, in a ring, on its first) goes.
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.any(xy[1:] != xy[:-1], axis=1)
    keep[ring_offsets[:-1][np.diff(ring_offsets) > 0]] = True
    if closed:
        keep[ring_offsets[1:][np.diff(ring_offsets) > 0] - 1] = False  # the closing point: ClosePath draws it
        last = _last_kept(keep, ring_offsets)
        ok = last >= 0
        keep[last[ok]] = np.any(xy[last[ok]] != xy[ring_offsets[:-1][ok]], axis=1)
    kept_len = np.bincount(ring_of_point[keep], minlength=rings)
    if closed:
        area = _ring_areas(xy[keep], ring_of_point[keep], rings)
        exterior = np.zeros(rings, dtype=bool)
        exterior[part_rings[:-1][np.diff(part_rings) > 0]] = True
        valid = (kept_len >= 3) & (area != 0)
        # A polygon whose exterior collapsed takes its holes with it.
        part_of_ring = np.repeat(np.arange(len(part_rings) - 1), np.diff(part_rings))
        valid &= valid[part_rings[:-1][part_of_ring]]
        reverse = valid & ((area > 0) != exterior)  # exteriors positive (clockwise on screen), holes negative
    else:
        valid = kept_len >= 2
        reverse = np.zeros(rings, dtype=bool)
    keep &= valid[ring_of_point]
    kept_len = np.where(valid, kept_len, 0)
    points, ring_of_kept = xy[keep], ring_of_point[keep]
    ring_first = np.concatenate([[0], np.cumsum(kept_len)[:-1]])
    local = np.arange(len(points)) - ring_first[ring_of_kept]
    flip = reverse[ring_of_kept]
    if flip.any():  # the same first point, then the others backwards
        backwards = np.where(local == 0, 0, kept_len[ring_of_kept] - local)
        points = points[np.where(flip, ring_first[ring_of_kept] + backwards, np.arange(len(points)))]
    feature_of_ring = np.repeat(np.arange(n), np.diff(feature_rings))
    deltas = _deltas(points, feature_of_ring[ring_of_kept])
    live = kept_len > 0
    sizes = np.where(live, 2 * kept_len + (3 if closed else 2), 0)  # MoveTo x y LineTo (x y)… [ClosePath]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros(int(sizes.sum()), dtype=np.uint64)
    out[starts[live]] = MOVE_TO | (1 << 3)
    out[starts[live] + 3] = LINE_TO | ((kept_len[live] - 1).astype(np.uint64) << np.uint64(3))
    if closed:
        out[starts[live] + sizes[live] - 1] = CLOSE_PATH | (1 << 3)
    slot = starts[ring_of_kept] + np.where(local == 0, 1, 2 + 2 * local)
    out[slot], out[slot + 1] = _zigzag(deltas[:, 0]), _zigzag(deltas[:, 1])
    data, nbytes = varints(out)
    return data, np.bincount(np.repeat(feature_of_ring, sizes), weights=nbytes, minlength=n).astype(np.int64)


def _last_kept(keep: np.ndarray, ring_offsets: np.ndarray) -> np.ndarray:
    """The index of each ring's last kept point other than its first (-1 when there is none)."""
    rings = len(ring_offsets) - 1
    if not len(keep):
        return np.full(rings, -1)
    index = np.where(keep, np.arange(len(keep)), -1)
    starts = ring_offsets[:-1][np.diff(ring_offsets) > 0]
    index[starts] = -1
    running = np.maximum.accumulate(index)
    last = running[np.maximum(ring_offsets[1:] - 1, 0)]
    return np.where((last > ring_offsets[:-1]) & (np.diff(ring_offsets) > 0), last, -1)


def _ring_areas(points: np.ndarray, ring_of_point: np.ndarray, rings: int) -> np.ndarray:
    """Twice the signed area of each ring (surveyor's formula, closed from its last point to its first)."""
    if not len(points):
        return np.zeros(rings, dtype=np.int64)
    following = np.arange(1, len(points) + 1)
    ends = np.concatenate([np.flatnonzero(np.diff(ring_of_point)), [len(points) - 1]])
    firsts = np.concatenate([[0], ends[:-1] + 1])
    following[ends] = firsts
    x, y = points[:, 0], points[:, 1]
    cross = x * y[following] - x[following] * y
    return np.bincount(ring_of_point, weights=cross, minlength=rings).astype(np.int64)


def _deltas(points: np.ndarray, feature_of_point: np.ndarray) -> np.ndarray:
    """Each point minus the one before it in its feature (the first from the origin: the cursor starts at 0, 0)."""
    deltas = np.diff(points, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    if len(points):
        first = np.ones(len(points), dtype=bool)
        first[1:] = feature_of_point[1:] != feature_of_point[:-1]
        deltas[first] = points[first]
    return deltas


def _zigzag(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of unsigned ``values``: (all the bytes, the byte count of each value)."""
    v = np.asarray(values, dtype=np.uint64)
    if not len(v):
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
    count = np.ones(len(v), dtype=np.int64)
    for k in range(1, 10):
        count += v >= np.uint64(1 << (7 * k))
    width = int(count.max())
    shifts = (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]
    groups = ((v[:, None] >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    column = np.arange(width)[None, :]
    groups |= np.where(column < count[:, None] - 1, 0x80, 0).astype(np.uint8)
    return groups[column < count[:, None]], count


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _value(value: Any) -> bytes | None:
    """A Value message (string, double, uint, sint or bool); None for what has no value."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return b"\x38" + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        if 0 <= value < 1 << 64:
            return b"\x28" + _varint(value)
        if -(1 << 63) <= value < 0:
            return b"\x30" + _varint((value << 1) ^ (value >> 63))
        return _field_bytes(1, str(value).encode())
    if isinstance(value, float | Decimal):
        return b"\x19" + struct.pack("<d", float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        value = value.isoformat()
    elif isinstance(value, bytes):
        value = value.hex()
    return _field_bytes(1, str(value).encode())


def _short_string(value: str) -> bytes | None:
    """A string Value message, fast for the usual short names and codes."""
    data = value.encode()
    if len(data) < 126:
        return bytes((0x0A, len(data))) + data
    return _field_bytes(1, data)


def _tags(rows: np.ndarray, columns: dict[str, Sequence[Any]]) -> tuple[list[str], list[bytes], np.ndarray,
                                                                         np.ndarray]:
    """(keys, encoded values, every feature's packed tag bytes one after the other, each feature's byte count)."""
    keys = list(columns)
    values: list[bytes] = []
    index: dict[bytes, int] = {}
    pairs = np.full((len(rows), 2 * len(keys)), -1, dtype=np.int64)
    for k, name in enumerate(keys):
        column = columns[name]
        seen: dict[Any, int] = {}
        for j, row in enumerate(rows.tolist()):
            value = column[row]
            if value is None:
                continue
            try:
                at = seen.get((type(value), value))
            except TypeError:  # unhashable: encoded each time
                at = None
            if at is None:
                encoded = _short_string(value) if type(value) is str else _value(value)
                if encoded is None:
                    continue
                at = index.get(encoded)
                if at is None:
                    at = index[encoded] = len(values)
                    values.append(encoded)
                try:
                    seen[(type(value), value)] = at
                except TypeError:
                    pass
            pairs[j, 2 * k], pairs[j, 2 * k + 1] = k, at
    present = pairs >= 0
    data, nbytes = varints(pairs[present])
    feature = np.repeat(np.arange(len(rows)), present.sum(axis=1))
    return keys, values, data, np.bincount(feature, weights=nbytes, minlength=len(rows)).astype(np.int64)


def _features(fids: np.ndarray, tag_bytes: np.ndarray, tag_lengths: np.ndarray, types: np.ndarray,
              geom_bytes: np.ndarray, geom_lengths: np.ndarray) -> bytes:
    """Every Feature, each as field 2 of the layer: id, packed tags, type, packed geometry."""
    n = len(fids)
    # The parts of one feature around its tags and its geometry: [0x08 id 0x12 tag-length] tags [0x18 type 0x22
    # geometry-length] geometry; the feature's own length goes in front of it all.
    inner_head = np.column_stack([np.full(n, 0x08, dtype=np.uint64), fids, np.full(n, 0x12, dtype=np.uint64),
                                  tag_lengths.astype(np.uint64)])
    middle = np.column_stack([np.full(n, 0x18, dtype=np.uint64), types, np.full(n, 0x22, dtype=np.uint64),
                              geom_lengths.astype(np.uint64)])
    head_bytes, head_counts = varints(inner_head.ravel())
    middle_bytes, middle_counts = varints(middle.ravel())
    head_len = head_counts.reshape(n, 4).sum(axis=1)
    middle_len = middle_counts.reshape(n, 4).sum(axis=1)
    size = head_len + tag_lengths + middle_len + geom_lengths
    outer_bytes, outer_counts = varints(np.column_stack([np.full(n, 0x12, dtype=np.uint64),
                                                         size.astype(np.uint64)]).ravel())
    outer_len = outer_counts.reshape(n, 2).sum(axis=1)
    # Gather the five segments of every feature, feature after feature, from one buffer.
    source = np.concatenate([outer_bytes, head_bytes, tag_bytes, middle_bytes, geom_bytes])
    bases = np.cumsum([0, len(outer_bytes), len(head_bytes), len(tag_bytes), len(middle_bytes)])
    lengths = np.column_stack([outer_len, head_len, tag_lengths, middle_len, geom_lengths])
    starts = np.column_stack([bases[i] + np.concatenate([[0], np.cumsum(lengths[:, i])[:-1]]) for i in range(5)])
    lengths, starts = lengths.ravel(), starts.ravel()
    total = int(lengths.sum())
    out_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gather = np.repeat(starts - out_starts, lengths) + np.arange(total)
    return source[gather].tobytes()
