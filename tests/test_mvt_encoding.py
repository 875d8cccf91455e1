"""The vectorised MVT encoder (kartenn.formats.mvt): decoded by mapbox-vector-tile, every geometry type and property
type comes back where it was; exterior rings wind clockwise on screen and holes the other way; what collapses under
one grid unit is dropped."""

from __future__ import annotations

import datetime as dt

import mapbox_vector_tile
import numpy as np
import shapely

from kartenn.formats import mvt

BOUNDS = (0.0, 0.0, 1000.0, 1000.0)  # tile CRS units; grid of 4096, y down


def encode(geoms: list, **columns: list) -> dict:
    grid = mvt.on_grid(np.array(geoms, dtype=object), BOUNDS, 4096, 64)
    body = mvt.encode_layer("t", grid, list(range(1, len(geoms) + 1)), columns or {"n": [None] * len(geoms)})
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": False}).get("t", {})


def back(feature: dict) -> shapely.Geometry:
    """A decoded geometry in the tile's CRS (the decoder puts y up)."""
    geom = shapely.geometry.shape(feature["geometry"])
    return shapely.transform(geom, lambda xy: xy * 1000.0 / 4096)


def test_every_geometry_type_comes_back_in_place():
    square = shapely.Polygon([(100, 100), (400, 100), (400, 400), (100, 400)], [[(200, 200), (200, 300), (300, 300),
                                                                                  (300, 200)]])
    parts = shapely.MultiPolygon([shapely.box(500, 500, 600, 600), shapely.box(700, 700, 800, 800)])
    line = shapely.LineString([(10, 10), (500, 900), (990, 10)])
    lines = shapely.MultiLineString([[(10, 500), (300, 500)], [(600, 500), (900, 520)]])
    points = shapely.MultiPoint([(50, 50), (950, 950)])
    geoms = [square, parts, line, lines, shapely.Point(500, 500), points]
    layer = encode(geoms, name=["a", "b", "c", "d", "e", "f"])
    assert layer["extent"] == 4096
    found = {f["properties"]["name"]: f for f in layer["features"]}
    assert set(found) == set("abcdef")
    for name, truth in zip("abcdef", geoms, strict=True):
        geom = back(found[name])
        assert found[name]["id"] == "abcdef".index(name) + 1
        assert shapely.get_type_id(geom) == shapely.get_type_id(truth), name
        assert geom.hausdorff_distance(truth) < 0.5, name  # within a grid unit (1000 / 4096)
    assert abs(back(found["a"]).area - square.area) / square.area < 0.01
    assert len(back(found["a"]).interiors) == 1


def test_rings_wind_as_the_spec_says():
    body = mvt.encode_layer("t", mvt.on_grid(np.array([shapely.Polygon(
        [(100, 100), (100, 400), (400, 400), (400, 100)], [[(200, 200), (300, 200), (300, 300), (200, 300)]])],
        dtype=object), BOUNDS, 4096, 64), [1], {})
    geometry = mapbox_vector_tile.decode(body)["t"]["features"][0]["geometry"]  # y flipped up by the decoder
    exterior, hole = (np.array(ring) for ring in geometry["coordinates"])

    def surveyor(ring: np.ndarray) -> float:  # in grid coordinates, y down, as encoded
        x, y = ring[:, 0], 4096 - ring[:, 1]
        return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))

    assert surveyor(exterior) > 0 > surveyor(hole)


def test_property_types_and_nulls():
    geoms = [shapely.Point(100, 100), shapely.Point(200, 200)]
    layer = encode(geoms, s=["é", None], i=[3, -7], f=[1.5, 2.0], b=[True, False],
                   d=[dt.date(2020, 5, 1), None], big=[2**40, 0])
    props = [f["properties"] for f in sorted(layer["features"], key=lambda f: f["id"])]
    assert props[0] == {"s": "é", "i": 3, "f": 1.5, "b": True, "d": "2020-05-01", "big": 2**40}
    assert props[1] == {"i": -7, "f": 2.0, "b": False, "big": 0}


def test_what_collapses_on_the_grid_is_dropped_and_outside_is_clipped():
    tiny = shapely.box(500, 500, 500.01, 500.01)  # far under one grid unit
    outside = shapely.box(-900, -900, -800, -800)
    big = shapely.box(-5000, -5000, 5000, 5000)
    grid = mvt.on_grid(np.array([tiny, outside, big, None], dtype=object), BOUNDS, 4096, 64)
    assert grid[1] is None and grid[3] is None
    layer = mapbox_vector_tile.decode(mvt.encode_layer("t", grid, [1, 2, 3, 4], {}))["t"]
    assert [f["id"] for f in layer["features"]] == [3]
    (x0, y0, x1, y1) = shapely.geometry.shape(layer["features"][0]["geometry"]).bounds
    assert (x0, y0, x1, y1) == (-64, -64, 4160, 4160)
    assert mvt.encode_layer("t", np.array([None], dtype=object), [1], {}) == b""
