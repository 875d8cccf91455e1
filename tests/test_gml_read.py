"""GML geometries as WFS-T clients send them: GML 2 forms (coordinates with separators, coord, outerBoundaryIs),
GML 3.1.1 and 3.2; unreadable ones are refused with the reason."""

from __future__ import annotations

import pytest
import shapely
from lxml import etree

from kartenn.formats.gml_read import GMLGeometryError, read_geometry

G2 = 'xmlns:gml="http://www.opengis.net/gml"'
CASES = {
    f'<gml:Point {G2} srsName="EPSG:2154"><gml:coordinates>145000,6830000</gml:coordinates></gml:Point>':
        "POINT (145000 6830000)",
    f'<gml:Point {G2}><gml:coord><gml:X>1</gml:X><gml:Y>2</gml:Y></gml:coord></gml:Point>': "POINT (1 2)",
    f'<gml:LineString {G2}><gml:coord><gml:X>1</gml:X><gml:Y>2</gml:Y></gml:coord>'
    '<gml:coord><gml:X>3</gml:X><gml:Y>4</gml:Y></gml:coord></gml:LineString>': "LINESTRING (1 2, 3 4)",
    f'<gml:LineString {G2}><gml:coordinates cs=";" ts="|" decimal=",">1,5;2,5|3;4</gml:coordinates>'
    '</gml:LineString>': "LINESTRING (1.5 2.5, 3 4)",
    f'<gml:LineString {G2}><gml:coordinates>0, 0  1 ,1\n 2,2</gml:coordinates></gml:LineString>':
        "LINESTRING (0 0, 1 1, 2 2)",
    f'<gml:MultiPolygon {G2}><gml:polygonMember><gml:Polygon><gml:outerBoundaryIs><gml:LinearRing>'
    '<gml:coordinates>0,0 4,0 4,4 0,0</gml:coordinates></gml:LinearRing></gml:outerBoundaryIs><gml:innerBoundaryIs>'
    '<gml:LinearRing><gml:coordinates>1,0.5 3,0.5 3,2.5 1,0.5</gml:coordinates></gml:LinearRing></gml:innerBoundaryIs>'
    '</gml:Polygon></gml:polygonMember></gml:MultiPolygon>':
        "MULTIPOLYGON (((0 0, 4 0, 4 4, 0 0), (1 0.5, 3 0.5, 3 2.5, 1 0.5)))",
    f'<gml:MultiLineString {G2}><gml:lineStringMember><gml:LineString><gml:coordinates>0,0 1,1</gml:coordinates>'
    '</gml:LineString></gml:lineStringMember></gml:MultiLineString>': "MULTILINESTRING ((0 0, 1 1))",
    f'<gml:MultiSurface {G2}><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>'
    '<gml:posList>0 0 1 0 1 1 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>'
    '</gml:MultiSurface>': "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))",
    '<gml:Polygon xmlns:gml="http://www.opengis.net/gml/3.2" gml:id="a"><gml:exterior><gml:LinearRing>'
    '<gml:posList>0 0 1 0 1 1 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>':
        "POLYGON ((0 0, 1 0, 1 1, 0 0))",
}


@pytest.mark.parametrize("text", list(CASES))
def test_gml_geometries_are_read(text):
    got = shapely.geometry.shape(read_geometry(etree.fromstring(text)))
    assert got.equals_exact(shapely.from_wkt(CASES[text]), 1e-9), got.wkt


def test_srs_name_is_kept():
    text = list(CASES)[0]
    assert read_geometry(etree.fromstring(text))["crs"]["properties"]["name"] == "EPSG:2154"


@pytest.mark.parametrize("text, reason", [
    (f'<gml:LineString {G2}><gml:coordinates>0,a 1,1</gml:coordinates></gml:LineString>', "not a number"),
    (f'<gml:LineString {G2}><gml:coordinates>0,0 1,1,1</gml:coordinates></gml:LineString>', "2 or all have 3"),
    (f'<gml:Point {G2}><gml:coord><gml:X>1</gml:X></gml:coord></gml:Point>', "gml:X and gml:Y"),
    (f'<gml:LineString {G2}><gml:coordinates cs="," ts=",">0,0</gml:coordinates></gml:LineString>', "separators"),
    (f'<gml:Curve {G2}/>', "not supported"),
    ('<Point/>', "not a GML geometry"),
])
def test_unreadable_geometries_say_why(text, reason):
    with pytest.raises(GMLGeometryError, match=reason):
        read_geometry(etree.fromstring(text))
