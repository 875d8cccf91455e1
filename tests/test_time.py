"""The TIME dimension on both stores: WMS capabilities, GetMap and GetFeatureInfo, WMTS GetTile, OGC API Maps.

Data: MapServer's obs.csv (five time-stamped observations; two at 45N 75W, in 2001 and 2002).
"""

from __future__ import annotations

import io

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
from lxml import etree
from owslib.wms import WebMapService
from PIL import Image

from conftest import shared
from kartenn.services.publish import publish_file

WMS = "{http://www.opengis.net/wms}"
BBOX = (-80.0, 42.0, -74.0, 46.0)  # lon/lat, around three of the observations
WIDTH, HEIGHT = 300, 200


def painted(png: bytes, lon: float, lat: float, bbox=BBOX) -> bool:
    """Is anything drawn within 3 px of a point of a CRS84 map?"""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    h, w = image.shape[:2]
    col = int((lon - bbox[0]) / (bbox[2] - bbox[0]) * w)
    row = int((bbox[3] - lat) / (bbox[3] - bbox[1]) * h)
    return bool(image[max(row - 3, 0):row + 4, max(col - 3, 0):col + 4, 3].max() > 0)


@pytest.mark.live
def test_time_dimension(site, server):
    (outcome,) = publish_file(site, shared("timeseries/mapserver-obs.csv"))
    assert outcome.error is None
    obs = outcome.dataset.id
    getmap = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": obs, "styles": "",
              "crs": "CRS:84", "bbox": ",".join(map(str, BBOX)), "width": WIDTH, "height": HEIGHT,
              "format": "image/png", "transparent": "true"}
    with server.client() as http:
        caps = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetCapabilities"})
        root = etree.fromstring(caps.content)
        layer = next(el for el in root.iter(f"{WMS}Layer") if el.findtext(f"{WMS}Name") == obs)
        dim = layer.find(f"{WMS}Dimension")
        assert (dim.get("name"), dim.get("units")) == ("time", "ISO8601")
        assert dim.get("default") == "2000-10-30T18:24:39Z/2007-10-30T08:57:29Z"  # the whole range
        assert dim.text.split(",") == ["2000-10-30T18:24:39Z", "2001-10-30T14:24:55Z", "2002-10-30T18:31:38Z",
                                       "2003-10-30T07:37:29Z", "2007-10-30T08:57:29Z"]

        # OWSLib reads the times, from the 1.3.0 Dimension and the 1.1.1 Extent.
        for version in ("1.3.0", "1.1.1"):
            layer = WebMapService(f"{server.url}/wms", version=version).contents[obs]
            assert [t.strip() for t in layer.timepositions] == dim.text.split(","), version

        everything = http.get("/wms", params=getmap)
        assert everything.headers["content-type"] == "image/png"
        assert painted(everything.content, -75, 45) and painted(everything.content, -79, 43)
        # 2001 only: the 2001 observation at 45N 75W; not the 2003 and 2007 ones at 43N 79W.
        in_2001 = http.get("/wms", params={**getmap, "time": "2001-10-30"}).content
        assert painted(in_2001, -75, 45) and not painted(in_2001, -79, 43)
        later = http.get("/wms", params={**getmap, "time": "2005-01-01/2010-12-31"}).content
        assert not painted(later, -75, 45) and painted(later, -79, 43)
        instant = http.get("/wms", params={**getmap, "time": "2002-10-30T18:31:38Z"}).content
        assert painted(instant, -75, 45) and not painted(instant, -79, 43)
        for wrong in ("yesterday", "2020-01-01/9999-12-31", "0001-01-01T00:00:00+01:00"):
            bad = http.get("/wms", params={**getmap, "time": wrong})
            assert bad.status_code == 400 and b"InvalidDimensionValue" in bad.content, wrong

        # GetFeatureInfo at 45N 75W: both observations without TIME, only 2002's with TIME=2002.
        col = int((-75 - BBOX[0]) / (BBOX[2] - BBOX[0]) * WIDTH)
        row = int((BBOX[3] - 45) / (BBOX[3] - BBOX[1]) * HEIGHT)
        info = {**getmap, "request": "GetFeatureInfo", "query_layers": obs, "info_format": "application/json",
                "i": col, "j": row, "feature_count": 10}
        assert {f["properties"]["id"] for f in http.get("/wms", params=info).json()["features"]} == {371, 377}
        found = http.get("/wms", params={**info, "time": "2002-01-01/2002-12-31"}).json()["features"]
        assert [f["properties"]["id"] for f in found] == [377]

        # OGC API Maps: datetime=.
        bbox = ",".join(map(str, BBOX))
        ogc = http.get(f"/ogc/collections/{obs}/map", params={"bbox": bbox, "width": WIDTH, "height": HEIGHT,
                                                              "datetime": "2006-01-01/.."})
        assert ogc.status_code == 200 and not painted(ogc.content, -75, 45) and painted(ogc.content, -79, 43)

        # WMTS: the dimension in the capabilities, TIME on GetTile.
        wmts = etree.fromstring(http.get("/wmts", params={"service": "WMTS", "request": "GetCapabilities"}).content)
        values = [v.text for v in wmts.iter("{http://www.opengis.net/wmts/1.0}Value")]
        assert "2001-10-30T14:24:55Z" in values
        tms = morecantile.tms.get("WorldCRS84Quad")
        tile = tms.tile(-75, 45, 5)
        b = tms.xy_bounds(tile)
        box = (b.left, b.bottom, b.right, b.top)
        url = f"/wmts/1.0.0/{obs}/default/WorldCRS84Quad/5/{tile.y}/{tile.x}.png"
        assert painted(http.get(url).content, -75, 45, box)
        assert not painted(http.get(url, params={"time": "2005-01-01/2010-12-31"}).content, -75, 45, box)
        assert painted(http.get(url, params={"time": "2001-10-30"}).content, -75, 45, box)

        # Vector tiles: datetime= on OGC API Tiles, TIME on WMTS; both stores read and filter the features.
        tile = morecantile.tms.get("WebMercatorQuad").tile(-75, 45, 4)
        mvt = f"/ogc/collections/{obs}/tiles/WebMercatorQuad/4/{tile.y}/{tile.x}"
        ids = {f["properties"]["id"] for f in mapbox_vector_tile.decode(http.get(mvt).content)[obs]["features"]}
        assert {371, 377} <= ids
        r = http.get(mvt, params={"datetime": "2002-01-01T00:00:00Z/2002-12-31T23:59:59Z"})
        assert {f["properties"]["id"] for f in mapbox_vector_tile.decode(r.content)[obs]["features"]} == {377}
        r = http.get(f"/wmts/1.0.0/{obs}/default/WebMercatorQuad/4/{tile.y}/{tile.x}.mvt", params={"time": "2001"})
        assert r.status_code == 400  # not a date
        r = http.get(f"/wmts/1.0.0/{obs}/default/WebMercatorQuad/4/{tile.y}/{tile.x}.mvt",
                     params={"time": "2001-10-30"})
        assert {f["properties"]["id"] for f in mapbox_vector_tile.decode(r.content)[obs]["features"]} == {371}
