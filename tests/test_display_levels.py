"""Generalised levels of line and polygon data (stores/display.py), on both stores: made at publication, drawn at
small scales by WMS and vector tiles in place of the originals, and kept in step by feature edits."""

from __future__ import annotations

import io
import json

import mapbox_vector_tile
import morecantile
import numpy as np
import pyogrio
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import from_bounds

from conftest import shared
from kartenn.domain.security import OPERATOR
from kartenn.services import features, render, styles, tiles
from kartenn.services.publish import publish_file
from kartenn.stores import display
from kartenn.stores.edits import KEEP, FeatureEdits

REGIONS = "france-admin-express-2018/regions.geojson"
FRANCE_3857 = (-600_000.0, 5_000_000.0, 1_200_000.0, 6_700_000.0)


def publish(site, path) -> object:
    (outcome,) = publish_file(site, path)
    assert outcome.error is None, outcome.error
    return outcome.dataset


def originals(dst: str = "EPSG:3857") -> tuple[list[str], np.ndarray]:
    meta, table = pyogrio.read_arrow(shared(REGIONS))
    geoms = shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry").to_numpy(zero_copy_only=False))
    t = Transformer.from_crs(meta["crs"], dst, always_xy=True)
    geoms = shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return table.column("nom").to_pylist(), geoms


def level_geometries(site, dataset, level: int) -> dict[int, shapely.Geometry]:
    """fid → the level's geometry, read from the store as it holds it."""
    if site.settings.database_url:
        with site.features.engine.connect() as conn:
            rows = conn.exec_driver_sql(f'SELECT fid, ST_AsBinary("{display.column(level)}") FROM kartenn_data."'
                                        f'{dataset.storage}"').all()
        return {fid: shapely.from_wkb(bytes(wkb)) for fid, wkb in rows if wkb is not None}
    meta, table = pyogrio.read_arrow(site.features.path(dataset.storage), layer=display.table("features", level),
                                     return_fids=True)
    geoms = shapely.from_wkb(table.column("geom").to_numpy(zero_copy_only=False))
    return dict(zip(table.column("fid").to_pylist(), geoms, strict=True))


def near(level: shapely.Geometry, full: shapely.Geometry, tolerance: float) -> bool:
    """Where the level and the originals differ lies within ``tolerance`` of the originals' boundary (an islet
    smaller than the tolerance may go), but for less than a pixel at the finest scale the level is drawn at."""
    band = shapely.buffer(shapely.boundary(full), tolerance * 1.01)
    drawn = shapely.make_valid(level)  # as it is filled: PostGIS's ST_Simplify may leave a ring touching itself
    return shapely.difference(shapely.symmetric_difference(drawn, full), band).area < (2 * tolerance) ** 2


def painted(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[:, :, 3] > 0


def test_publication_makes_levels_that_stay_within_their_tolerance(site):
    dataset = publish(site, shared(REGIONS))
    levels = site.features.levels(dataset.storage)
    assert len(levels.tolerances) == 3
    assert all(b == a * 4 for a, b in zip(levels.tolerances, levels.tolerances[1:], strict=False))
    assert levels.web_mercator == bool(site.settings.database_url)  # PostGIS keeps a Web Mercator copy
    full = level_geometries(site, dataset, 0)
    vertices = sum(shapely.get_num_coordinates(g) for g in full.values())
    for k, tolerance in enumerate(levels.tolerances, start=1):
        level = level_geometries(site, dataset, k)
        assert set(level) == set(full)  # every region is there: none is smaller than the tolerance
        assert sum(shapely.get_num_coordinates(g) for g in level.values()) * display.GAIN <= vertices
        vertices = sum(shapely.get_num_coordinates(g) for g in level.values())
        for fid, geom in level.items():
            assert geom.geom_type == "MultiPolygon" and near(geom, full[fid], tolerance)


def test_small_scale_maps_draw_a_level_that_matches_the_originals(site, server):
    dataset = publish(site, shared(REGIONS))
    # Whole of France in 512 px: a level is used; a 2 km view: the originals.
    assert render.level(site, dataset, "EPSG:3857", FRANCE_3857, 512, 512) > 0
    assert render.level(site, dataset, "EPSG:3857", (250_000.0, 6_250_000.0, 252_000.0, 6_252_000.0), 512, 512) == 0
    assert render.level(site, dataset, "EPSG:4326", (-5.0, 41.0, 10.0, 52.0), 512, 512) > 0
    with server.client() as http:
        r = http.get("/wms", params={"SERVICE": "WMS", "VERSION": "1.3.0", "REQUEST": "GetMap", "LAYERS": dataset.id,
                                     "STYLES": "", "CRS": "EPSG:3857", "BBOX": ",".join(map(str, FRANCE_3857)),
                                     "WIDTH": "512", "HEIGHT": "512", "FORMAT": "image/png", "TRANSPARENT": "TRUE"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    _, geoms = originals()
    expected = rasterize([(g, 1) for g in geoms], out_shape=(512, 512), transform=from_bounds(*FRANCE_3857, 512, 512),
                         all_touched=False).astype(bool)
    got = painted(r.content)
    assert (got & expected).sum() / (got | expected).sum() > 0.95  # outlines and edges: alpha > 0
    # The same map drawn from the originals differs on the boundaries' pixels only.
    xml = render.compiled_xml(site, [render.MapLayer(dataset, styles.style_for(site, dataset, None))], (0,))
    m = render.mapnik.Map(512, 512)
    render.mapnik.load_map_from_string(m, xml)
    m.srs = "epsg:3857"
    m.aspect_fix_mode = render.mapnik.aspect_fix_mode.RESPECT
    m.zoom_to_box(render.mapnik.Box2d(*FRANCE_3857))
    image = render.mapnik.Image(512, 512)
    render.mapnik.render(m, image)
    full = painted(image.to_string("png"))
    assert (got ^ full).sum() < 0.01 * full.sum()


def test_low_zoom_tiles_come_from_a_level_with_every_feature(site):
    dataset = publish(site, shared(REGIONS))
    names, geoms = originals()
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(2.5, 46.5, 3)
    b = tms.xy_bounds(tile)
    to_native = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    assert tiles.tile_level(site, dataset, to_native.transform_bounds(b.left, b.bottom, b.right, b.top)) == 1
    body = tiles.vector_tile(site, dataset, "WebMercatorQuad", tile.z, tile.y, tile.x)
    layer = mapbox_vector_tile.decode(body, default_options={"y_coord_down": False})[dataset.id]
    extent = layer["extent"]
    pad = (b.right - b.left) * tiles.BUFFER / extent
    padded = shapely.box(b.left - pad, b.bottom - pad, b.right + pad, b.top + pad)
    expected = {n for n, g in zip(names, geoms, strict=True) if g.intersects(padded)}
    assert {f["properties"]["nom"] for f in layer["features"]} == expected and "Corse" in expected
    for f in layer["features"]:
        geom = shapely.transform(shapely.geometry.shape(f["geometry"]), lambda xy: np.column_stack(
            [b.left + xy[:, 0] / extent * (b.right - b.left), b.bottom + xy[:, 1] / extent * (b.top - b.bottom)]))
        source = geoms[names.index(f["properties"]["nom"])].intersection(padded)
        unit = (b.right - b.left) / extent
        assert near(geom, source, 1.5 * unit)  # level, then the encoder's half unit of simplification and snapping


def test_edits_keep_the_levels_in_step(site, tmp_path):
    square = shapely.box(-1.0, 45.0, 1.0, 47.0).buffer(0.3, quad_segs=256)  # dense enough to have levels
    other = shapely.box(3.0, 45.0, 5.0, 47.0).buffer(0.3, quad_segs=256)
    path = tmp_path / "shapes.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": n}, "geometry": shapely.geometry.mapping(g)}
        for n, g in (("a", square), ("b", other))]}))
    dataset = publish(site, path)
    tolerances = site.features.levels(dataset.storage).tolerances
    assert tolerances
    fids = sorted(level_geometries(site, dataset, 0))
    moved = shapely.MultiPolygon([shapely.affinity.translate(square, 0, 2)])
    added = shapely.MultiPolygon([shapely.box(7.0, 45.0, 8.0, 46.0).buffer(0.2, quad_segs=256)])
    editor = site.seen_by(OPERATOR)
    result = features.edit(editor, dataset, FeatureEdits(inserts=[({"name": "c"}, added)],
                                                         updates=[([fids[0]], {"name": "a2"}, moved),
                                                                  ([fids[1]], {"name": "b2"}, KEEP)],
                                                         deletes=[]))
    features.edit(editor, dataset, FeatureEdits(deletes=[fids[1]]))
    full = level_geometries(site, dataset, 0)
    for k, tolerance in enumerate(tolerances, start=1):
        level = level_geometries(site, dataset, k)
        assert set(level) == set(full) == {fids[0], *result.inserted}
        for fid in level:
            assert near(level[fid], full[fid], tolerance)
        assert level[fids[0]].centroid.y > 47.5  # the moved shape, not the old one
    # A small-scale map draws from a level, and shows the new shape, outside the extent the data had at publication.
    dataset = site.catalog.get_dataset(dataset.id)
    view = (-2.0, 43.0, 10.0, 49.0)
    assert render.level(site, dataset, "EPSG:4326", view, 240, 120) > 0
    png = render.render_map(site, [render.MapLayer(dataset, styles.style_for(site, dataset, None))], "EPSG:4326",
                            view, 240, 120)
    alpha = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[:, :, 3]
    assert alpha[int((49.0 - 45.5) * 20), int((7.5 + 2.0) * 20)] > 0  # the added shape
    assert alpha[int((49.0 - 45.0) * 20), int((4.0 + 2.0) * 20)] == 0  # where the deleted one was
    if not site.settings.database_url:  # attributes are copied into GeoPackage levels
        _, table = pyogrio.read_arrow(site.features.path(dataset.storage), layer="features_1", columns=["name"])
        assert sorted(table.column("name").to_pylist()) == ["a2", "c"]


def test_levels_are_left_out_or_kept_apart_where_they_must(site, tmp_path):
    def publish_features(name: str, features: list[tuple[dict, shapely.Geometry]]):
        path = tmp_path / f"{name}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)} for p, g in features]}))
        return publish(site, path)

    # Points have no levels.
    points = publish_features("points", [({"n": i}, shapely.Point(i, i)) for i in range(50)])
    assert site.features.levels(points.storage) == display.Levels()
    # Attributes named like the levels' columns are renamed: they cannot be taken for them.
    disc = shapely.Point(2, 47).buffer(1, quad_segs=256)
    named = publish_features("named", [({"geom_1": "a", "geom_3857": 7}, disc)])
    assert [f.name for f in named.fields] == ["geom_1_1", "geom_3857_1"]
    assert len(site.features.levels(named.storage).tolerances) >= 1
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(2, 47, 5)
    found = mapbox_vector_tile.decode(tiles.vector_tile(site, named, "WebMercatorQuad", 5, tile.y, tile.x))
    assert found[named.id]["features"][0]["properties"] == {"geom_1_1": "a", "geom_3857_1": 7}
    # A shape reaching the pole publishes, and a whole-world tile from a level draws it up to Mercator's limit.
    polar = publish_features("polar", [({"n": 1}, shapely.box(-180, -90, 180, -60).segmentize(0.01))])
    box = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform_bounds(*tms.xy_bounds(0, 0, 0))
    assert tiles.tile_level(site, polar, box) > 0
    layer = mapbox_vector_tile.decode(tiles.vector_tile(site, polar, "WebMercatorQuad", 0, 0, 0))[polar.id]
    (feature,) = layer["features"]
    ys = [y for ring in feature["geometry"]["coordinates"] for _, y in ring]
    # y up: from the tile's bottom edge (Mercator's limit; the buffer beyond it may be left out) to 60° S, 1189 up
    assert -tiles.BUFFER <= min(ys) <= 0 and 1180 < max(ys) < 1200
    if site.settings.database_url:
        with site.features.engine.connect() as conn:
            top = conn.exec_driver_sql(f'SELECT ST_YMin("geom_3857") FROM kartenn_data."{polar.storage}"').scalar()
        assert -20037508.35 <= top < -20037508.0  # the copy is clipped at Mercator's latitude limit
