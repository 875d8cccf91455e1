"""CRS names, their axis order, and bounding boxes, as every service reads them (``kartenn.crs``)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conftest import shared
from kartenn import crs
from kartenn.app import create_app
from kartenn.errors import InvalidInput
from kartenn.services.publish import publish_file


@pytest.mark.parametrize(("name", "north"), [
    ("EPSG:4326", False),
    ("http://www.opengis.net/gml/srs/epsg.xml#4326", False),
    ("urn:ogc:def:crs:EPSG::4326", True),
    ("urn:x-ogc:def:crs:EPSG:4326", True),
    ("urn:ogc:def:crs:EPSG:6.6:4326", True),
    ("http://www.opengis.net/def/crs/EPSG/0/4326", True),
    ("http://www.opengis.net/def/crs/EPSG/0/4258", True),
    ("urn:ogc:def:crs:EPSG::3035", True),
    ("urn:ogc:def:crs:EPSG::2154", False),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", False),
    ("urn:ogc:def:crs:OGC:1.3:CRS84", False),
    ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", False),
])
def test_the_way_a_crs_is_written_gives_its_axis_order(name: str, north: bool) -> None:
    assert crs.north_first(name) is north
    found = crs.to_crs(name)
    assert found.to_epsg() in (4326, 4258, 3035, 2154, 3857) or found.name == "WGS 84 (CRS84)"


def test_wms_130_uses_the_crs_own_axis_order() -> None:
    assert crs.axis_north_first(crs.to_crs("EPSG:4326"))
    assert crs.axis_north_first(crs.to_crs("EPSG:3035"))
    assert not crs.axis_north_first(crs.to_crs("EPSG:2154"))
    assert not crs.axis_north_first(crs.to_crs("CRS84"))


def test_unknown_crs_is_an_input_error() -> None:
    with pytest.raises(InvalidInput):
        crs.to_crs("urn:ogc:def:crs:EPSG::999999")


def test_one_bbox_parser_for_every_service() -> None:
    assert crs.parse_bbox("-5,47,-1,49") == ((-5.0, 47.0, -1.0, 49.0), None)
    assert crs.parse_bbox(" -5, 47 ,0,-1,49,100") == ((-5.0, 47.0, -1.0, 49.0), None)
    assert crs.parse_bbox("47,-5,49,-1,urn:ogc:def:crs:EPSG::4326", with_crs=True) == (
        (47.0, -5.0, 49.0, -1.0), "urn:ogc:def:crs:EPSG::4326")
    assert crs.swap((47.0, -5.0, 49.0, -1.0)) == (-5.0, 47.0, -1.0, 49.0)
    for bad, kwargs in (("1,2,3", {}), ("1,2,3,x", {}), ("1,2,nan,4", {}), ("1,2,inf,4", {}),
                        ("1,2,3,4,EPSG:4326", {}), ("1,2,0,3,4,0", {"heights": False}), ("", {})):
        with pytest.raises(InvalidInput) as caught:
            crs.parse_bbox(bad, **kwargs)
        assert caught.value.locator == "bbox"


def test_bbox_rules_of_each_interface(settings, site) -> None:
    """The same numbers, refused or read in the axis order each interface gives them."""
    [outcome] = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    ds = outcome.dataset.id
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        def features(**params: str) -> int:
            response = client.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                                  "typeNames": ds, "resultType": "hits", **params})
            assert response.status_code == 200, response.text
            return int(response.text.split('numberMatched="')[1].split('"')[0])

        brittany_xy, brittany_yx = "-5,47.5,-1,48.5", "47.5,-5,48.5,-1"
        assert features(bbox=brittany_xy + ",EPSG:4326") == features(bbox=brittany_yx + ",urn:ogc:def:crs:EPSG::4326")
        assert features(bbox=brittany_yx + ",urn:ogc:def:crs:EPSG::4326") > 0
        assert features(bbox=brittany_xy + ",EPSG:4326") < features()
        for path, params in (
                ("/wfs", {"service": "WFS", "request": "GetFeature", "typeNames": ds, "bbox": "1,2,3,nan"}),
                ("/wms", {"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": ds, "styles": "",
                          "crs": "EPSG:4326", "bbox": "47,-5,0,49,-1,0", "width": "10", "height": "10"}),
                (f"/ogc/collections/{ds}/items", {"bbox": "-5,47,-1,inf"}),
                ("/ogc/collections/catalog/items", {"bbox": "-5,49,-1,47"}),
                ("/api/v1/records", {"bbox": "-5,47,-1,nan"})):
            response = client.get(path, params=params)
            assert response.status_code == 400, (path, response.status_code, response.text)
            assert "bbox" in response.text.lower()
