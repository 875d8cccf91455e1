"""Tiles across the antimeridian and at the poles hold the features they should, on both stores: every zoom-1
tile of the world and the first and last columns at zooms 2–5, in every tile matrix set and tile path, decoded and
compared with the features' real geometry."""

from __future__ import annotations

import io

import mapbox_vector_tile
import morecantile
import numpy as np
import pyogrio
import pytest
import shapely
from PIL import Image
from pyproj import Transformer

from conftest import shared
from kartenn.services import boxes, tiles
from kartenn.services.publish import publish_file

COUNTRIES = "natural-earth/naturalearth_lowres/naturalearth_lowres.shp"
PLACES = "natural-earth/ne_110m_populated_places_simple.geojson"
DETAILED = "natural-earth/world-atlas-countries-10m.topojson"
MERCATOR_LAT = 85.0511287798066
EQUAL_EARTH = "EPSG:8857"  # a projected CRS of the whole world


def publish(site, path, **kwargs) -> str:
    outcomes = publish_file(site, path, **kwargs)
    assert outcomes[0].error is None, outcomes[0].error
    return outcomes[0].dataset.id


def source(rel: str, name: str, crs: str = "EPSG:4326") -> dict[str, shapely.Geometry]:
    """The features of a file by ``name``, their parts of one name merged."""
    frame = pyogrio.read_dataframe(shared(rel))
    if frame.crs is None:
        frame = frame.set_crs(crs)
    frame = frame.to_crs(4326)
    return {n: shapely.union_all(shapely.make_valid(g.geometry.values)) for n, g in frame.groupby(name)}


def in_tms(geoms: dict[str, shapely.Geometry], tms: morecantile.TileMatrixSet) -> dict[str, shapely.Geometry]:
    """Geometries in lon/lat put into the matrix set's CRS (Web Mercator: cut at its latitude limit first)."""
    epsg = tms.crs._pyproj_crs.to_epsg()
    if epsg is None:  # CRS84
        return geoms
    to = Transformer.from_crs(4326, epsg, always_xy=True)
    out = {}
    for name, geom in geoms.items():
        if epsg == 3857:
            geom = shapely.clip_by_rect(geom, -180, -MERCATOR_LAT, 180, MERCATOR_LAT)
        elif epsg == 2154:  # Lambert-93 means something over Europe only
            geom = shapely.clip_by_rect(geom, -30, 25, 45, 75)
        if not geom.is_empty:
            out[name] = shapely.make_valid(shapely.transform(geom, lambda xy: np.column_stack(
                to.transform(xy[:, 0], xy[:, 1]))))
    return out


def decoded(body: bytes, layer: str, b: morecantile.BoundingBox, name: str) -> dict[str, shapely.Geometry]:
    """One MVT layer's features by ``name``, their grid coordinates put back into the tile's CRS."""
    if not body:
        return {}
    found = mapbox_vector_tile.decode(body, default_options={"y_coord_down": False}).get(layer)
    if found is None:
        return {}
    extent = found["extent"]
    out: dict[str, list] = {}
    for f in found["features"]:
        geom = shapely.transform(shapely.geometry.shape(f["geometry"]), lambda xy: np.column_stack(
            [b.left + xy[:, 0] / extent * (b.right - b.left), b.bottom + xy[:, 1] / extent * (b.top - b.bottom)]))
        out.setdefault(f["properties"][name], []).append(geom.buffer(0) if geom.area else geom)
    return {n: shapely.union_all(g) for n, g in out.items()}


def check_tile(body: bytes, layer: str, truth: dict[str, shapely.Geometry], b: morecantile.BoundingBox,
               name: str, where: str) -> set[str]:
    """The tile holds every feature that covers more than a few grid cells of it, none far from it, and together
    they cover the tile as the real geometries do. The names found."""
    tile = shapely.box(b.left, b.bottom, b.right, b.top)
    cell = (b.right - b.left) / 4096 * (b.top - b.bottom) / 4096
    found = decoded(body, layer, b, name)
    polygons = any(g.area for g in truth.values())
    inside = {n for n, g in truth.items() if (g.intersection(tile).area > 16 * cell if polygons
                                               else tile.contains(g))}
    near = {n for n, g in truth.items() if g.intersects(tile.buffer((b.right - b.left) / 16))}
    assert inside <= set(found), f"{where}: missing {sorted(inside - set(found))}"
    assert set(found) <= near, f"{where}: far features {sorted(set(found) - near)}"
    if polygons:
        drawn = shapely.union_all([g.intersection(tile) for g in found.values()])
        real = shapely.union_all([g.intersection(tile) for n, g in truth.items() if n in near])
        assert drawn.symmetric_difference(real).area < 0.01 * tile.area, where
    return set(found)


def edge_tiles(tms: morecantile.TileMatrixSet, zooms=range(2, 6)) -> list[tuple[int, int, int]]:
    """(z, row, col): every tile of zoom 1, the first and last columns of ``zooms``."""
    out = []
    for z in (1, *zooms):
        m = tms.matrix(z)
        cols = range(m.matrixWidth) if z == 1 else sorted({0, m.matrixWidth - 1})
        out += [(z, row, col) for col in cols for row in range(m.matrixHeight)]
    return out


@pytest.mark.parametrize("tms_id", ["WebMercatorQuad", "WorldCRS84Quad"])
def test_world_vector_tiles_across_the_antimeridian_and_poles(site, server, tms_id):
    countries = publish(site, shared(COUNTRIES))
    tms = tiles.tile_matrix_set(tms_id)
    truth = in_tms(source(COUNTRIES, "name"), tms)
    first, last = set(), set()
    with server.client() as http:
        for z, row, col in edge_tiles(tms):
            r = http.get(f"/ogc/collections/{countries}/tiles/{tms_id}/{z}/{row}/{col}")
            assert r.status_code in (200, 204), r.text
            names = check_tile(r.content, countries, truth, tms.xy_bounds(col, row, z), "name",
                               f"{tms_id} {z}/{row}/{col}")
            if z > 1:
                (first if col == 0 else last).update(names)
        assert {"Fiji", "Russia", "Antarctica"} <= first and {"Fiji", "Russia", "New Zealand", "Antarctica"} <= last
        # Every zoom-1 tile holds land.
        m = tms.matrix(1)
        for row in range(m.matrixHeight):
            for col in range(m.matrixWidth):
                r = http.get(f"/ogc/collections/{countries}/tiles/{tms_id}/1/{row}/{col}")
                assert r.status_code == 200 and decoded(r.content, countries, tms.xy_bounds(col, row, 1), "name")


def test_projected_world_data_in_every_matrix_set(site, server, tmp_path):
    """A world dataset in Equal Earth, tiled in Web Mercator, CRS84 and Lambert-93."""
    frame = pyogrio.read_dataframe(shared(COUNTRIES)).to_crs(EQUAL_EARTH)
    path = tmp_path / "countries_equal_earth.gpkg"
    frame.to_file(path, driver="GPKG")
    countries = publish(site, path)
    assert site.catalog.get_dataset(countries).srid == 8857
    lonlat = source(COUNTRIES, "name")
    with server.client() as http:
        for tms_id, zooms in (("WebMercatorQuad", range(2, 5)), ("WorldCRS84Quad", range(2, 5)),
                              ("FranceLambert93Quad", ())):
            tms = tiles.tile_matrix_set(tms_id)
            truth = in_tms(lonlat, tms)
            for z, row, col in edge_tiles(tms, zooms):
                r = http.get(f"/ogc/collections/{countries}/tiles/{tms_id}/{z}/{row}/{col}")
                assert r.status_code in (200, 204), r.text
                if tms_id == "FranceLambert93Quad":  # outside Europe the truth is not drawn: only what it holds
                    found = decoded(r.content, countries, tms.xy_bounds(col, row, z), "name")
                    tile = shapely.box(*tms.xy_bounds(col, row, z))
                    assert {n for n, g in truth.items() if g.intersection(tile).area > 1e6} <= set(found)
                    continue
                check_tile(r.content, countries, truth, tms.xy_bounds(col, row, z), "name", f"{tms_id} {z}/{row}/{col}")
        lambert = tiles.tile_matrix_set("FranceLambert93Quad")
        r = http.get(f"/ogc/collections/{countries}/tiles/FranceLambert93Quad/0/0/0")
        assert {"France", "Spain", "Italy"} <= set(decoded(r.content, countries, lambert.xy_bounds(0, 0, 0), "name"))


def test_dataset_tiles_and_wmts_across_the_antimeridian(site, server):
    countries = publish(site, shared(COUNTRIES))
    places = publish(site, shared(PLACES))
    tms = tiles.tile_matrix_set("WebMercatorQuad")
    shapes, points = in_tms(source(COUNTRIES, "name"), tms), in_tms(source(PLACES, "name"), tms)
    seen: set[str] = set()
    with server.client() as http:
        style = "default"
        for z, row, col in edge_tiles(tms, range(2, 4)):
            b, where = tms.xy_bounds(col, row, z), f"{z}/{row}/{col}"
            r = http.get(f"/ogc/tiles/WebMercatorQuad/{z}/{row}/{col}", params={"collections": f"{countries},{places}"})
            assert r.status_code in (200, 204)
            check_tile(r.content, countries, shapes, b, "name", where)
            seen |= check_tile(r.content, places, points, b, "name", where)
            r = http.get(f"/wmts/1.0.0/{countries}/{style}/WebMercatorQuad/{z}/{row}/{col}.mvt")
            assert r.status_code in (200, 204), r.text
            check_tile(r.content, countries, shapes, b, "name", f"WMTS {where}")
    assert {"Suva", "Apia", "Nukualofa", "Wellington"} <= seen


def test_generalised_levels_across_the_antimeridian(site):
    """A detailed world's single zoom-0 tile is drawn from a generalised level (PostGIS: clipped to the tile's
    parts), and still holds the countries on both sides of the antimeridian."""
    layers = publish_file(site, shared(DETAILED), crs="EPSG:4326")
    ds = next(o.dataset for o in layers if o.dataset and o.dataset.id.startswith("countries"))
    tms = tiles.tile_matrix_set("WebMercatorQuad")
    b = tms.xy_bounds(0, 0, 0)
    assert site.features.levels(ds.storage).tolerances
    parts = boxes.native_boxes("EPSG:3857", "EPSG:4326", (b.left, b.bottom, b.right, b.top), tuple(tms.xy_bbox))
    assert tiles.tile_level(site, ds, parts[0]) > 0
    truth = in_tms(source(DETAILED, "name"), tms)
    names = check_tile(tiles.vector_tile(site, ds, "WebMercatorQuad", 0, 0, 0), ds.id, truth, b, "name", "0/0/0")
    assert {"Fiji", "Russia", "Antarctica", "Kiribati"} <= names


def test_image_tiles_at_the_edges(site, server):
    countries = publish(site, shared(COUNTRIES))
    land = shapely.union_all(list(source(COUNTRIES, "name").values()))
    with server.client() as http:
        for tms_id in ("WebMercatorQuad", "WorldCRS84Quad"):
            tms = tiles.tile_matrix_set(tms_id)
            (truth,) = in_tms({"land": land}, tms).values()
            for z, row, col in edge_tiles(tms, (2,)):
                r = http.get(f"/wmts/1.0.0/{countries}/default/{tms_id}/{z}/{row}/{col}.png")
                assert r.status_code == 200, r.text
                drawn = (np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3] > 0).mean()
                b = tms.xy_bounds(col, row, z)
                real = truth.intersection(shapely.box(b.left, b.bottom, b.right, b.top)).area / (
                    (b.right - b.left) * (b.top - b.bottom))
                assert real - 0.01 <= drawn <= real + 0.08, f"{tms_id} {z}/{row}/{col}: {drawn} vs {real}"



def test_pacific_data_in_a_pacific_crs(site, server, tmp_path):
    """Countries of the south-west Pacific in PDC Mercator (EPSG:3832, centred on 150°E): an extent across the
    antimeridian, tiles on both sides of it in both world matrix sets, and WMTS offers them."""
    pacific = ["Fiji", "New Zealand", "Vanuatu", "Solomon Is.", "New Caledonia"]
    frame = pyogrio.read_dataframe(shared(COUNTRIES))
    path = tmp_path / "pacific.gpkg"
    frame[frame["name"].isin(pacific)].to_crs("EPSG:3832").to_file(path, driver="GPKG")
    ds = site.catalog.get_dataset(publish(site, path))
    west, _, east, _ = ds.extent_wgs84
    assert west > 150 and east < -179  # across the antimeridian
    lonlat = {n: g for n, g in source(COUNTRIES, "name").items() if n in pacific}
    with server.client() as http:
        caps = http.get("/wmts", params={"service": "WMTS", "request": "GetCapabilities"}).text
        layer = caps[caps.index(f"<ows:Identifier>{ds.id}</ows:Identifier>"):]
        layer = layer[:layer.index("</Layer>")]
        assert "WorldCRS84Quad" in layer and "WebMercatorQuad" in layer
        for tms_id in ("WebMercatorQuad", "WorldCRS84Quad"):
            tms = tiles.tile_matrix_set(tms_id)
            truth = in_tms(lonlat, tms)
            first, last = set(), set()
            for z, row, col in edge_tiles(tms, range(2, 5)):
                r = http.get(f"/ogc/collections/{ds.id}/tiles/{tms_id}/{z}/{row}/{col}")
                assert r.status_code in (200, 204), r.text
                names = check_tile(r.content, ds.id, truth, tms.xy_bounds(col, row, z), "name",
                                   f"{tms_id} {z}/{row}/{col}")
                (first if col == 0 else last).update(names)
            assert "Fiji" in first and set(pacific) <= last, tms_id
