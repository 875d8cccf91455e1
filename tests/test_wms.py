"""WMS against a live server, on both stores, judged by real clients (OWSLib, GDAL) and by rasterizing the data."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from lxml import etree
from owslib.util import ServiceException
from owslib.wms import WebMapService
from PIL import Image
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import from_bounds

from conftest import shared
from kartenn.services.publish import publish_file

OGC = "{http://www.opengis.net/ogc}"
REGIONS = "france-admin-express-2018/regions.geojson"
NYBB = "nyc-boroughs/nybb_16a.zip"
POI = "osm-poi-portugal/poi_portugal.gpkg"


def publish(site, *relative: str) -> list[str]:
    ids = []
    for rel in relative:
        outcomes = publish_file(site, shared(rel))
        assert all(o.error is None for o in outcomes), outcomes
        ids += [o.dataset.id for o in outcomes]
    return ids


@pytest.fixture(scope="module")
def published(module_site) -> dict[str, str]:
    """Every dataset the module draws, published once per store: the tests here only read."""
    regions, nybb, poi, rgb, dtm = publish(module_site, REGIONS, NYBB, POI, "rasters/RGB.byte.tif",
                                           "rasters/opengeos-dtm.tif")
    return {"regions": regions, "nybb": nybb, "poi": poi, "rgb": rgb, "dtm": dtm}


def source_geometries(relative: str, dst_crs: str, where: str | None = None) -> np.ndarray:
    meta, table = pyogrio.read_arrow(shared(relative), where=where)
    geoms = shapely.from_wkb(table.column(meta["geometry_name"] or "wkb_geometry").to_pylist())
    t = Transformer.from_crs(meta["crs"], dst_crs, always_xy=True)
    return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def painted(image: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image)).convert("RGBA"))[..., 3] > 0


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def expected_mask(geoms: np.ndarray, bbox: tuple[float, float, float, float], width: int, height: int) -> np.ndarray:
    burned = rasterize([(g, 1) for g in geoms], out_shape=(height, width),
                       transform=from_bounds(*bbox, width, height), all_touched=False)
    return burned.astype(bool)


def test_owslib_capabilities_and_getmap_match_the_data(published, module_live_server):
    server = module_live_server
    regions, nybb = published["regions"], published["nybb"]
    wms = WebMapService(f"{server.url}/wms", version="1.3.0", timeout=60)
    assert {regions, nybb, "poi-portugal"} <= set(wms.contents)
    layer = wms.contents[nybb]
    assert {"EPSG:2263", "EPSG:4326", "EPSG:3857", "EPSG:2154", "EPSG:4258", "EPSG:3035"} <= set(layer.crsOptions)
    west, south, east, north = layer.boundingBoxWGS84
    assert -74.3 < west < east < -73.6 and 40.4 < south < north < 41
    assert "default" in layer.styles and "GetLegendGraphic" in layer.styles["default"]["legend"]

    # 1.3.0 EPSG:4326 is lat/lon in the capabilities too.
    with server.client() as http:
        caps = etree.fromstring(http.get("/wms", params={"service": "WMS", "request": "GetCapabilities"}).content)
    ns = {"w": "http://www.opengis.net/wms"}
    box = caps.find(f".//w:Layer[w:Name='{regions}']/w:BoundingBox[@CRS='EPSG:4326']", ns)
    assert 41 < float(box.get("minx")) < 42 and -5.2 < float(box.get("miny")) < -5.1

    # Regions in Lambert-93, drawn by the server and rasterized here: the same pixels.
    bbox, size = (50_000.0, 6_000_000.0, 1_300_000.0, 7_150_000.0), (500, 460)
    image = wms.getmap(layers=[regions], styles=[""], srs="EPSG:2154", bbox=bbox, size=size,
                       format="image/png", transparent=True).read()
    score = iou(painted(image), expected_mask(source_geometries(REGIONS, "EPSG:2154"), bbox, *size))
    assert score > 0.9, score

    # Boroughs (EPSG:2263 feet) in Web Mercator.
    bbox, size = (-8_266_000.0, 4_935_000.0, -8_204_000.0, 4_993_000.0), (400, 374)
    image = wms.getmap(layers=[nybb], styles=[""], srs="EPSG:3857", bbox=bbox, size=size, format="image/png",
                       transparent=True).read()
    score = iou(painted(image), expected_mask(source_geometries(NYBB, "EPSG:3857"), bbox, *size))
    assert score > 0.9, score

    # 1.3.0 EPSG:4326: BBOX is lat/lon; the picture must be the same as CRS:84 with lon/lat.
    with server.client() as http:
        common = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": regions, "styles": "",
                  "width": 300, "height": 300, "format": "image/png", "transparent": "true"}
        latlon = http.get("/wms", params={**common, "crs": "EPSG:4326", "bbox": "41,-6,52,10"})
        lonlat = http.get("/wms", params={**common, "crs": "CRS:84", "bbox": "-6,41,10,52"})
        assert latlon.status_code == lonlat.status_code == 200
        assert iou(painted(latlon.content), painted(lonlat.content)) > 0.99
        expected = expected_mask(source_geometries(REGIONS, "EPSG:4326"), (-6, 41, 10, 52), 300, 300)
        assert iou(painted(latlon.content), expected) > 0.9


def test_getmap_formats_layers_and_background(published, module_server):
    server = module_server
    regions, poi = published["regions"], published["poi"]
    common = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "crs": "EPSG:3857",
              "bbox": "-1100000,4100000,1100000,6700000", "width": 256, "height": 300}
    with server.client() as http:
        def get(**extra: str) -> httpx.Response:
            r = http.get("/ows", params={**common, "layers": f"{regions},{poi}", "styles": ",", **extra})
            assert r.status_code == 200, r.text
            return r

        png = get(format="image/png", transparent="true")
        assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(png.content)).mode == "RGBA"
        png8 = get(format="image/png; mode=8bit")
        assert Image.open(io.BytesIO(png8.content)).mode == "P"
        jpeg = get(format="image/jpeg", bgcolor="0xFF0000")
        assert jpeg.content[:3] == b"\xff\xd8\xff"
        webp = get(format="image/webp", transparent="true")
        assert webp.content[:4] == b"RIFF" and webp.content[8:12] == b"WEBP"

        # BGCOLOR fills what no feature covers (the top-left corner is in the Atlantic).
        opaque = np.asarray(Image.open(io.BytesIO(get(format="image/png", bgcolor="0x00FF00").content))
                            .convert("RGBA"))
        assert tuple(opaque[2, 2]) == (0, 255, 0, 255)
        # Two layers: the points of Portugal are drawn too, where the regions layer alone has nothing.
        both = painted(get(format="image/png", transparent="true").content)
        alone = http.get("/wms", params={**common, "layers": regions, "styles": "", "format": "image/png",
                                         "transparent": "true"})
        assert both.sum() > painted(alone.content).sum()


def test_raster_layers(published, module_server):
    server = module_server
    rgb, dtm = published["rgb"], published["dtm"]
    with rasterio.open(shared("rasters/opengeos-dtm.tif")) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs.to_string()
        centre = src.read(1)[src.height // 2, src.width // 2]
    with server.client() as http:
        r = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": dtm,
                                     "styles": "", "crs": crs, "bbox": f"{left},{bottom},{right},{top}",
                                     "width": 200, "height": 200, "format": "image/png", "transparent": "true"})
        assert r.status_code == 200, r.text
        pixels = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
        assert painted(r.content).mean() > 0.8
        assert len(np.unique(pixels[..., :3].reshape(-1, 3), axis=0)) > 20  # a colour ramp, not a flat fill
        info = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetFeatureInfo",
                                        "layers": dtm, "query_layers": dtm, "styles": "", "crs": crs,
                                        "bbox": f"{left},{bottom},{right},{top}", "width": 200, "height": 200,
                                        "i": 100, "j": 100, "info_format": "application/json"}).json()
        assert info["features"][0]["properties"]["band_1"] == pytest.approx(float(centre), abs=1.0)
        r = http.get("/wms", params={"service": "WMS", "version": "1.1.1", "request": "GetMap", "layers": rgb,
                                     "styles": "", "srs": "EPSG:4326", "bbox": "-79,23.5,-76.5,25.6",
                                     "width": 256, "height": 256, "format": "image/jpeg"})
        assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
        assert np.asarray(Image.open(io.BytesIO(r.content))).std() > 10
        legend = http.get("/wms", params={"service": "WMS", "request": "GetLegendGraphic", "layer": dtm,
                                          "format": "image/png"})
        assert legend.status_code == 200 and Image.open(io.BytesIO(legend.content)).height > 20


def test_getfeatureinfo_returns_the_feature_under_the_pixel(published, module_server):
    server = module_server
    regions, poi = published["regions"], published["poi"]
    bbox, width, height = (-600_000.0, 5_000_000.0, 1_100_000.0, 6_700_000.0), 400, 400
    bretagne = source_geometries(REGIONS, "EPSG:3857", where="nom = 'Bretagne'")[0]
    x, y = shapely.get_coordinates(shapely.point_on_surface(bretagne))[0]
    i, j = int((x - bbox[0]) / (bbox[2] - bbox[0]) * width), int((bbox[3] - y) / (bbox[3] - bbox[1]) * height)
    params = {"service": "WMS", "version": "1.3.0", "request": "GetFeatureInfo", "layers": regions,
              "query_layers": regions, "styles": "", "crs": "EPSG:3857", "bbox": ",".join(map(str, bbox)),
              "width": width, "height": height, "i": i, "j": j}
    with server.client() as http:
        found = http.get("/wms", params={**params, "info_format": "application/json"}).json()["features"]
        assert [f["properties"]["nom"] for f in found] == ["Bretagne"]
        html = http.get("/wms", params={**params, "info_format": "text/html"})
        assert html.headers["content-type"].startswith("text/html") and "Bretagne" in html.text
        gml = etree.fromstring(http.get("/wms", params={**params, "info_format": "application/vnd.ogc.gml"}).content)
        assert [e.text for e in gml.iter("nom")] == ["Bretagne"]

        # Points: a click two pixels away still finds the nearest; FEATURE_COUNT bounds the answer.
        meta, table = pyogrio.read_arrow(shared(POI), columns=["name"])
        pts = shapely.from_wkb(table.column("geom").to_pylist())
        lon, lat = shapely.get_x(pts[0]), shapely.get_y(pts[0])
        small = (lat - 0.05, lon - 0.05, lat + 0.05, lon + 0.05)  # lat/lon order: 1.3.0 EPSG:4326
        pi = int((lon - small[1]) / 0.1 * 256) + 2
        pj = int((small[2] - lat) / 0.1 * 256)
        near = http.get("/wms", params={**params, "layers": poi, "query_layers": poi, "crs": "EPSG:4326",
                                        "bbox": ",".join(map(str, small)), "width": 256, "height": 256,
                                        "i": pi, "j": pj, "info_format": "application/json",
                                        "feature_count": 1}).json()["features"]
        assert len(near) == 1 and near[0]["properties"]["name"] == table.column("name")[0].as_py()
        far = http.get("/wms", params={**params, "layers": poi, "query_layers": poi, "crs": "EPSG:4326",
                                       "bbox": "70,170,71,171", "width": 256, "height": 256, "i": 5, "j": 5,
                                       "info_format": "application/json"}).json()["features"]
        assert far == []


def test_gdal_wms_driver_opens_the_service(published, module_live_server):
    server = module_live_server
    regions = published["regions"]
    url = (f"WMS:{server.url}/wms?SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS={regions}&SRS=EPSG:4326"
           "&BBOX=-5.2,41.3,9.6,51.1&FORMAT=image/png")
    with rasterio.open(url) as ds:
        assert ds.crs.to_epsg() == 4326 and ds.count >= 3
        data = ds.read(1, out_shape=(256, 256))
    assert 0 < (data < 250).mean() < 1  # blue regions on a white background


BAD = [
    ({"width": "100000"}, "InvalidParameterValue", "width"),
    ({"layers": "no-such-layer"}, "LayerNotDefined", "layers"),
    ({"styles": "no-such-style"}, "StyleNotDefined", "styles"),
    ({"bbox": "1,2,3"}, "InvalidParameterValue", "bbox"),
    ({"bbox": "10,10,0,0"}, "InvalidParameterValue", "bbox"),
    ({"crs": "EPSG:999999"}, "InvalidCRS", "crs"),
    ({"crs": "+proj=merc"}, "InvalidCRS", "crs"),
    ({"format": "image/gif"}, "InvalidFormat", "format"),
    ({"request": "GetPony"}, "OperationNotSupported", "request"),
]


def test_bad_requests_get_xml_exceptions_and_the_server_goes_on(published, module_live_server):
    server = module_live_server
    regions = published["regions"]
    good = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": regions, "styles": "",
            "crs": "EPSG:3857", "bbox": "-600000,5000000,1100000,6700000", "width": 64, "height": 64,
            "format": "image/png"}
    with server.client() as http:
        for change, code, locator in BAD:
            r = http.get("/wms", params={**good, **change})
            assert r.status_code == 400, (change, r.text)
            assert r.headers["content-type"].startswith("text/xml")
            report = etree.fromstring(r.content)
            assert report.tag == f"{OGC}ServiceExceptionReport" and report.get("version") == "1.3.0"
            exc = report.find(f"{OGC}ServiceException")
            assert (exc.get("code"), exc.get("locator")) == (code, locator), change
        old_params = {k: v for k, v in good.items() if k != "crs"} | {"version": "1.1.1", "srs": "EPSG:1"}
        old = http.get("/wms", params=old_params)
        assert old.headers["content-type"].startswith("application/vnd.ogc.se_xml")
        assert etree.fromstring(old.content).find("ServiceException").get("code") == "InvalidSRS"
        inimage = http.get("/wms", params={**good, "layers": "nope", "exceptions": "INIMAGE"})
        assert inimage.headers["content-type"] == "image/png" and painted(inimage.content).any()
        blank = http.get("/wms", params={**good, "layers": "nope", "exceptions": "BLANK", "transparent": "true"})
        assert blank.headers["content-type"] == "image/png" and not painted(blank.content).any()
        assert http.get("/ows", params={"service": "NOPE", "request": "GetCapabilities"}).status_code == 400
        assert http.get("/wms", params=good).status_code == 200
    with pytest.raises(ServiceException):
        WebMapService(f"{server.url}/wms", version="1.3.0").getmap(
            layers=["nope"], styles=[""], srs="EPSG:4326", bbox=(-6, 41, 10, 52), size=(10, 10), format="image/png")
