"""WFS 2.0.0 and 1.1.0 on both stores, judged by OWSLib, GDAL's WFS driver and QGIS-style requests."""

from __future__ import annotations

import httpx
import orjson
import pyogrio
import pytest
import shapely
from lxml import etree
from pyproj import Transformer

from conftest import kartenn, shared
from kartenn.services.publish import publish_file
from kartenn.site import Site
from xsd import LocalSchemas, assert_valid

REGIONS = "france-admin-express-2018/regions.geojson"
WFS = "http://www.opengis.net/wfs/2.0"
GML = "http://www.opengis.net/gml/3.2"
BREST = (-4.486, 48.390)
OBSERVATIONS = "timeseries/mapserver-obs.csv"  # 5 dated observations


@pytest.fixture(scope="module")
def published(module_site) -> Site:
    """The requests here only read (but the last test, which adds a private dataset)."""
    for path in (REGIONS, "nyc-boroughs/nybb_16a.zip", "osm-poi-portugal/poi_portugal.gpkg", OBSERVATIONS):
        assert not publish_file(module_site, shared(path))[0].error
    return module_site


def xml(response) -> etree._Element:
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def test_capabilities_describe_and_owslib_2(published, module_live_server):
    from owslib.wfs import WebFeatureService

    wfs = WebFeatureService(f"{module_live_server.url}/wfs", version="2.0.0")
    assert {"kartenn:regions", "kartenn:nybb", "kartenn:poi-portugal"} <= set(wfs.contents)
    regions = wfs.contents["kartenn:regions"]
    assert regions.boundingBoxWGS84[0] < -4 and regions.boundingBoxWGS84[3] > 50
    assert any("2154" in str(c) for c in regions.crsOptions)
    # Each type links its ISO record in the catalogue.
    [link] = regions.metadataUrls
    record = etree.fromstring(httpx.get(link["url"], timeout=60).content)
    assert record.find(".//{http://www.isotc211.org/2005/gmd}MD_Metadata") is not None
    assert "Regions" in record.findtext(".//{http://www.isotc211.org/2005/gmd}title/*")
    response = wfs.getfeature(typename="kartenn:regions", bbox=(-4.8, 47.8, -2.0, 48.6, "EPSG:4326"))
    names = {e.text for e in etree.fromstring(response.read()).iter("{urn:x-kartenn:features}nom")}
    assert "Bretagne" in names and "Corse" not in names
    pages = [etree.fromstring(wfs.getfeature(typename="kartenn:regions", startindex=start, maxfeatures=5,
                                             sortby=["nom"]).read()) for start in (0, 5, 10)]
    paged = [e.text for page in pages for e in page.iter("{urn:x-kartenn:features}nom")]
    assert [page.get("numberReturned") for page in pages] == ["5", "5", "3"]
    assert paged == sorted(paged) and len(set(paged)) == 13
    with module_live_server.client() as http:
        schema = xml(http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "DescribeFeatureType",
                                              "typeNames": "kartenn:regions"}))
        elements = {e.get("name"): e.get("type") for e in schema.iter("{http://www.w3.org/2001/XMLSchema}element")}
        assert elements["nom"] == "xsd:string" and elements["geom"] == "gml:MultiSurfacePropertyType"


def test_owslib_1_1_and_paging(published, module_live_server):
    from owslib.wfs import WebFeatureService

    wfs = WebFeatureService(f"{module_live_server.url}/wfs", version="1.1.0")
    assert "kartenn:poi-portugal" in wfs.contents
    response = wfs.getfeature(typename=["kartenn:regions"], maxfeatures=3)
    root = etree.fromstring(response.read())
    assert root.get("numberOfFeatures") == "3"
    with module_live_server.client() as http:
        base = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "kartenn:poi-portugal",
                "count": "1000", "sortBy": "osm_id DESC"}
        ids: list[str] = []
        url, params = "/wfs", base
        while url:
            page = xml(http.get(url, params=params))
            assert page.get("numberMatched") == "8107"
            ids += [m[0].get(f"{{{GML}}}id") for m in page.iter(f"{{{WFS}}}member")]
            url, params = page.get("next"), None
        assert len(ids) == len(set(ids)) == 8107
        hits = xml(http.get("/wfs", params={**base, "resultType": "hits"}))
        assert hits.get("numberMatched") == "8107" and hits.get("numberReturned") == "0"


def test_gdal_wfs_driver_reads_layers(published, module_live_server):
    url = f"WFS:{module_live_server.url}/wfs"
    layers = {name for name, _ in pyogrio.list_layers(url)}
    assert {"kartenn:regions", "kartenn:nybb"} <= layers
    frame = pyogrio.read_dataframe(url, layer="kartenn:regions")
    source = pyogrio.read_dataframe(shared(REGIONS))
    assert len(frame) == 13 and set(frame["nom"]) == set(source["nom"])
    got = frame[frame["nom"] == "Bretagne"].geometry.iloc[0]
    truth = source[source["nom"] == "Bretagne"].geometry.iloc[0]
    assert got.symmetric_difference(truth).area < 1e-4 * truth.area
    boroughs = pyogrio.read_dataframe(url, layer="kartenn:nybb")
    assert sorted(boroughs["BoroName"]) == sorted(pyogrio.read_dataframe(shared("nyc-boroughs/nybb_16a.zip"))
                                                  ["BoroName"])


def test_qgis_style_bbox_and_srsname_in_lambert_93(published, module_server):
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = to_l93.transform(*BREST)
    with module_server.client() as http:
        root = xml(http.get("/wfs", params={
            "SERVICE": "WFS", "VERSION": "2.0.0", "REQUEST": "GetFeature", "TYPENAMES": "kartenn:regions",
            "SRSNAME": "EPSG:2154", "BBOX": f"{x - 500},{y - 500},{x + 500},{y + 500},EPSG:2154"}))
        members = list(root.iter(f"{{{WFS}}}member"))
        assert [m[0].find("{urn:x-kartenn:features}nom").text for m in members] == ["Bretagne"]
        positions = members[0].iter(f"{{{GML}}}posList")
        coords = [float(v) for v in next(positions).text.split()]
        xs, ys = coords[0::2], coords[1::2]
        assert 100_000 < min(xs) < 400_000 and 6_700_000 < min(ys) < 6_900_000  # metres, east first
        ring = shapely.Polygon(list(zip(xs, ys, strict=True)))
        # One ring of Bretagne in Lambert-93 lies in the west of France, near Brest.
        assert ring.distance(shapely.Point(x, y)) < 200_000


def test_urn_4326_is_latitude_first(published, module_server):
    with module_server.client() as http:
        params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "kartenn:regions",
                  "srsName": "urn:ogc:def:crs:EPSG::4326",
                  "bbox": f"{BREST[1] - .01},{BREST[0] - .01},{BREST[1] + .01},{BREST[0] + .01},"
                          "urn:ogc:def:crs:EPSG::4326"}
        root = xml(http.get("/wfs", params=params))
        members = list(root.iter(f"{{{WFS}}}member"))
        assert len(members) == 1
        first = [float(v) for v in next(members[0].iter(f"{{{GML}}}posList")).text.split()[:2]]
        assert 41 < first[0] < 52 and -6 < first[1] < 10  # latitude, then longitude
        short = xml(http.get("/wfs", params={**params, "srsName": "EPSG:4326",
                                              "bbox": f"{BREST[0] - .01},{BREST[1] - .01},{BREST[0] + .01},"
                                                      f"{BREST[1] + .01},EPSG:4326"}))
        first = [float(v) for v in next(short.iter(f"{{{GML}}}posList")).text.split()[:2]]
        assert -6 < first[0] < 10 and 41 < first[1] < 52  # longitude first
        uri = xml(http.get("/wfs", params={**params, "srsName": "http://www.opengis.net/def/crs/EPSG/0/4326"}))
        first = [float(v) for v in next(uri.iter(f"{{{GML}}}posList")).text.split()[:2]]
        assert 41 < first[0] < 52 and -6 < first[1] < 10  # latitude first, as the URN


def test_geojson_members_are_streamed_in_their_crs(published, module_live_server):
    """GeoJSON in Lambert-93 says so; members are streamed (chunked, no length known in advance)."""
    params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "kartenn:regions",
              "srsName": "EPSG:2154", "outputFormat": "application/json"}
    with module_live_server.client() as http, http.stream("GET", "/wfs", params=params) as r:
        assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
        body = orjson.loads(r.read())
    assert body["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::2154" and body["numberReturned"] == 13
    assert all(100_000 < f["geometry"]["coordinates"][0][0][0][0] < 1_300_000 for f in body["features"])


def test_fes_match_case(published, module_server):
    """matchCase="false" compares texts whatever their case (FES 2.0 7.7.3.2); by default case counts."""
    def found(literal: str, match_case: str) -> list[str]:
        body = (f'<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="{WFS}" '
                'xmlns:fes="http://www.opengis.net/fes/2.0" outputFormat="application/json">'
                '<wfs:Query typeNames="kartenn:regions"><fes:Filter>'
                f'<fes:PropertyIsEqualTo matchCase="{match_case}"><fes:ValueReference>nom</fes:ValueReference>'
                f'<fes:Literal>{literal}</fes:Literal></fes:PropertyIsEqualTo></fes:Filter></wfs:Query>'
                '</wfs:GetFeature>')
        r = http.post("/wfs", content=body)
        assert r.status_code == 200, r.text
        return [f["properties"]["nom"] for f in r.json()["features"]]

    with module_server.client() as http:
        assert found("bretagne", "false") == ["Bretagne"]
        assert found("bretagne", "true") == []
        assert found("Bretagne", "true") == ["Bretagne"]


def test_fes_filters_sort_and_properties_by_post(published, module_server):
    body = f"""<wfs:GetFeature service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:fes="http://www.opengis.net/fes/2.0"
        xmlns:gml="{GML}" xmlns:kartenn="urn:x-kartenn:features" outputFormat="application/json">
      <wfs:Query typeNames="kartenn:regions">
        <wfs:PropertyName>kartenn:nom</wfs:PropertyName>
        <fes:Filter><fes:Or>
          <fes:PropertyIsLike wildCard="*" singleChar="." escapeChar="!">
            <fes:ValueReference>kartenn:nom</fes:ValueReference><fes:Literal>Pays*</fes:Literal></fes:PropertyIsLike>
          <fes:Intersects><fes:ValueReference>geom</fes:ValueReference>
            <gml:Point gml:id="p" srsName="urn:ogc:def:crs:EPSG::4326">
              <gml:pos>{BREST[1]} {BREST[0]}</gml:pos></gml:Point>
          </fes:Intersects>
        </fes:Or></fes:Filter>
        <fes:SortBy><fes:SortProperty><fes:ValueReference>nom</fes:ValueReference><fes:SortOrder>DESC</fes:SortOrder>
        </fes:SortProperty></fes:SortBy>
      </wfs:Query>
    </wfs:GetFeature>"""
    with module_server.client() as http:
        r = http.post("/wfs", content=body)
        assert r.status_code == 200, r.text
        features = r.json()["features"]
        assert [f["properties"]["nom"] for f in features] == ["Pays de la Loire", "Bretagne"]
        assert all(set(f["properties"]) == {"nom"} for f in features)
        one = features[0]["id"]
        by_id = xml(http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                             "storedQuery_id": "urn:ogc:def:query:OGC-WFS::GetFeatureById",
                                             "id": f"regions.{one}"}))
        assert by_id.find("{urn:x-kartenn:features}nom").text == "Pays de la Loire"
        values = xml(http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetPropertyValue",
                                              "typeNames": "kartenn:regions", "valueReference": "nom",
                                              "sortBy": "nom ASC", "count": "2"}))
        assert [m.text for m in values.iter(f"{{{WFS}}}member")] == sorted(
            f["properties"]["nom"] for f in http.get("/ogc/collections/regions/items?limit=50").json()["features"])[:2]
        stored = xml(http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "ListStoredQueries"}))
        assert stored.find(f"{{{WFS}}}StoredQuery").get("id") == "urn:ogc:def:query:OGC-WFS::GetFeatureById"


def test_responses_validate_against_the_schemas(published, module_server):
    """Features against DescribeFeatureType + GML 3.2.1 or 3.1.1, filter capabilities against FES 2.0 and
    Filter 1.1, exception reports against OWS 1.1 and 1.0, with the offline schemas."""
    gml311 = "http://www.opengis.net/gml"
    with module_server.client() as http:
        for version, member, gml_ns in (("2.0.0", f"{{{WFS}}}member", GML),
                                        ("1.1.0", f"{{{gml311}}}featureMember", gml311)):
            base = {"service": "WFS", "version": version, "typeNames": "kartenn:nybb,kartenn:poi-portugal"}
            described = http.get("/wfs", params={**base, "request": "DescribeFeatureType"}).content
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            parser.resolvers.add(LocalSchemas())
            schema = etree.XMLSchema(etree.fromstring(described, parser))
            for name in ("kartenn:nybb", "kartenn:poi-portugal"):
                collection = xml(http.get("/wfs", params={**base, "typeNames": name, "request": "GetFeature",
                                                          "count": "20", "maxFeatures": "20"}))
                features = [m[0] for m in collection.iter(member)]
                assert features and all(f.find("{urn:x-kartenn:features}geom")[0].tag.startswith(f"{{{gml_ns}}}")
                                        for f in features)
                for feature in features:
                    schema.assertValid(etree.ElementTree(feature))
        # No WFS schema is offline: the OWS and filter parts of the capabilities are validated one by one.
        caps = xml(http.get("/wfs", params={"service": "WFS", "request": "GetCapabilities"}))
        assert_valid(caps.find("{http://www.opengis.net/fes/2.0}Filter_Capabilities"), "filter/2.0/filterAll.xsd")
        for part in ("ServiceIdentification", "ServiceProvider", "OperationsMetadata"):
            assert_valid(caps.find(f"{{http://www.opengis.net/ows/1.1}}{part}"), f"ows/1.1.0/ows{part}.xsd")
        report = http.get("/wfs", params={"service": "WFS", "request": "GetFeature", "typeNames": "x"}).content
        assert_valid(report, "ows/1.1.0/owsExceptionReport.xsd")
        caps = xml(http.get("/wfs", params={"service": "WFS", "request": "GetCapabilities", "version": "1.1.0"}))
        assert_valid(caps.find("{http://www.opengis.net/ogc}Filter_Capabilities"), "filter/1.1.0/filter.xsd")
        for part in ("ServiceIdentification", "ServiceProvider", "OperationsMetadata"):
            assert_valid(caps.find(f"{{http://www.opengis.net/ows}}{part}"), f"ows/1.0.0/ows{part}.xsd")
        for bad in ({"typeName": "x"}, {"typeName": "kartenn:regions", "maxFeatures": "many"}):
            report = http.get("/wfs", params={"service": "WFS", "version": "1.1.0", "request": "GetFeature", **bad})
            assert report.status_code == 400
            assert_valid(report.content, "ows/1.0.0/owsExceptionReport.xsd")


BAD = [
    ({"request": "GetFeature", "typeNames": "kartenn:nope"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "bbox": "1,2,3"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "bbox": "a,b,c,d"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "filter": "<fes:Filter"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "outputFormat": "shapezip"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "srsName": "EPSG:999999"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "count": "-1"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "sortBy": "colour"}, "InvalidParameterValue"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions", "version": "5.0"}, "InvalidParameterValue"),
    ({"request": "GetCapabilities", "acceptVersions": "3.0.0"}, "VersionNegotiationFailed"),
    ({"request": "GetFeature", "typeNames": "kartenn:regions,kartenn:nybb",
      "filter": '(<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"/>)'}, "InvalidParameterValue"),
    ({"request": "Transaction"}, "OperationNotSupported"),
    ({"request": "GetFeature"}, "MissingParameterValue"),
    ({}, "MissingParameterValue"),
]


def test_bad_requests_get_exception_reports(published, module_server):
    with module_server.client() as http:
        for params, code in BAD:
            r = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", **params})
            assert r.status_code == 400, params
            report = etree.fromstring(r.content)
            assert report.find("{http://www.opengis.net/ows/1.1}Exception").get("exceptionCode") == code, params
        entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' \
                 b'<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0">&e;</wfs:GetFeature>'
        for body in (entity, b"<wfs:GetFeature", b""):
            r = http.post("/wfs", content=body)
            assert r.status_code == 400 and b"root:" not in r.content
            code = etree.fromstring(r.content).find("{http://www.opengis.net/ows/1.1}Exception").get("exceptionCode")
            assert code == "OperationParsingFailed"
        operand = (f'<wfs:GetFeature xmlns:wfs="{WFS}" service="WFS" version="2.0.0"><wfs:Query typeNames="regions">'
                   '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:PropertyIsEqualTo><fes:ValueReference>'
                   "nom</fes:ValueReference></fes:PropertyIsEqualTo></fes:Filter></wfs:Query></wfs:GetFeature>")
        r = http.post("/wfs", content=operand)
        assert r.status_code == 400 and b"operands" in r.content and b"positional" not in r.content
        big = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                       "typeNames": "kartenn:regions", "count": str(10**9)})
        assert big.status_code == 200 and xml(big).get("numberReturned") == "13"
        assert http.get("/ows", params={"service": "WFS", "request": "GetCapabilities"}).status_code == 200


LISBON = (-9.5, 38.6, -9.0, 38.9)  # west, south, east, north


def _hits_1_1(http, envelope: str) -> int:
    body = f"""<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc"
        xmlns:gml="http://www.opengis.net/gml" service="WFS" version="1.1.0" resultType="hits">
      <wfs:Query typeName="kartenn:poi-portugal"><ogc:Filter><ogc:BBOX><ogc:PropertyName>geom</ogc:PropertyName>
        {envelope}</ogc:BBOX></ogc:Filter></wfs:Query></wfs:GetFeature>"""
    root = xml(http.post("/wfs", content=body))
    return int(root.get("numberOfFeatures"))


def test_filter_crs_names_and_axis_order(published, module_server):
    """EPSG:4326 (short) and epsg.xml#4326 are x/y; urn forms are lat/lon; a GML 2 gml:Box (as GDAL sends
    with WFS 1.1.0) without srsName is in the type's default CRS, urn:ogc:def:crs:EPSG::4326, so lat/lon."""
    w, s, e, n = LISBON
    points = pyogrio.read_dataframe(shared("osm-poi-portugal/poi_portugal.gpkg"))
    truth = int(points.intersects(shapely.box(w, s, e, n)).sum())
    assert truth > 100

    def envelope(srs: str, lower: str, upper: str) -> str:
        return (f'<gml:Envelope srsName="{srs}"><gml:lowerCorner>{lower}</gml:lowerCorner>'
                f"<gml:upperCorner>{upper}</gml:upperCorner></gml:Envelope>")

    with module_server.client() as http:
        assert _hits_1_1(http, envelope("EPSG:4326", f"{w} {s}", f"{e} {n}")) == truth
        assert _hits_1_1(http, envelope("http://www.opengis.net/gml/srs/epsg.xml#4326", f"{w} {s}", f"{e} {n}")) \
            == truth
        assert _hits_1_1(http, envelope("urn:x-ogc:def:crs:EPSG:4326", f"{s} {w}", f"{n} {e}")) == truth
        assert _hits_1_1(http, envelope("urn:ogc:def:crs:EPSG::4326", f"{s} {w}", f"{n} {e}")) == truth
        assert _hits_1_1(http, envelope("EPSG:4326", f"{s} {w}", f"{n} {e}")) == 0  # read as x/y: in the sea
        box = f"<gml:Box><gml:coordinates>{s},{w} {n},{e}</gml:coordinates></gml:Box>"
        assert _hits_1_1(http, box) == truth
        kvp = {"service": "WFS", "version": "1.1.0", "request": "GetFeature", "typeName": "kartenn:poi-portugal",
               "resultType": "hits", "bbox": f"{s},{w},{n},{e},urn:x-ogc:def:crs:EPSG:4326"}
        assert xml(http.get("/wfs", params=kvp)).get("numberOfFeatures") == str(truth)
        # A geometry without srsName is in the query's srsName, else in the type's default CRS (lat/lon URN);
        # the output format has no say.
        bare = ('<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2">'
                "<fes:BBOX><fes:ValueReference>geom</fes:ValueReference><gml:Envelope><gml:lowerCorner>{} {}"
                "</gml:lowerCorner><gml:upperCorner>{} {}</gml:upperCorner></gml:Envelope></fes:BBOX></fes:Filter>")
        query = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": "kartenn:poi-portugal",
                 "resultType": "hits"}
        for extra, corners in (({}, (s, w, n, e)), ({"outputFormat": "application/json"}, (s, w, n, e)),
                               ({"srsName": "EPSG:4326"}, (w, s, e, n))):
            found = http.get("/wfs", params={**query, **extra, "filter": bare.format(*corners)})
            json_output = extra.get("outputFormat")
            matched = found.json()["numberMatched"] if json_output else int(xml(found).get("numberMatched"))
            assert matched == truth, extra
        to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
        x0, y0, x1, y1 = to_l93.transform_bounds(w, s, e, n)
        in_l93 = xml(http.get("/wfs", params={**query, "srsName": "EPSG:2154", "bbox": f"{x0},{y0},{x1},{y1}"}))
        assert abs(int(in_l93.get("numberMatched")) - truth) <= truth // 20  # the box, reprojected, is a bit larger
        # GeoJSON is east/north whatever the srsName (RFC 7946).
        geojson = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                           "typeNames": "kartenn:poi-portugal", "count": "3",
                                           "srsName": "urn:ogc:def:crs:EPSG::4326", "outputFormat": "application/json"})
        body = geojson.json()
        assert body["numberMatched"] == len(points) and body["numberReturned"] == 3
        for feature in body["features"]:
            lon, lat = feature["geometry"]["coordinates"]
            assert -32 < lon < -6 and 32 < lat < 43


def test_gdal_spatial_and_attribute_filters_both_versions(published, module_live_server):
    source = pyogrio.read_dataframe(shared(REGIONS))
    for url in (f"WFS:{module_live_server.url}/wfs", f"WFS:{module_live_server.url}/wfs?VERSION=1.1.0"):
        near_brest = pyogrio.read_dataframe(url, layer="kartenn:regions",
                                            bbox=(BREST[0] - .05, BREST[1] - .05, BREST[0] + .05, BREST[1] + .05))
        assert list(near_brest["nom"]) == ["Bretagne"], url
        corsica = pyogrio.read_dataframe(url, layer="kartenn:regions", where="nom = 'Corse'")
        truth = source[source["nom"] == "Corse"].geometry.iloc[0]
        assert len(corsica) == 1 and corsica.geometry.iloc[0].symmetric_difference(truth).area < 1e-6, url


def test_several_types_ids_values_and_xml_requests(published, module_server):
    with module_server.client() as http:
        base = {"service": "WFS", "version": "2.0.0", "request": "GetFeature"}
        # One page spread over two types in the order asked: nybb has 5 features, so 4 from index 3 = 2 + 2.
        page = xml(http.get("/wfs", params={**base, "typeNames": "kartenn:nybb,kartenn:regions", "startIndex": "3",
                                            "count": "4", "propertyName": "(BoroName)(nom)"}))
        assert page.get("numberMatched") == "18" and page.get("numberReturned") == "4"
        members = [m[0] for m in page.iter(f"{{{WFS}}}member")]
        assert [etree.QName(f).localname for f in members] == ["nybb", "nybb", "regions", "regions"]
        assert [len(f) for f in members] == [1, 1, 1, 1]  # only the property asked, no geometry
        assert http.get(page.get("next")).status_code == 200
        # One filter per type, by KVP in parentheses and by POST with one wfs:Query per type.
        rid = '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:ResourceId rid="{}"/></fes:Filter>'
        both = xml(http.get("/wfs", params={**base, "typeNames": "kartenn:nybb,kartenn:regions",
                                            "filter": f"({rid.format('nybb.1')})({rid.format('regions.2')})"}))
        assert [m[0].get(f"{{{GML}}}id") for m in both.iter(f"{{{WFS}}}member")] == ["nybb.1", "regions.2"]
        body = f"""<wfs:GetFeature xmlns:wfs="{WFS}" xmlns:fes="http://www.opengis.net/fes/2.0" service="WFS"
            version="2.0.0"><wfs:Query typeNames="kartenn:nybb">{rid.format('nybb.4')}</wfs:Query>
            <wfs:Query typeNames="kartenn:regions"><fes:Filter><fes:PropertyIsEqualTo><fes:ValueReference>nom
            </fes:ValueReference><fes:Literal>Corse</fes:Literal></fes:PropertyIsEqualTo></fes:Filter></wfs:Query>
            </wfs:GetFeature>"""
        both = xml(http.post("/wfs", content=body))
        found = [(etree.QName(m[0]).localname, m[0].findtext("{urn:x-kartenn:features}BoroName") or
                  m[0].findtext("{urn:x-kartenn:features}nom")) for m in both.iter(f"{{{WFS}}}member")]
        assert found == [("nybb", "Manhattan"), ("regions", "Corse")]
        # RESOURCEID alone names its types.
        by_ids = http.get("/wfs", params={**base, "resourceId": "nybb.2,regions.3", "outputFormat": "application/json"})
        assert by_ids.status_code == 200, by_ids.text
        assert sorted(f["id"] for f in by_ids.json()["features"]) == [2, 3]
        geometries = xml(http.get("/wfs", params={**base, "request": "GetPropertyValue", "typeNames": "kartenn:nybb",
                                                  "valueReference": "geom", "count": "2"}))
        assert [m[0].tag for m in geometries.iter(f"{{{WFS}}}member")] == [f"{{{GML}}}MultiSurface"] * 2
        described = xml(http.get("/wfs", params={**base, "request": "DescribeStoredQueries"}))
        assert described.find(f"{{{WFS}}}StoredQueryDescription/{{{WFS}}}Parameter").get("name") == "ID"
        caps = xml(http.post("/wfs", content=f'<GetCapabilities xmlns="{WFS}" service="WFS"/>'))
        assert caps.find(f"{{{WFS}}}FeatureTypeList") is not None
        schema = xml(http.post("/wfs", content=f'<DescribeFeatureType xmlns="{WFS}" service="WFS" version="2.0.0">'
                                               "<TypeName>kartenn:nybb</TypeName></DescribeFeatureType>"))
        names = {e.get("name") for e in schema.iter("{http://www.w3.org/2001/XMLSchema}element")}
        assert {"nybb", "BoroName", "geom"} <= names and "nom" not in names
        values = xml(http.post("/wfs", content=f'<GetPropertyValue xmlns="{WFS}" service="WFS" version="2.0.0" '
                                               'valueReference="BoroName"><Query typeNames="kartenn:nybb"/>'
                                               "</GetPropertyValue>"))
        assert sorted(m.text for m in values.iter(f"{{{WFS}}}member")) == \
            ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]


def test_temporal_filters(published, module_server):
    fes = '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:gml="http://www.opengis.net/gml/3.2">{}</fes:Filter>'
    period = ('<gml:TimePeriod gml:id="p"><gml:beginPosition>2001-01-01T00:00:00Z</gml:beginPosition>'
              "<gml:endPosition>2003-01-01T00:00:00Z</gml:endPosition></gml:TimePeriod>")
    instant = ('<gml:TimeInstant gml:id="t"><gml:timePosition>2005-01-01T00:00:00Z</gml:timePosition>'
               "</gml:TimeInstant>")
    times = sorted(t.strip('"') for t in shared(OBSERVATIONS).read_text().splitlines()[1:] for t in [t.split(",")[2]])

    def years(operator: str, operand: str) -> list[str]:
        condition = f"<fes:{operator}><fes:ValueReference>datetime</fes:ValueReference>{operand}</fes:{operator}>"
        r = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                     "typeNames": "kartenn:mapserver-obs", "filter": fes.format(condition),
                                     "outputFormat": "application/json"})
        assert r.status_code == 200, r.text
        return sorted(f["properties"]["datetime"][:4] for f in r.json()["features"])

    with module_server.client() as http:
        assert years("After", instant) == [t[:4] for t in times if t > "2005"] == ["2007"]
        assert years("During", period) == ["2001", "2002"]
        assert years("AnyInteracts", period) == ["2001", "2002"]
        assert years("Before", instant) == ["2000", "2001", "2002", "2003"]
        caps = xml(http.get("/wfs", params={"service": "WFS", "request": "GetCapabilities"}))
        operators = {e.get("name") for e in caps.iter("{http://www.opengis.net/fes/2.0}TemporalOperator")}
        assert {"After", "During", "Ends"} <= operators


def test_private_dataset_only_for_its_organisation(published, module_server):
    settings = published.settings
    kartenn("org", "add", "brest", "-d", str(settings.data_dir), settings=settings, check=True)
    kartenn("user", "add", "alice", "--org", "brest", "--role", "editor", "-d", str(settings.data_dir),
            settings=settings, check=True)
    kartenn("ingest", "--org", "brest", "--private", "-d", str(settings.data_dir),
            str(shared("dutch-addresses/dutch_addresses_4326.gpkg")), settings=settings, check=True)
    token = kartenn("token", "create", "alice", "--scope", "read", "-d", str(settings.data_dir),
                    settings=settings, check=True).stdout.strip().splitlines()[-1].strip()
    caps = {"service": "WFS", "request": "GetCapabilities"}
    with module_server.client() as anonymous, module_server.client() as alice:
        alice.headers["Authorization"] = f"Bearer {token}"

        def names(http) -> set[str]:
            return {e.text for e in xml(http.get("/wfs", params=caps)).iter(f"{{{WFS}}}Name")}

        [private] = names(alice) - names(anonymous)
        query = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", "typeNames": private, "count": "5"}
        assert len(list(xml(alice.get("/wfs", params=query)).iter(f"{{{WFS}}}member"))) == 5
        refused = anonymous.get("/wfs", params=query)
        assert refused.status_code == 400 and b"InvalidParameterValue" in refused.content
        assert private.split(":")[1].encode() not in anonymous.get("/ows", params=caps).content
