"""OGC API Tiles and Maps against a live server, on both stores: MVT decoded by mapbox-vector-tile, PNG tiles."""

from __future__ import annotations

import io

import mapbox_vector_tile
import morecantile
import numpy as np
import pyogrio
import shapely
from PIL import Image
from pyproj import Transformer

from conftest import shared
from kartenn.services.publish import publish_file

NYBB = "nyc-boroughs/nybb_16a.zip"
REGIONS = "france-admin-express-2018/regions.geojson"


def publish(site, rel: str) -> str:
    (outcome,) = publish_file(site, shared(rel))
    assert outcome.error is None
    return outcome.dataset.id


def decoded_geometries(body: bytes, layer: str, bounds) -> dict[str, shapely.Geometry]:
    """Features of one MVT layer, their grid coordinates put back into the tile's CRS, by name."""
    tile = mapbox_vector_tile.decode(body, default_options={"y_coord_down": False})
    left, bottom, right, top = bounds
    extent = tile[layer]["extent"]
    out = {}
    for f in tile[layer]["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        geom = shapely.transform(geom, lambda xy: np.column_stack(
            [left + xy[:, 0] / extent * (right - left), bottom + xy[:, 1] / extent * (top - bottom)]))
        out[f["properties"].get("BoroName") or f["properties"].get("nom")] = (f["id"], geom)
    return out


def test_vector_tiles_decode_to_the_right_features(site, server):
    nybb = publish(site, NYBB)
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(-73.97, 40.75, 10)
    bounds = tms.xy_bounds(tile)
    meta, table = pyogrio.read_arrow(shared(NYBB))
    to_merc = Transformer.from_crs(meta["crs"], "EPSG:3857", always_xy=True)
    source = shapely.from_wkb(table.column("wkb_geometry").to_pylist())
    source = shapely.transform(source, lambda xy: np.column_stack(to_merc.transform(xy[:, 0], xy[:, 1])))
    names = table.column("BoroName").to_pylist()
    box = shapely.box(*bounds)
    with server.client() as http:
        r = http.get(f"/ogc/collections/{nybb}/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        found = decoded_geometries(r.content, nybb, bounds)
        expected = {n for n, g in zip(names, source, strict=True) if g.intersects(box)}
        assert set(found) == expected and "Manhattan" in found
        for name, (_, geom) in found.items():
            truth = source[names.index(name)].intersection(box)
            clipped = geom.buffer(0).intersection(box)
            assert clipped.symmetric_difference(truth).area / truth.area < 0.05, name

        # Cached by the client: same ETag → 304; the cache headers are there.
        again = http.get(r.url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and "max-age" in r.headers["cache-control"]
        # A tile of the open sea has nothing: 204.
        empty = tms.tile(-40.0, 30.0, 10)
        assert http.get(f"/ogc/collections/{nybb}/tiles/WebMercatorQuad/10/{empty.y}/{empty.x}").status_code == 204
        assert http.get(f"/ogc/collections/{nybb}/tiles/NoSuchMatrix/1/0/0").status_code == 404
        assert http.get(f"/ogc/collections/{nybb}/tiles/WebMercatorQuad/3/99/0").status_code == 404
        assert http.get(f"/ogc/collections/{nybb}/tiles/WebMercatorQuad/3/0/0?f=png").status_code == 400

        tilejson = http.get(f"/ogc/collections/{nybb}/tiles/WebMercatorQuad/tilejson").json()
        assert tilejson["tiles"][0].endswith("/{z}/{y}/{x}?f=mvt")
        assert tilejson["vector_layers"][0]["id"] == nybb


def test_tile_matrix_sets_and_lambert93_tiles(site, server):
    regions = publish(site, REGIONS)
    with server.client() as http:
        ids = [t["id"] for t in http.get("/ogc/tileMatrixSets").json()["tileMatrixSets"]]
        assert ids == ["WebMercatorQuad", "WorldCRS84Quad", "FranceLambert93Quad"]
        lambert = morecantile.TileMatrixSet.model_validate(http.get("/ogc/tileMatrixSets/FranceLambert93Quad").json())
        assert lambert.crs._pyproj_crs.to_epsg() == 2154
        sets = http.get(f"/ogc/collections/{regions}/tiles").json()["tilesets"]
        assert {s["dataType"] for s in sets} == {"vector"} and len(sets) == 3
        r = http.get(f"/ogc/collections/{regions}/tiles/FranceLambert93Quad/0/0/0")
        assert r.status_code == 200
        found = decoded_geometries(r.content, regions, lambert.xy_bounds(morecantile.Tile(0, 0, 0)))
        assert len(found) == 13 and "Bretagne" in found
        rennes = Transformer.from_crs(4326, 2154, always_xy=True).transform(-1.68, 48.11)
        assert found["Bretagne"][1].buffer(0).contains(shapely.Point(rennes))
        world = morecantile.tms.get("WorldCRS84Quad")
        t = world.tile(-1.68, 48.11, 2)
        r = http.get(f"/ogc/collections/{regions}/tiles/WorldCRS84Quad/2/{t.y}/{t.x}")
        crs84 = decoded_geometries(r.content, regions, world.xy_bounds(t))
        assert crs84["Bretagne"][1].buffer(0).contains(shapely.Point(-1.68, 48.11))


def test_raster_tiles_and_maps(site, server):
    rgb = publish(site, "rasters/RGB.byte.tif")
    dtm = publish(site, "rasters/opengeos-dtm.tif")
    west, south, east, north = site.catalog.get_dataset(dtm).extent_wgs84
    regions = publish(site, REGIONS)
    tms = morecantile.tms.get("WebMercatorQuad")
    with server.client() as http:
        t = tms.tile(-77.7, 24.5, 8)
        r = http.get(f"/ogc/collections/{rgb}/tiles/WebMercatorQuad/8/{t.y}/{t.x}")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        image = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
        assert image.shape == (256, 256, 4) and (image[..., 3] > 0).mean() > 0.3 and image[..., :3].std() > 10
        t = tms.tile((west + east) / 2, (south + north) / 2, 16)  # inside the lidar DTM
        r = http.get(f"/ogc/collections/{dtm}/tiles/WebMercatorQuad/16/{t.y}/{t.x}?f=webp")
        assert r.status_code == 200 and r.content[8:12] == b"WEBP"
        t = tms.tile(10.0, 10.0, 8)
        assert http.get(f"/ogc/collections/{rgb}/tiles/WebMercatorQuad/8/{t.y}/{t.x}").status_code == 204

        r = http.get(f"/ogc/collections/{regions}/map", params={"width": 300, "height": 200})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert (np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3] > 0).mean() > 0.3
        r = http.get(f"/ogc/collections/{regions}/map", params={"crs": "EPSG:3857", "f": "jpeg",
                                                                 "bbox": "-600000,5000000,1100000,6700000"})
        assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
        assert http.get(f"/ogc/collections/{regions}/map", params={"width": 100000}).status_code == 400
        assert http.get(f"/ogc/collections/{regions}/map", params={"bbox": "1,2,x,4"}).status_code == 400
