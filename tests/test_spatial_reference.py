"""Spatial operators without a property reference, or naming ows:BoundingBox (as OWSLib writes it), compare the
feature type's geometry (WFS) or the record's box (CSW); another property gets a 400 naming the real one.
Both stores, against a live server."""

from __future__ import annotations

import pyogrio
import pytest
import shapely
from lxml import etree
from owslib import fes, fes2
from owslib.csw import CatalogueServiceWeb
from owslib.wfs import WebFeatureService

from conftest import shared
from kartenn.domain.security import OPERATOR
from kartenn.services.publish import publish_file
from kartenn.services.records import import_paths

FES = "http://www.opengis.net/fes/2.0"
OGC = "http://www.opengis.net/ogc"
CSW = "http://www.opengis.net/cat/csw/2.0.2"
GML32, GML = "http://www.opengis.net/gml/3.2", "http://www.opengis.net/gml"
BRITTANY = (-5.5, 47.0, -0.9, 49.1)  # west, south, east, north: all of Bretagne, parts of its neighbours
BREST = (-4.486, 48.390)
PARIS = (2.35, 48.86)
OPERATORS = ["BBOX", "Intersects", "Within", "Contains", "Disjoint", "Equals", "Touches", "Crosses", "Overlaps"]


def _geometry(operator: str, gml: str) -> str:
    """An operand in EPSG:4326 (x/y) for each operator, in GML 3.2 or 3.1."""
    w, s, e, n = BRITTANY
    ident = ' gml:id="g"' if gml == GML32 else ""
    if operator == "BBOX":
        return (f'<gml:Envelope xmlns:gml="{gml}" srsName="EPSG:4326"><gml:lowerCorner>{w} {s}</gml:lowerCorner>'
                f"<gml:upperCorner>{e} {n}</gml:upperCorner></gml:Envelope>")
    if operator in ("Intersects", "Contains", "Disjoint"):
        return (f'<gml:Point xmlns:gml="{gml}"{ident} srsName="EPSG:4326"><gml:pos>{BREST[0]} {BREST[1]}</gml:pos>'
                "</gml:Point>")
    if operator == "Crosses":
        return (f'<gml:LineString xmlns:gml="{gml}"{ident} srsName="EPSG:4326"><gml:posList>{BREST[0]} {BREST[1]} '
                f"{PARIS[0]} {PARIS[1]}</gml:posList></gml:LineString>")
    ring = f"{w} {s} {e} {s} {e} {n} {w} {n} {w} {s}"
    return (f'<gml:Polygon xmlns:gml="{gml}"{ident} srsName="EPSG:4326"><gml:exterior><gml:LinearRing>'
            f"<gml:posList>{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>")


def _filter(version: str, operator: str, reference: str | None, extra: str = "") -> str:
    ns, prefix, tag, gml = (FES, "fes", "ValueReference", GML32) if version == "2.0.0" else \
        (OGC, "ogc", "PropertyName", GML)
    ref = "" if reference is None else f"<{prefix}:{tag}>{reference}</{prefix}:{tag}>"
    return (f'<{prefix}:Filter xmlns:{prefix}="{ns}"><{prefix}:{operator}>{ref}{_geometry(operator, gml)}{extra}'
            f"</{prefix}:{operator}></{prefix}:Filter>")


def _names(http, version: str, flt: str) -> list[str]:  # type: ignore[no-untyped-def]
    params = {"service": "WFS", "version": version, "request": "GetFeature", "typeNames": "kartenn:regions",
              "propertyName": "nom", "outputFormat": "application/json", "filter": flt}
    r = http.get("/wfs", params=params)
    assert r.status_code == 200, r.text
    return sorted(f["properties"]["nom"] for f in r.json()["features"])


@pytest.fixture
def wfs_server(site, server):
    assert not publish_file(site, shared("france-admin-express-2018/regions.geojson"))[0].error
    return server


def _expected(operator: str) -> list[str]:
    """The regions each operator selects, as shapely (GEOS) reads the file."""
    frame = pyogrio.read_dataframe(shared("france-admin-express-2018/regions.geojson"))
    w, s, e, n = BRITTANY
    box, point, line = shapely.box(w, s, e, n), shapely.Point(BREST), shapely.LineString([BREST, PARIS])
    test = {"BBOX": lambda g: g.intersects(box), "Intersects": lambda g: g.intersects(point),
            "Within": lambda g: g.within(box), "Contains": lambda g: g.contains(point),
            "Disjoint": lambda g: g.disjoint(point), "Equals": lambda g: g.equals(box),
            "Touches": lambda g: g.touches(box), "Crosses": lambda g: g.crosses(line),
            "Overlaps": lambda g: g.overlaps(box)}[operator]
    return sorted(nom for nom, geometry in zip(frame["nom"], frame.geometry, strict=True) if test(geometry))


def test_wfs_kvp_filters_without_reference_or_with_ows_bounding_box(wfs_server):
    assert _expected("Intersects") == _expected("Contains") == ["Bretagne"]
    assert len(_expected("Disjoint")) == 12 and "Bretagne" in _expected("Within")
    assert {"Normandie", "Pays de la Loire"} <= set(_expected("Overlaps")) and len(_expected("Crosses")) > 1
    with wfs_server.client() as http:
        for version in ("2.0.0", "1.1.0"):
            for operator in OPERATORS:
                expected = _expected(operator)
                for reference in (None, "ows:BoundingBox", "geom", "kartenn:regions/kartenn:geom"):
                    assert _names(http, version, _filter(version, operator, reference)) == expected, \
                        (version, operator, reference)


@pytest.mark.parametrize("version", ["2.0.0", "1.1.0"])
def test_wfs_wrong_property_names_the_geometry(wfs_server, version):
    with wfs_server.client() as http:
        for operator in OPERATORS:
            flt = _filter(version, operator, "nom")
            r = http.get("/wfs", params={"service": "WFS", "version": version, "request": "GetFeature",
                                         "typeNames": "kartenn:regions", "filter": flt})
            assert r.status_code == 400, r.text
            report = etree.fromstring(r.content)
            text = "".join(report.itertext())
            assert "'geom'" in text and "'nom'" in text, text
        # distance operators are not offered: a clear refusal, with or without a reference
        prefix = "fes" if version == "2.0.0" else "ogc"
        distance = f'<{prefix}:Distance uom="m">100</{prefix}:Distance>'
        for operator in ("DWithin", "Beyond"):
            flt = _filter(version, "Intersects", None, distance).replace("Intersects", operator)
            r = http.get("/wfs", params={"service": "WFS", "version": version, "request": "GetFeature",
                                         "typeNames": "kartenn:regions", "filter": flt})
            assert r.status_code == 400 and b"not supported" in r.content, r.text


def test_wfs_xml_post_without_reference(wfs_server):
    w, s, e, n = BRITTANY
    body_2 = f"""<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs/2.0" service="WFS" version="2.0.0"
        outputFormat="application/json"><wfs:Query typeNames="kartenn:regions">
        <wfs:PropertyName>nom</wfs:PropertyName>{_filter("2.0.0", "BBOX", None)}</wfs:Query></wfs:GetFeature>"""
    body_1 = f"""<wfs:GetFeature xmlns:wfs="http://www.opengis.net/wfs" service="WFS" version="1.1.0"
        outputFormat="application/json"><wfs:Query typeName="kartenn:regions">
        <wfs:PropertyName>nom</wfs:PropertyName>{_filter("1.1.0", "Within", None)}</wfs:Query></wfs:GetFeature>"""
    with wfs_server.client() as http:
        for body, operator in ((body_2, "BBOX"), (body_1, "Within")):
            r = http.post("/wfs", content=body)
            assert r.status_code == 200, r.text
            assert sorted(f["properties"]["nom"] for f in r.json()["features"]) == _expected(operator)
        r = http.post("/wfs", content=body_2.replace("<fes:BBOX>", "<fes:BBOX><fes:ValueReference>nom"
                                                                    "</fes:ValueReference>"))
        assert r.status_code == 400 and b"'geom'" in r.content, r.text


@pytest.mark.live
def test_owslib_bbox_filters(wfs_server):
    w, s, e, n = BRITTANY

    def names(response) -> list[str]:  # type: ignore[no-untyped-def]
        return sorted(e.text for e in etree.fromstring(response.read()).iter("{urn:x-kartenn:features}nom"))

    wfs2 = WebFeatureService(f"{wfs_server.url}/wfs", version="2.0.0", timeout=60)
    flt = etree.tostring(fes2.Filter(fes2.BBox([w, s, e, n], crs="EPSG:4326")).toXML()).decode()
    assert names(wfs2.getfeature(typename=["kartenn:regions"], filter=flt, method="Post")) == _expected("BBOX")
    wfs1 = WebFeatureService(f"{wfs_server.url}/wfs", version="1.1.0", timeout=60)
    flt = etree.tostring(fes.FilterRequest().setConstraint(fes.BBox([w, s, e, n], crs="EPSG:4326"))).decode()
    assert names(wfs1.getfeature(typename=["kartenn:regions"], filter=flt)) == _expected("BBOX")


def test_wfs_transaction_filter_without_reference(site, server, editor_token):
    from kartenn.domain.security import Sharing

    assert not publish_file(site, shared("france-admin-express-2018/regions.geojson"),
                            sharing=Sharing(org="iuem"))[0].error
    x, y = BREST
    box = (f'<gml:Envelope xmlns:gml="{GML32}" srsName="EPSG:4326"><gml:lowerCorner>{x - 0.01} {y - 0.01}'
           f"</gml:lowerCorner><gml:upperCorner>{x + 0.01} {y + 0.01}</gml:upperCorner></gml:Envelope>")
    with server.client(editor_token) as http:
        for reference, status in (("<fes:ValueReference>nom</fes:ValueReference>", 400), ("", 200)):
            body = (f'<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
                    f'xmlns:fes="{FES}"><wfs:Delete typeName="kartenn:regions"><fes:Filter><fes:BBOX>{reference}'
                    f"{box}</fes:BBOX></fes:Filter></wfs:Delete></wfs:Transaction>")
            r = http.post("/wfs", content=body)
            assert r.status_code == status and (status == 200 or b"'geom'" in r.content), r.text
        assert etree.fromstring(r.content).findtext(".//{http://www.opengis.net/wfs/2.0}totalDeleted") == "1"
        left = http.get("/ogc/collections/regions/items", params={"limit": 50}).json()["features"]
        assert len(left) == 12 and "Bretagne" not in {f["properties"]["nom"] for f in left}


# CSW ----------------------------------------------------------------------------------------------------------

ISO = shared("iso-metadata-records/pycsw-apiso/3e9a8c05.xml").read_bytes()  # Greece: 19.37..29.61 E, 34.8..41.75 N
MDB = shared("iso-metadata-records/pycsw-iso19115-3/metawal.wallonie.be-catchments.xml").read_bytes()
MDB_ID = "74f81503-8d39-4ec8-a49a-c76e0cd74946"  # Wallonia: 2.75..6.5 E, 49.45..50.85 N
DC = shared("pycsw-csw-suites/cite/data/Record_19887a8a-f6b0-4a63-ae56-7fba0e17801f.xml").read_bytes()  # no box
DC_ID = "urn:uuid:19887a8a-f6b0-4a63-ae56-7fba0e17801f"
CSW_OPERATORS = {"BBOX": "Envelope", "Intersects": "Polygon", "Within": "Polygon", "Contains": "Polygon",
                 "Disjoint": "Polygon", "Equals": "Polygon", "Touches": "Polygon", "Crosses": "Polygon",
                 "Overlaps": "Polygon"}


def _csw_filter(operator: str, reference: str | None, box: tuple[float, float, float, float]) -> str:
    """Filter 1.1 with a geometry in EPSG:4326 as CSW 2.0.2 reads it without srsName: latitude first."""
    w, s, e, n = box
    ref = "" if reference is None else f"<ogc:PropertyName>{reference}</ogc:PropertyName>"
    if CSW_OPERATORS[operator] == "Envelope":
        geometry = (f"<gml:Envelope><gml:lowerCorner>{s} {w}</gml:lowerCorner><gml:upperCorner>{n} {e}"
                    "</gml:upperCorner></gml:Envelope>")
    else:
        ring = f"{s} {w} {s} {e} {n} {e} {n} {w} {s} {w}"
        geometry = (f"<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>{ring}</gml:posList>"
                    "</gml:LinearRing></gml:exterior></gml:Polygon>")
    return (f'<ogc:Filter xmlns:ogc="{OGC}" xmlns:gml="{GML}"><ogc:{operator}>{ref}{geometry}</ogc:{operator}>'
            "</ogc:Filter>")


def _get_records(http, flt: str) -> set[str]:  # type: ignore[no-untyped-def]
    body = (f'<csw:GetRecords xmlns:csw="{CSW}" service="CSW" version="2.0.2" resultType="results" '
            f'maxRecords="100"><csw:Query typeNames="csw:Record"><csw:ElementSetName>brief</csw:ElementSetName>'
            f'<csw:Constraint version="1.1.0">{flt}</csw:Constraint></csw:Query></csw:GetRecords>')
    r = http.post("/csw", content=body)
    assert r.status_code == 200, r.text
    return {e.text for e in etree.fromstring(r.content).iter("{http://purl.org/dc/elements/1.1/}identifier")}


@pytest.fixture
def csw_server(site, server):
    assert import_paths(site.seen_by(OPERATOR), [shared("iso-metadata-records")]).errors == []
    return server


@pytest.mark.live
def test_csw_filters_without_property_name(csw_server):
    brittany = (-5.0, 47.0, -1.0, 49.0)
    cat = CatalogueServiceWeb(f"{csw_server.url}/csw", timeout=60)
    cat.getrecords2(constraints=[fes.BBox([47.0, -5.0, 49.0, -1.0])], maxrecords=100)  # ows:BoundingBox
    owslib_found = set(cat.records)
    assert "955c3e47-411e-4969-b61b-3556d1b9f879" in owslib_found  # Cadastre 2018 en Bretagne
    with csw_server.client() as http:
        everything = _get_records(http, _csw_filter("BBOX", None, (-180, -90, 180, 90)))
        assert owslib_found < everything
        for operator in CSW_OPERATORS:
            named = _get_records(http, _csw_filter(operator, "ows:BoundingBox", brittany))
            assert _get_records(http, _csw_filter(operator, None, brittany)) == named, operator
        assert _get_records(http, _csw_filter("BBOX", None, brittany)) == owslib_found
        inside = _get_records(http, _csw_filter("Intersects", None, brittany))
        assert inside == owslib_found and not inside & _get_records(http, _csw_filter("Disjoint", None, brittany))
        # KVP, CONSTRAINTLANGUAGE=FILTER
        r = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecords",
                                     "typenames": "csw:Record", "resulttype": "hits", "constraintlanguage": "FILTER",
                                     "constraint": _csw_filter("BBOX", None, brittany)})
        assert r.status_code == 200, r.text
        matched = etree.fromstring(r.content).find(f"{{{CSW}}}SearchResults").get("numberOfRecordsMatched")
        assert int(matched) == len(owslib_found)
        for reference in ("dc:title", "dct:spatial", "nothing"):
            body = (f'<csw:GetRecords xmlns:csw="{CSW}" service="CSW" version="2.0.2"><csw:Query typeNames='
                    f'"csw:Record"><csw:Constraint version="1.1.0">{_csw_filter("Within", reference, brittany)}'
                    "</csw:Constraint></csw:Query></csw:GetRecords>")
            r = http.post("/csw", content=body)
            assert r.status_code == 400 and b"ows:BoundingBox" in r.content and reference.encode() in r.content, \
                r.text


def test_csw_transaction_constraint_without_property_name(server, editor_token):
    wallonia = (2.0, 49.0, 7.0, 51.0)
    actions = "<csw:Insert>" + "".join(etree.tostring(etree.fromstring(r)).decode() for r in (ISO, MDB, DC)) + \
        "</csw:Insert>"
    start = f'<csw:Transaction xmlns:csw="{CSW}" service="CSW" version="2.0.2">'
    with server.client(editor_token) as http:
        assert http.post("/csw", content=f"{start}{actions}</csw:Transaction>").status_code == 200
        for reference in ("dc:title", None):
            delete = (f"<csw:Delete typeName='csw:Record'><csw:Constraint version='1.1.0'>"
                      f"{_csw_filter('BBOX', reference, wallonia)}</csw:Constraint></csw:Delete>")
            r = http.post("/csw", content=f"{start}{delete}</csw:Transaction>")
            if reference:
                assert r.status_code == 400 and b"ows:BoundingBox" in r.content, r.text
            else:
                assert r.status_code == 200, r.text
                assert etree.fromstring(r.content).findtext(f".//{{{CSW}}}totalDeleted") == "1"
        left = _get_records(http, _csw_filter("BBOX", None, (-180, -90, 180, 90)))
        assert left == {"3e9a8c05"} and MDB_ID not in left
        r = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecordById",
                                     "id": DC_ID})
        assert DC_ID.encode() in r.content  # the record without a box stays
