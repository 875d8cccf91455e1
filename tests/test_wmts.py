"""WMTS 1.0.0 against a live server, on both stores: OWSLib and GDAL (through rasterio) as the clients."""

from __future__ import annotations

import io

import mapbox_vector_tile
import morecantile
import numpy as np
import pyproj
import pytest
import rasterio
from lxml import etree
from owslib.wmts import WebMapTileService
from PIL import Image
from rasterio.windows import from_bounds

from conftest import shared
from kartenn.services.publish import publish_file
from xsd import assert_valid

NYBB = "nyc-boroughs/nybb_16a.zip"
OWS = "{http://www.opengis.net/ows/1.1}"
WMTS = "{http://www.opengis.net/wmts/1.0}"
MANHATTAN = (-73.97, 40.78)  # a point inside Manhattan
SEA = (-73.70, 40.45)  # open sea, south-east of the boroughs


def publish(site, rel: str) -> str:
    (outcome,) = publish_file(site, shared(rel))
    assert outcome.error is None
    return outcome.dataset.id


@pytest.fixture(scope="module")
def published(module_site) -> dict[str, str]:
    """Every dataset the module serves, published once per store: the tests here only read."""
    return {"nybb": publish(module_site, NYBB), "rgb": publish(module_site, "rasters/RGB.byte.tif"),
            "regions": publish(module_site, "france-admin-express-2018/regions.geojson")}


def pixel(tms: morecantile.TileMatrixSet, tile: morecantile.Tile, lon: float, lat: float) -> tuple[int, int]:
    """(column, row) of a point in a 256 px tile."""
    b = tms.xy_bounds(tile)
    x, y = tms.xy(lon, lat)
    return int((x - b.left) / (b.right - b.left) * 256), int((b.top - y) / (b.top - b.bottom) * 256)


def test_wmts_capabilities_and_tiles_with_owslib(published, module_live_server):
    server = module_live_server
    nybb, rgb = published["nybb"], published["rgb"]
    url = f"{server.url}/wmts"
    wmts = WebMapTileService(url)
    assert {nybb, rgb} <= set(wmts.contents)
    layer = wmts.contents[nybb]
    assert {"image/png", "image/jpeg", "application/vnd.mapbox-vector-tile"} <= set(layer.formats)
    assert {"WebMercatorQuad", "WorldCRS84Quad"} <= set(layer.tilematrixsetlinks)
    assert "FranceLambert93Quad" not in layer.tilematrixsetlinks  # New York is outside Lambert-93
    assert wmts.tilematrixsets["WebMercatorQuad"].crs == "urn:ogc:def:crs:EPSG::3857"
    assert [u["resourceType"] for u in layer.resourceURLs].count("tile") == 3
    limits = layer.tilematrixsetlinks["WebMercatorQuad"].tilematrixlimits["10"]
    tms = morecantile.tms.get("WebMercatorQuad")
    tile = tms.tile(*MANHATTAN, 10)
    assert limits.mintilerow <= tile.y <= limits.maxtilerow and limits.mintilecol <= tile.x <= limits.maxtilecol
    style = next(iter(layer.styles))

    # KVP GetTile → a PNG painted over Manhattan, transparent over the sea.
    png = wmts.gettile(layer=nybb, tilematrixset="WebMercatorQuad", tilematrix="10", row=tile.y, column=tile.x,
                       format="image/png", style=style).read()
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert image.shape == (256, 256, 4)
    col, row = pixel(tms, tile, *MANHATTAN)
    assert image[row, col, 3] > 0
    sea_tile = tms.tile(*SEA, 10)
    sea_png = wmts.gettile(layer=nybb, tilematrixset="WebMercatorQuad", tilematrix="10", row=sea_tile.y,
                           column=sea_tile.x, format="image/png", style=style).read()
    sea = np.asarray(Image.open(io.BytesIO(sea_png)).convert("RGBA"))
    col, row = pixel(tms, sea_tile, *SEA)
    assert sea[row, col, 3] == 0

    with server.client() as http:
        # REST: the same tile, served from the cache the second time.
        rest = f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}.png"
        first, second = http.get(rest), http.get(rest)
        assert first.status_code == second.status_code == 200
        assert second.headers["x-cache"] == "hit" and second.content == first.content
        jpeg = http.get(f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}.jpg")
        assert jpeg.headers["content-type"] == "image/jpeg" and jpeg.content[:2] == b"\xff\xd8"
        # MVT through WMTS: Manhattan is in the tile.
        mvt = http.get(f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}.mvt")
        assert mvt.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        names = {f["properties"]["BoroName"] for f in mapbox_vector_tile.decode(mvt.content)[nybb]["features"]}
        assert "Manhattan" in names
        # A raster layer: a PNG tile of its COG.
        r = http.get(f"/wmts/1.0.0/{rgb}/default/WebMercatorQuad/0/0/0.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        # WorldCRS84Quad tiles are rendered in CRS84.
        crs84 = morecantile.tms.get("WorldCRS84Quad")
        t84 = crs84.tile(*MANHATTAN, 10)
        r = http.get(f"/wmts/1.0.0/{nybb}/{style}/WorldCRS84Quad/10/{t84.y}/{t84.x}.png")
        image = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
        b = crs84.xy_bounds(t84)
        col = int((MANHATTAN[0] - b.left) / (b.right - b.left) * 256)
        row = int((b.top - MANHATTAN[1]) / (b.top - b.bottom) * 256)
        assert image[row, col, 3] > 0

        # GetFeatureInfo at Manhattan's pixel.
        col, row = pixel(tms, tile, *MANHATTAN)
        info = http.get("/wmts", params={"service": "WMTS", "version": "1.0.0", "request": "GetFeatureInfo",
                                         "layer": nybb, "style": style, "format": "image/png",
                                         "tilematrixset": "WebMercatorQuad", "tilematrix": "10",
                                         "tilerow": tile.y, "tilecol": tile.x, "i": col, "j": row,
                                         "infoformat": "application/json"}).json()
        assert info["features"][0]["properties"]["BoroName"] == "Manhattan"
        rest = http.get(f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}/{row}/{col}.json").json()
        assert rest == info
        text = http.get(f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}/{row}/{col}.txt")
        assert text.headers["content-type"].startswith("text/plain") and "Manhattan" in text.text
        assert http.get(f"/wmts/1.0.0/{nybb}/{style}/WebMercatorQuad/10/{tile.y}/{tile.x}/{row}/999.json"
                        ).status_code == 400


def test_wmts_exceptions_and_capabilities_schema(published, module_server):
    server = module_server
    nybb = published["nybb"]
    with server.client() as http:
        caps = http.get("/ows", params={"service": "WMTS", "request": "GetCapabilities"})
        assert caps.status_code == 200
        root = etree.fromstring(caps.content)
        assert root.tag == f"{WMTS}Capabilities"
        # The OWS 1.1 parts validate against the offline schemas.
        for part in ("ServiceIdentification", "ServiceProvider", "OperationsMetadata"):
            element = root.find(f"{OWS}{part}")
            assert element is not None, part
            assert_valid(element, "ows/1.1.0/owsAll.xsd")
        encodings = {v.text for v in root.iter(f"{OWS}Value")}
        assert {"KVP", "RESTful"} <= encodings
        wkss = root.find(f"{WMTS}Contents/{WMTS}TileMatrixSet/{WMTS}WellKnownScaleSet")
        assert wkss.text == "urn:ogc:def:wkss:OGC:1.0:GoogleMapsCompatible"
        assert http.get("/wmts/1.0.0/WMTSCapabilities.xml").content == http.get(
            "/wmts", params={"request": "GetCapabilities"}).content

        base = {"service": "WMTS", "version": "1.0.0", "request": "GetTile", "layer": nybb, "style": "default",
                "format": "image/png", "tilematrixset": "WebMercatorQuad", "tilematrix": "3", "tilerow": "3",
                "tilecol": "2"}
        assert http.get("/wmts", params=base).status_code == 200
        for change, code, locator, status in (
                ({"tilerow": "8"}, "TileOutOfRange", "tilerow", 400),
                ({"tilecol": "-1"}, "TileOutOfRange", "tilecol", 400),
                ({"tilematrix": "99"}, "InvalidParameterValue", "tilematrix", 400),
                ({"tilematrixset": "Nope"}, "InvalidParameterValue", "tilematrixset", 400),
                ({"format": "image/gif"}, "InvalidParameterValue", "format", 400),
                ({"style": "nope"}, "InvalidParameterValue", "style", 400),
                ({"layer": "nope"}, "LayerNotDefined", "layer", 404),
                ({"tilerow": ""}, "MissingParameterValue", "tilerow", 400),
                ({"request": "Nope"}, "OperationNotSupported", "request", 501)):
            r = http.get("/wmts", params={**base, **change})
            assert r.status_code == status, (change, r.text)
            report = etree.fromstring(r.content)
            assert report.tag == f"{OWS}ExceptionReport"
            exc = report.find(f"{OWS}Exception")
            assert (exc.get("exceptionCode"), exc.get("locator")) == (code, locator), r.text
        r = http.get(f"/wmts/1.0.0/{nybb}/default/WebMercatorQuad/3/9/2.png")
        assert r.status_code == 400 and b"TileOutOfRange" in r.content


def test_wmts_lambert93_tiles(published, module_live_server):
    server = module_live_server
    regions = published["regions"]
    tms = morecantile.TileMatrixSet.custom(
        (-357823.2365, 6037008.6939, 1313632.3628, 7230727.3772), pyproj.CRS.from_epsg(2154))
    wmts = WebMapTileService(f"{server.url}/wmts")
    assert "FranceLambert93Quad" in wmts.contents[regions].tilematrixsetlinks
    lambert = wmts.tilematrixsets["FranceLambert93Quad"]
    assert lambert.crs == "urn:ogc:def:crs:EPSG::2154"
    assert [float(v) for v in lambert.tilematrix["0"].topleftcorner] == [-357823.2365, 7230727.3772]
    x, y = 652000.0, 6862000.0  # Paris, in Lambert-93
    tile = tms._tile(x, y, 4)
    png = wmts.gettile(layer=regions, tilematrixset="FranceLambert93Quad", tilematrix="4", row=tile.y,
                       column=tile.x, format="image/png", style="default").read()
    b = tms.xy_bounds(tile)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert image[int((b.top - y) / (b.top - b.bottom) * 256), int((x - b.left) / (b.right - b.left) * 256), 3] > 0


def test_gdal_reads_the_wmts(published, module_live_server):
    server = module_live_server
    nybb = published["nybb"]
    with rasterio.Env(GDAL_HTTP_TIMEOUT="60"):
        with rasterio.open(f"WMTS:{server.url}/wmts?request=GetCapabilities,layer={nybb},"
                           "tilematrixset=WebMercatorQuad") as src:
            assert src.crs.to_epsg() == 3857
            x, y = morecantile.tms.get("WebMercatorQuad").xy(*MANHATTAN)
            x_sea, y_sea = morecantile.tms.get("WebMercatorQuad").xy(*SEA)
            size = 2000
            window = from_bounds(min(x, x_sea) - size, min(y, y_sea) - size, max(x, x_sea) + size,
                                 max(y, y_sea) + size, src.transform)
            out = src.read(window=window, out_shape=(src.count, 128, 128), boundless=True)
            transform = src.window_transform(window)
            scale = (window.width / 128, window.height / 128)
    alpha = out[-1]
    col, row = ~transform @ (x, y)
    assert alpha[int(row / scale[1]), int(col / scale[0])] > 0  # painted over Manhattan
    col, row = ~transform @ (x_sea, y_sea)
    assert alpha[int(row / scale[1]), int(col / scale[0])] == 0  # nothing over the sea
