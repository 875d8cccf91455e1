"""Malformed filters at every filter entry point, on both stores, against a real server: each is answered
200 or 4xx (a problem document on OGC API, an OGC exception report on WFS and CSW), never a 500 nor a
dropped connection. The review's cases and the limits on size, terms and depth are checked one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from lxml import etree

from conftest import LiveServer, shared
from kartenn.domain.security import OPERATOR
from kartenn.services.publish import publish_file

REGIONS = "france-admin-express-2018/regions.geojson"
FES20, OGC = "http://www.opengis.net/fes/2.0", "http://www.opengis.net/ogc"
GML32, GML311 = "http://www.opengis.net/gml/3.2", "http://www.opengis.net/gml"
OWS_NS = ("http://www.opengis.net/ows/1.1", "http://www.opengis.net/ows")
DEEP_NOT = "NOT (" * 5000 + "nom = 'a'" + ")" * 5000
MANY_OR = " OR ".join(f"rank = {i}" for i in range(1500))

# CQL2 text over the features' queryables: nom, code (strings), rank (integer), area (number), created (date),
# seen (date-time), geometry.
CQL2_TEXT = [
    "nom = 5", "rank = 'abc'", "rank > 'x'", "area BETWEEN 1 AND 'x'", "nom BETWEEN 1 AND 'x'",
    "rank BETWEEN 'a' AND 5",
    "created = 5", "created > 'notadate'", "rank = DATE('2020-01-01')", "rank IN (1, 'x')", "nom IN ('a', 2)",
    "seen > 3.5", "rank = TRUE", "nom = TRUE",
    "nom LIKE '%\\'", "nom LIKE 'Bre%\\'", "nom LIKE 5", "rank LIKE 'a%'", "nom LIKE nom", "created LIKE '2018%'",
    "S_INTERSECTS(nom, POINT(0 0))", "S_INTERSECTS(geometry, 'x')", "S_INTERSECTS(geometry, POINT(1e400 0))",
    "S_INTERSECTS(geometry, POINT(1e300 1e300))",
    "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "S_INTERSECTS(geometry, BBOX(10, 10, 0, 0))",
    "S_WITHIN(geometry, POLYGON((0 0, 1 1)))", "S_INTERSECTS(geometry, LINESTRING(0 0))",
    "S_INTERSECTS(POINT(0 0), POINT(1 1))", "S_INTERSECTS(geometry, geometry)", "S_CONTAINS(rank, BBOX(0, 0, 1, 1))",
    "S_INTERSECTS(geometry, BBOX(-200, -100, 200, 100))", "S_INTERSECTS(geometry, POINT(0 91))",
    "T_AFTER(nom, TIMESTAMP('2020-01-01T00:00:00Z'))", "T_AFTER(rank, DATE('2020-01-01'))",
    "T_DURING(created, INTERVAL('2020-01-01', '2010-01-01'))", "T_DURING(seen, INTERVAL('2020-01-01T00:00:00Z', "
    "'2019-01-01T00:00:00Z'))", "T_AFTER(created, 5)", "T_AFTER(created, 'x')",
    "T_INTERSECTS(geometry, DATE('2020-01-01'))",
    "T_AFTER(DATE('2020-01-01'), DATE('2019-01-01'))", "T_AFTER(created, INTERVAL(created, '..'))",
    "seen = TIMESTAMP('2020-13-45T00:00:00Z')", "created = DATE('2020-02-30')",
    "unknown = 1", "foo(nom) = 1", "nom = foo(1)", "nom = nom", "rank + 1 = 2", "CASEI(nom) = 'a'",
    "A_CONTAINS(nom, ('a'))", "nom ~ 'x'", "nom = ", "", " ", "AND", "((nom = 'a')", "nom IN ()", "nom IS NULL AND",
    "rank > 99999999999999999999999", "rank > -99999999999999999999999", "rank > 1e400", "area < -1e400",
    "area = 1e308", "nom = 'a\x00b'", "nom = '\U0001f986\u202e\ufffe'", "\x00", "nom\x00 = 'a'",
    "created BETWEEN DATE('2020-01-01') AND 5", "seen BETWEEN TIMESTAMP('2020-01-01T00:00:00Z') AND 'x'",
    DEEP_NOT, MANY_OR, "(" * 3000 + "nom = 'a'" + ")" * 3000, "nom = '" + "x" * 70_000 + "'",
    "nom LIKE '" + "%_" * 30_000 + "'", "rank IN (" + ", ".join(str(i) for i in range(5000)) + ")",
]


def _deep_json(depth: int) -> str:
    return '{"op": "not", "args": [' * depth + '{"op": "=", "args": [{"property": "nom"}, "a"]}' + "]}" * depth


def _prop(name: str) -> dict[str, str]:
    return {"property": name}


CQL2_JSON: list[Any] = [
    {"op": "like", "args": [_prop("nom"), _prop("code")]}, {"op": "like", "args": [_prop("nom"), "%\\"]},
    {"op": "like", "args": [_prop("nom")]}, {"op": "like", "args": []}, {"op": "like", "args": [_prop("nom"), 5]},
    {"op": "like", "args": [5, "a%"]}, {"op": "=", "args": [_prop("nom"), 5]},
    {"op": "=", "args": [_prop("rank"), "x"]},
    {"op": "between", "args": [_prop("nom"), 1, "x"]}, {"op": "between", "args": [_prop("rank"), 1]},
    {"op": "in", "args": [_prop("rank"), [1, "x"]]}, {"op": "in", "args": [_prop("rank"), 5]},
    {"op": "=", "args": [_prop("rank"), True]}, {"op": "=", "args": [_prop("rank"), 1e308]},
    {"op": "=", "args": [_prop("rank"), 2**70]}, {"op": "=", "args": [_prop("nom"), "a\u0000b"]},
    {"op": "=", "args": [_prop("nom"), None]}, {"op": "=", "args": [_prop("nom"), [1, 2]]},
    {"op": "=", "args": [_prop("nom"), {"x": 1}]}, {"op": "=", "args": [{"function": {"name": "foo", "args": []}}, 1]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Point", "coordinates": ["a", 0]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Point", "coordinates": [1e308, 1e308]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Polygon", "coordinates": [[[0, 0]]]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Polygon", "coordinates": []}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Nothing", "coordinates": [0, 0]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"type": "Point"}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"bbox": [0, 0, "x", 1]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"bbox": [0, 0, 1]}]},
    {"op": "s_intersects", "args": [_prop("geometry"), {"bbox": 5}]},
    {"op": "s_intersects", "args": [_prop("nom"), {"type": "Point", "coordinates": [0, 0]}]},
    {"op": "s_intersects", "args": [_prop("geometry")]},
    {"op": "t_after", "args": [_prop("nom"), {"timestamp": "2020-01-01T00:00:00Z"}]},
    {"op": "t_during", "args": [_prop("created"), {"interval": ["2020-01-01", "2010-01-01"]}]},
    {"op": "t_during", "args": [_prop("created"), {"interval": ["x", "y"]}]},
    {"op": "t_during", "args": [_prop("created"), {"interval": ["2020-01-01"]}]},
    {"op": "t_after", "args": [_prop("created"), 5]}, {"op": "t_after", "args": [_prop("created"), {"date": 5}]},
    {"op": "t_after", "args": [_prop("created")]},
    {"op": "foo", "args": []}, {"op": "and", "args": []}, {"op": "and"}, {"op": "and", "args": [True]},
    {"op": "not", "args": []}, [], 5, "x", None, {}, {"args": []}, {"op": None},
    {"op": "or", "args": [{"op": "=", "args": [_prop("rank"), i]} for i in range(1500)]},
    {"op": "isNull", "args": [_prop("unknown")]}, {"op": "isNull", "args": [5]},
]
CQL2_JSON_TEXT = ['{"op": "=", "args": [{"property": "rank"}, NaN]}',
                  '{"op": "=", "args": [{"property": "rank"}, 1e400]}', "{",
                  '{"op": "=", "args": [{"property": "nom"}, "\\ud800"]}', "\x00", "[" * 5000,
                  _deep_json(5000), _deep_json(900), _deep_json(60)]

# FES 2.0 operators; the Filter 1.1 forms are made from them.
FES = [
    '<fes:PropertyIsLike wildCard="%" singleChar="_" escapeChar="\\"><fes:ValueReference>nom</fes:ValueReference>'
    '<fes:Literal>%\\</fes:Literal></fes:PropertyIsLike>',
    '<fes:PropertyIsLike wildCard="%" singleChar="_" escapeChar="!"><fes:ValueReference>nom</fes:ValueReference>'
    '<fes:ValueReference>code</fes:ValueReference></fes:PropertyIsLike>',
    '<fes:PropertyIsLike wildCard="%" singleChar="_" escapeChar="!"><fes:ValueReference>nom</fes:ValueReference>'
    '</fes:PropertyIsLike>',
    "<fes:PropertyIsBetween><fes:ValueReference>rank</fes:ValueReference><fes:LowerBoundary><fes:Literal>1"
    "</fes:Literal></fes:LowerBoundary><fes:UpperBoundary><fes:Literal>x</fes:Literal></fes:UpperBoundary>"
    "</fes:PropertyIsBetween>",
    "<fes:PropertyIsBetween><fes:ValueReference>nom</fes:ValueReference><fes:LowerBoundary><fes:Literal>1"
    "</fes:Literal></fes:LowerBoundary></fes:PropertyIsBetween>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal>abc</fes:Literal>"
    "</fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal>99999999999999999999999"
    "</fes:Literal></fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal>NaN</fes:Literal>"
    "</fes:PropertyIsEqualTo>",
    '<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal type="xs:int">x'
    "</fes:Literal></fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>created</fes:ValueReference><fes:Literal>5</fes:Literal>"
    "</fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference><fes:Literal>53</fes:Literal>"
    "</fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference></fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>unknown</fes:ValueReference><fes:Literal>1</fes:Literal>"
    "</fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:Literal>1</fes:Literal><fes:Literal>1</fes:Literal></fes:PropertyIsEqualTo>",
    "<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference><fes:ValueReference>code</fes:ValueReference>"
    "</fes:PropertyIsEqualTo>",
    "<fes:PropertyIsNil><fes:ValueReference>nom</fes:ValueReference></fes:PropertyIsNil>",
    "<fes:PropertyIsNull><fes:ValueReference>unknown</fes:ValueReference></fes:PropertyIsNull>",
    "<fes:Function name='foo'><fes:Literal>1</fes:Literal></fes:Function>",
    "<fes:NoSuchOperator/>", "<fes:And/>", "<fes:Not/>", "<fes:Or><fes:ResourceId rid='regions.1'/></fes:Or>",
    "<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope><gml:lowerCorner>nan nan</gml:lowerCorner>"
    "<gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></fes:BBOX>",
    "<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope><gml:lowerCorner>-inf 0</gml:lowerCorner>"
    "<gml:upperCorner>inf 1</gml:upperCorner></gml:Envelope></fes:BBOX>",
    "<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope><gml:lowerCorner>0</gml:lowerCorner>"
    "</gml:Envelope></fes:BBOX>",
    '<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName="EPSG:999999">'
    "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></fes:BBOX>",
    '<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope srsName="not a crs">'
    "<gml:lowerCorner>0 0</gml:lowerCorner><gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></fes:BBOX>",
    '<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Point gml:id="p" srsName="EPSG:4326">'
    "<gml:pos>1e400 0</gml:pos></gml:Point></fes:Intersects>",
    '<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Point gml:id="p" srsName="EPSG:4326">'
    "<gml:pos>a b</gml:pos></gml:Point></fes:Intersects>",
    '<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Polygon gml:id="p" srsName="EPSG:4326">'
    "<gml:exterior><gml:LinearRing><gml:posList>0 0 1 1 1 0 0 1 0 0</gml:posList></gml:LinearRing></gml:exterior>"
    "</gml:Polygon></fes:Intersects>",
    '<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Polygon gml:id="p" srsName="EPSG:4326">'
    "<gml:exterior><gml:LinearRing><gml:posList>0 0 1</gml:posList></gml:LinearRing></gml:exterior>"
    "</gml:Polygon></fes:Intersects>",
    '<fes:Intersects><fes:ValueReference>geom</fes:ValueReference><gml:Nothing gml:id="p"/></fes:Intersects>',
    '<fes:Intersects><fes:ValueReference>nom</fes:ValueReference><gml:Point gml:id="p" srsName="EPSG:4326">'
    "<gml:pos>0 0</gml:pos></gml:Point></fes:Intersects>",
    "<fes:After><fes:ValueReference>nom</fes:ValueReference><gml:TimeInstant gml:id='t'><gml:timePosition>"
    "2020-01-01T00:00:00Z</gml:timePosition></gml:TimeInstant></fes:After>",
    "<fes:After><fes:ValueReference>created</fes:ValueReference><fes:Literal>x</fes:Literal></fes:After>",
    "<fes:During><fes:ValueReference>created</fes:ValueReference><gml:TimePeriod gml:id='t'><gml:beginPosition>"
    "2020-01-01</gml:beginPosition><gml:endPosition>2010-01-01</gml:endPosition></gml:TimePeriod></fes:During>",
    "<fes:During><fes:ValueReference>created</fes:ValueReference><gml:TimePeriod gml:id='t'><gml:beginPosition>"
    "x</gml:beginPosition><gml:endPosition>y</gml:endPosition></gml:TimePeriod></fes:During>",
    "<fes:AnyInteracts><fes:ValueReference>rank</fes:ValueReference><fes:Literal>2020-01-01</fes:Literal>"
    "</fes:AnyInteracts>",
    "<fes:Or>" + "".join(f"<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal>{i}"
                         "</fes:Literal></fes:PropertyIsEqualTo>" for i in range(1500)) + "</fes:Or>",
    "<fes:Not>" * 200 + "<fes:PropertyIsNull><fes:ValueReference>nom</fes:ValueReference></fes:PropertyIsNull>"
    + "</fes:Not>" * 200,
    "<fes:Not>" * 5000 + "<fes:PropertyIsNull><fes:ValueReference>nom</fes:ValueReference></fes:PropertyIsNull>"
    + "</fes:Not>" * 5000,
    "<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference><fes:Literal>" + "x" * 70_000
    + "</fes:Literal></fes:PropertyIsEqualTo>",
]
FES_BROKEN = ["<fes:Filter", "not xml", "<fes:Filter xmlns:fes='" + FES20 + "'>\x01</fes:Filter>",
              "<other/>", "(<a/>)(<b/>)"]
BBOXES = ["nan,nan,nan,nan", "nan,0,1,1", "inf,0,1,1", "-inf,-inf,inf,inf", "0,0,1", "a,b,c,d", "1e400,0,1e401,1",
          "0,0,1,1,EPSG:999999", "0,0,1,1,urn:ogc:def:crs:EPSG::foo", "10,10,0,0", "0,0,1,1,\x00", ",,,",
          "0,0,1,1,CRS84,x", "-1e308,-1e308,1e308,1e308", "-1e308,-1e308,1e308,1e308,EPSG:2154",
          "-1e308,-1e308,1e308,1e308,EPSG:4326", "0,0,1,1,0,0,1,1,1", "48,-5,49,-4,urn:ogc:def:crs:EPSG::4326"]
RESOURCE_IDS = ["regions.99999999999999999999999", "regions.-1", "regions.x", "x", ",,,", "regions.", "\x00",
                "regions.1e5", ",".join(f"regions.{i}" for i in range(3000)), "nosuchtype.1", "regions.1.2"]

# CQL of the catalogue (OGC API Records: CQL2; CSW: the CQL of OGC 07-006 as ECQL)
RECORD_CQL = [
    "title = 5", "title LIKE '%\\'", "title LIKE 5", "title BETWEEN 1 AND 'x'", "updated > 5",
    "T_AFTER(updated, 5)", "T_DURING(updated, INTERVAL('2020-01-01', '2010-01-01'))", "title = 'a\x00b'",
    "S_INTERSECTS(geometry, POINT(1e400 0))", "S_INTERSECTS(geometry, BBOX(10, 10, 0, 0))",
    "S_INTERSECTS(title, POINT(0 0))", "unknown = 1", "q LIKE '%\\'", "q LIKE '" + "%a" * 30_000 + "'",
    DEEP_NOT.replace("nom", "title"), MANY_OR.replace("rank", "title"), "title IN (1, 'x')", "title = TRUE",
]
CSW_CQL = [
    "dc:title = 5", "dc:title LIKE '%\\'", "dc:title BETWEEN 1 AND 'x'", "dct:modified > 5", "dc:title = 'a\x00b'",
    "BBOX(ows:BoundingBox, nan, 0, 1, 1)", "BBOX(ows:BoundingBox, 10, 10, 0, 0)", "BBOX(dc:title, 0, 0, 1, 1)",
    "dct:modified AFTER 2020-01-01T00:00:00Z", "dc:title AFTER 2020-01-01T00:00:00Z",
    "dct:modified DURING 2020-01-01T00:00:00Z/2010-01-01T00:00:00Z", "csw:AnyText LIKE '%\\'",
    "INTERSECTS(ows:BoundingBox, POINT(1e400 0))", "unknown = 1", "dc:title = dc:title", "dc:title IN (1, 'x')",
    "NOT (" * 5000 + "dc:title = 'a'" + ")" * 5000, " OR ".join(f"dc:title = '{i}'" for i in range(1500)),
    "dc:title = '" + "x" * 70_000 + "'", "", "dc:title LIKE",
]
CSW_FILTER = [
    "<ogc:PropertyIsLike wildCard='%' singleChar='_' escapeChar='\\'><ogc:PropertyName>dc:title</ogc:PropertyName>"
    "<ogc:Literal>%\\</ogc:Literal></ogc:PropertyIsLike>",
    "<ogc:PropertyIsLike wildCard='%' singleChar='_' escapeChar='\\'><ogc:PropertyName>dc:title</ogc:PropertyName>"
    "<ogc:PropertyName>dc:abstract</ogc:PropertyName></ogc:PropertyIsLike>",
    "<ogc:PropertyIsBetween><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:LowerBoundary><ogc:Literal>1"
    "</ogc:Literal></ogc:LowerBoundary><ogc:UpperBoundary><ogc:Literal>x</ogc:Literal></ogc:UpperBoundary>"
    "</ogc:PropertyIsBetween>",
    "<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal type='xs:int'>5"
    "</ogc:Literal></ogc:PropertyIsEqualTo>",
    "<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:title</ogc:PropertyName></ogc:PropertyIsEqualTo>",
    "<ogc:PropertyIsEqualTo><ogc:PropertyName>nosuch</ogc:PropertyName><ogc:Literal>1</ogc:Literal>"
    "</ogc:PropertyIsEqualTo>",
    "<ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName><gml:Envelope><gml:lowerCorner>nan 0"
    "</gml:lowerCorner><gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></ogc:BBOX>",
    "<ogc:BBOX><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName><gml:Envelope><gml:lowerCorner>0"
    "</gml:lowerCorner></gml:Envelope></ogc:BBOX>",
    "<ogc:BBOX><ogc:PropertyName>dc:title</ogc:PropertyName><gml:Envelope><gml:lowerCorner>0 0"
    "</gml:lowerCorner><gml:upperCorner>1 1</gml:upperCorner></gml:Envelope></ogc:BBOX>",
    "<ogc:Intersects><ogc:PropertyName>ows:BoundingBox</ogc:PropertyName><gml:Point><gml:pos>a b</gml:pos>"
    "</gml:Point></ogc:Intersects>",
    "<ogc:Or>" + "".join(f"<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>{i}"
                         "</ogc:Literal></ogc:PropertyIsEqualTo>" for i in range(1500)) + "</ogc:Or>",
    "<ogc:Not>" * 200 + "<ogc:PropertyIsNull><ogc:PropertyName>dc:title</ogc:PropertyName></ogc:PropertyIsNull>"
    + "</ogc:Not>" * 200,
    "<ogc:NoSuch/>", "<ogc:And/>",
]


def fes11(fes20: str) -> str:
    """A FES 2.0 operator as Filter 1.1 writes it."""
    return fes20.replace("fes:ValueReference", "ogc:PropertyName").replace("fes:", "ogc:")


def fes_filter(operator: str, version: str) -> str:
    if version == "2.0.0":
        return f'<fes:Filter xmlns:fes="{FES20}" xmlns:gml="{GML32}">{operator}</fes:Filter>'
    return f'<ogc:Filter xmlns:ogc="{OGC}" xmlns:gml="{GML311}">{fes11(operator)}</ogc:Filter>'


def wfs_post(filter_xml: str, version: str) -> str:
    wfs = "http://www.opengis.net/wfs/2.0" if version == "2.0.0" else "http://www.opengis.net/wfs"
    names = "typeNames" if version == "2.0.0" else "typeName"
    return (f'<wfs:GetFeature service="WFS" version="{version}" xmlns:wfs="{wfs}" '
            f'xmlns:kartenn="urn:x-kartenn:features" outputFormat="application/json">'
            f'<wfs:Query {names}="kartenn:dated">{filter_xml}</wfs:Query></wfs:GetFeature>')


def csw_post(constraint: str) -> str:
    return ('<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:gml="http://www.opengis.net/gml" service="CSW" version="2.0.2" resultType="results">'
            f'<csw:Query typeNames="csw:Record"><csw:ElementSetName>brief</csw:ElementSetName>'
            f'<csw:Constraint version="1.1.0">{constraint}</csw:Constraint></csw:Query></csw:GetRecords>')


def csw_filter(operator: str) -> str:
    return f'<ogc:Filter xmlns:ogc="{OGC}" xmlns:gml="{GML311}">{operator}</ogc:Filter>'


@pytest.fixture
def corpus_server(site, tmp_path) -> Iterator[LiveServer]:
    """Regions with typed properties of every kind, and the catalogue's real records."""
    from kartenn.services.records import import_paths

    regions = json.loads(shared(REGIONS).read_text())
    for i, feature in enumerate(regions["features"]):
        feature["properties"].update(rank=i, area=i * 1.5, created=f"20{10 + i}-03-01",
                                     seen=f"20{10 + i}-03-01T12:30:00Z")
    dated = tmp_path / "dated.geojson"
    dated.write_text(json.dumps(regions))
    assert not publish_file(site, dated)[0].error
    assert import_paths(site.seen_by(OPERATOR), [shared("iso-metadata-records")]).errors == []
    live = LiveServer(site.settings).start()
    yield live
    live.stop()


Request = tuple[str, str, dict[str, str], str | None, str]  # method, path, params, body, kind of answer


def requests() -> Iterator[tuple[str, Request]]:
    """Every (entry point, malformed filter) pair, with the kind of answer expected (json or xml)."""
    items = "/ogc/collections/dated/items"
    records = "/ogc/collections/catalog/items"
    for text in CQL2_TEXT:
        yield "features cql2-text", ("GET", items, {"filter": text, "filter-lang": "cql2-text"}, None, "json")
        yield "features cql2-text filter-crs", ("GET", items, {"filter": text, "filter-crs": "[EPSG:2154]"}, None,
                                                "json")
    for text in RECORD_CQL + CQL2_TEXT[:20]:
        yield "records cql2-text", ("GET", records, {"filter": text}, None, "json")
    for document in CQL2_JSON:
        text = json.dumps(document)
        yield "features cql2-json", ("GET", items, {"filter": text, "filter-lang": "cql2-json"}, None, "json")
        yield "features cql2-json POST", ("POST", items, {}, text, "json")
        yield "records cql2-json", ("GET", records, {"filter": text, "filter-lang": "cql2-json"}, None, "json")
    for text in CQL2_JSON_TEXT:
        yield "features cql2-json text", ("GET", items, {"filter": text, "filter-lang": "cql2-json"}, None, "json")
        yield "features cql2-json text POST", ("POST", items, {}, text, "json")
        yield "records cql2-json POST", ("POST", records, {}, text, "json")
    for lang in ("cql2-xml", "ecql", "", "CQL2-TEXT\x00"):
        yield "filter-lang", ("GET", items, {"filter": "nom = 'a'", "filter-lang": lang}, None, "json")
    for crs in ("[EPSG:999999]", "http://www.opengis.net/def/crs/EPSG/0/x", "\x00", "[EPSG:2154"):
        yield "filter-crs", ("GET", items, {"filter": "S_INTERSECTS(geometry, POINT(0 0))", "filter-crs": crs}, None,
                             "json")
    wfs = {"service": "WFS", "request": "GetFeature"}
    for version, names in (("2.0.0", "typeNames"), ("1.1.0", "typeName")):
        for operator in FES:
            flt = fes_filter(operator, version)
            yield f"wfs {version} KVP FILTER", ("GET", "/wfs", {**wfs, "version": version, names: "kartenn:dated",
                                                               "filter": flt}, None, "xml")
            yield f"wfs {version} POST", ("POST", "/wfs", {}, wfs_post(flt, version), "xml")
        for broken in FES_BROKEN:
            yield f"wfs {version} KVP FILTER", ("GET", "/wfs", {**wfs, "version": version, names: "kartenn:dated",
                                                               "filter": broken}, None, "xml")
        for box in BBOXES:
            yield f"wfs {version} BBOX", ("GET", "/wfs", {**wfs, "version": version, names: "kartenn:dated",
                                                         "bbox": box}, None, "xml")
        for ids in RESOURCE_IDS:
            key = "resourceId" if version == "2.0.0" else "featureId"
            yield f"wfs {version} RESOURCEID", ("GET", "/wfs", {**wfs, "version": version, key: ids}, None, "xml")
    csw = {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
           "resulttype": "results"}
    for text in CSW_CQL:
        yield "csw KVP CQL_TEXT", ("GET", "/csw", {**csw, "constraintlanguage": "CQL_TEXT", "constraint": text},
                                   None, "xml")
        yield "csw POST CqlText", ("POST", "/csw", {}, csw_post(f"<csw:CqlText>{_escape(text)}</csw:CqlText>"),
                                   "xml")
    for operator in CSW_FILTER:
        flt = csw_filter(operator)
        yield "csw KVP FILTER", ("GET", "/csw", {**csw, "constraintlanguage": "FILTER", "constraint": flt}, None,
                                 "xml")
        yield "csw POST Filter", ("POST", "/csw", {}, csw_post(flt), "xml")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("\x00", "")


def answer(http: httpx.Client, request: Request) -> str | None:
    """What is wrong with the answer, or None."""
    method, path, params, body, kind = request
    content = body.encode() if body is not None else None
    try:
        try:
            r = http.request(method, path, params=params, content=content)
        except (httpx.RemoteProtocolError, httpx.ReadError):  # a kept-alive connection closed: once more
            r = http.request(method, path, params=params, content=content)
    except httpx.InvalidURL:
        return None  # too long for a URL (64 KB): no client can send it; the POST forms carry it
    except httpx.TransportError as exc:
        return f"dropped connection: {exc!r}"
    if r.status_code != 200 and not 400 <= r.status_code < 500:
        return f"{r.status_code}: {r.text[:300]}"
    if r.status_code == 200:
        return None
    if kind == "json":
        problem = orjson.loads(r.content)
        return None if r.headers["content-type"] == "application/problem+json" and problem.get("detail") else \
            f"{r.status_code} without a problem document: {r.text[:200]}"
    report = etree.fromstring(r.content)
    code = report.find("{*}Exception")
    if etree.QName(report).namespace not in OWS_NS or code is None or not code.get("exceptionCode"):
        return f"{r.status_code} without an exception report: {r.text[:200]}"
    return None


def test_malformed_filters_get_200_or_4xx_at_every_entry_point(corpus_server):
    failures, seen = [], set()
    with corpus_server.client() as http:
        for entry, request in requests():
            seen.add(entry)
            wrong = answer(http, request)
            if wrong:
                shown = {k: (v[:120] + "…" if len(v) > 120 else v) for k, v in request[2].items()}
                failures.append(f"{entry} {shown} {(request[3] or '')[:160]!r}: {wrong}")
        assert http.get("/healthz").status_code == 200
    assert len(seen) >= 20
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def _problem(r: httpx.Response, *words: str) -> str:
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", (r.status_code, r.text)
    detail = r.json()["detail"]
    assert all(w in detail for w in words), detail
    return str(detail)


def _report(r: httpx.Response, code: str, *words: str) -> str:
    assert r.status_code == 400, (r.status_code, r.text)
    exception = etree.fromstring(r.content).find("{*}Exception")
    assert exception.get("exceptionCode") == code, r.text
    text = exception.findtext("{*}ExceptionText")
    assert all(w in text for w in words), text
    return str(text)


def _ors(name: str, values: list[Any]) -> str:
    return " OR ".join(f"{name} = {v!r}" for v in values)


def _alternating(name: str, depth: int) -> str:
    """ORs and ANDs nested in turn, ``depth`` levels."""
    text = f"{name} = 'end'"
    for i in range(depth):
        text = f"({name} = '{i}' {'OR' if i % 2 else 'AND'} {text})"
    return text


def test_the_reviews_cases_get_400_with_a_reason_and_limits_hold(corpus_server, store):
    items, records = "/ogc/collections/dated/items", "/ogc/collections/catalog/items"
    wfs = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "kartenn:dated"}
    csw = {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
           "resulttype": "results", "constraintlanguage": "CQL_TEXT"}
    like_property = json.dumps({"op": "like", "args": [_prop("nom"), _prop("code")]})
    with corpus_server.client() as http:
        _problem(http.get(items, params={"filter": like_property, "filter-lang": "cql2-json"}), "pattern")
        _problem(http.post(items, content=like_property), "pattern")
        _problem(http.get(records, params={"filter": like_property.replace("nom", "title"),
                                           "filter-lang": "cql2-json"}), "pattern")
        for box in ("nan,0,1,1", "0,0,inf,1"):
            _report(http.get("/wfs", params={**wfs, "bbox": box}), "InvalidParameterValue", "finite")
        _problem(http.get(items, params={"filter": "nom LIKE '%\\'"}), "escape character")
        _problem(http.get(records, params={"filter": "title LIKE '%\\'"}), "escape character")
        _report(http.get("/csw", params={**csw, "constraint": "dc:title LIKE '%\\'"}), "InvalidParameterValue",
                "escape character")
        _problem(http.get(items, params={"filter": "nom BETWEEN 1 AND 'x'"}), "'nom'", "text")
        _problem(http.get(items, params={"filter": "rank BETWEEN 1 AND 'x'"}), "'rank'", "number")
        _problem(http.get(records, params={"filter": "title BETWEEN 1 AND 'x'"}), "text")
        _problem(http.get(items, params={"filter": "rank LIKE '1%'"}), "LIKE", "text")
        _problem(http.get(items, params={"filter": "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))"}),
                 "not valid", "Self-intersection")
        _problem(http.get(items, params={"filter": "T_DURING(created, INTERVAL('2020-01-01', '2010-01-01'))"}),
                 "ends before it begins")
        _problem(http.get(items, params={"filter": "nom = 'a\x00b'"}), "NUL")
        many = [f"x{i}" for i in range(1500)]
        _problem(http.get(items, params={"filter": _ors("nom", many)}), "too many terms", "1000")
        _problem(http.get(records, params={"filter": _ors("title", many)}), "too many terms")
        _report(http.post("/csw", content=csw_post(csw_filter("<ogc:Or>" + "".join(
            f"<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:title</ogc:PropertyName><ogc:Literal>{v}</ogc:Literal>"
            "</ogc:PropertyIsEqualTo>" for v in many) + "</ogc:Or>"))), "InvalidParameterValue", "too long")
        _report(http.post("/wfs", content=wfs_post(fes_filter("<fes:Or>" + "".join(
            f"<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference><fes:Literal>{v}</fes:Literal>"
            "</fes:PropertyIsEqualTo>" for v in many) + "</fes:Or>", "2.0.0"), "2.0.0")), "InvalidParameterValue",
            "too long")
        _problem(http.get(items, params={"filter": DEEP_NOT}), "nested too deeply")
        _report(http.get("/csw", params={**csw, "constraint": _alternating("dc:title", 100)}),
                "InvalidParameterValue", "nested too deeply")
        _problem(http.get(records, params={"filter": _alternating("title", 100)}), "nested too deeply")
        _problem(http.post(items, content=_deep_json(21)), "nested too deeply")

        # At the limits, 1,000 ORed terms and 20 nested levels are served (SQLite's parser allows 1,000 ORs in a row
        # and some 30 levels of ORs and ANDs in turn).
        ranks = [5, *range(100, 1099)]
        found = http.get(items, params={"filter": _ors("rank", ranks), "limit": "50"})
        assert found.status_code == 200, found.text
        assert [f["properties"]["rank"] for f in found.json()["features"]] == [5]
        title = http.get(records, params={"limit": "1"}).json()["features"][0]["properties"]["title"]
        hit = http.get(records, params={"filter": _ors("title", [*many[:999], title])})
        assert hit.status_code == 200 and hit.json()["numberMatched"] >= 1, hit.text
        assert title in {f["properties"]["title"] for f in hit.json()["features"]}
        csw_hit = http.get("/csw", params={**csw, "constraint": _ors("dc:title", [*many[:999], title])})
        assert csw_hit.status_code == 200 and 'numberOfRecordsMatched="0"' not in csw_hit.text, csw_hit.text
        deep = "NOT (" * 20 + "nom = 'Bretagne'" + ")" * 20
        served = http.get(items, params={"filter": deep})
        assert served.status_code == 200 and served.json()["numberMatched"] == 1, served.text
        _problem(http.get(items, params={"filter": "NOT (" + deep + ")"}), "nested too deeply", "20")
        for path, name in ((items, "nom"), (records, "title")):
            served = http.get(path, params={"filter": _alternating(name, 20)})
            assert served.status_code == 200 and served.json()["numberMatched"] == 0, served.text
            served = http.get(path, params={"filter": "NOT (" * 20 + f"{name} <> 'x'" + ")" * 20})
            assert served.status_code == 200 and served.json()["numberMatched"] > 0, served.text
        served = http.get("/csw", params={**csw, "constraint": _alternating("dc:title", 20)})
        assert served.status_code == 200 and 'numberOfRecordsMatched="0"' in served.text, served.text

    # The limits are settings: a site may lower them.
    (corpus_server.settings.data_dir / "kartenn.toml").write_text(
        "filter_max_terms = 3\nfilter_max_depth = 2\nfilter_max_bytes = 1000\n")
    strict = LiveServer(corpus_server.settings).start()
    try:
        with strict.client() as http:
            assert http.get(items, params={"filter": _ors("rank", [1, 2, 3])}).json()["numberMatched"] == 3
            _problem(http.get(items, params={"filter": _ors("rank", [1, 2, 3, 4])}), "too many terms", "3")
            _problem(http.get(items, params={"filter": "rank IN (1, 2, 3)"}), "too many terms")
            assert http.get(items, params={"filter": "NOT (NOT (rank = 1))"}).status_code == 200
            _problem(http.get(items, params={"filter": "NOT (NOT (NOT (rank = 1)))"}), "nested too deeply", "2")
            _problem(http.get(items, params={"filter": f"nom = '{'x' * 1000}'"}), "too long", "1000")
            long = fes_filter(f"<fes:PropertyIsEqualTo><fes:ValueReference>nom</fes:ValueReference><fes:Literal>"
                              f"{'x' * 1000}</fes:Literal></fes:PropertyIsEqualTo>", "2.0.0")
            _report(http.get("/wfs", params={**wfs, "filter": long}), "InvalidParameterValue", "too long")
            _report(http.get("/csw", params={**csw, "constraint": _ors("dc:title", ["a", "b", "c", "d"])}),
                    "InvalidParameterValue", "too many terms")
            four = fes_filter("<fes:Or>" + "".join(
                f"<fes:PropertyIsEqualTo><fes:ValueReference>rank</fes:ValueReference><fes:Literal>{i}</fes:Literal>"
                "</fes:PropertyIsEqualTo>" for i in range(4)) + "</fes:Or>", "2.0.0")
            _report(http.get("/wfs", params={**wfs, "filter": four}), "InvalidParameterValue", "too many terms")
    finally:
        strict.stop()

    # Raised past what SQLite's parser holds, the limits let the database refuse: still a 400, with a reason.
    (corpus_server.settings.data_dir / "kartenn.toml").write_text("filter_max_depth = 200\n")
    lax = LiveServer(corpus_server.settings).start()
    try:
        with lax.client() as http:
            for path, name in ((items, "nom"), (records, "title")):
                r = http.get(path, params={"filter": _alternating(name, 60)})
                if store == "embedded":
                    _problem(r, "too complex for the database")
                else:
                    assert r.status_code == 200 and r.json()["numberMatched"] == 0, r.text
    finally:
        lax.stop()
