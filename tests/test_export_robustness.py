"""No single record fails a feed, a list or a search page: every export format over every record of the shared
data (ISO 19139, ISO 19115-2/-3, Dublin Core, GeoNetwork MEF) and over crafted records with odd values; what an
export leaves out is in the record's validation report."""

from __future__ import annotations

import math
from urllib.parse import quote

import orjson
import pytest
from lxml import etree
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS
from starlette.testclient import TestClient

from conftest import shared
from kartenn.app import create_app
from kartenn.domain import Record
from kartenn.domain.security import OPERATOR
from kartenn.formats.exportable import each_record, exportable, valid_date
from kartenn.formats.ogc_record import encodings, language_code
from kartenn.xml import parse_xml

SOURCES = ("iso-metadata-records", "pycsw-csw-suites/apiso/data", "pycsw-csw-suites/cite/data",
           "pycsw-csw-suites/iso19115p3/data", "migration/geonetwork/mef")
OUTPUT_SCHEMAS = ("http://www.opengis.net/cat/csw/2.0.2", "http://www.isotc211.org/2005/gmd",
                  "http://www.w3.org/2005/Atom")
ODD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd" xmlns:gco="http://www.isotc211.org/2005/gco"
    xmlns:gml="http://www.opengis.net/gml">
  <gmd:fileIdentifier><gco:CharacterString>odd-imported</gco:CharacterString></gmd:fileIdentifier>
  <gmd:language><gmd:LanguageCode codeList="x" codeListValue="eng; CAN">eng; CAN</gmd:LanguageCode></gmd:language>
  <gmd:contact><gmd:CI_ResponsibleParty>
    <gmd:organisationName><gco:CharacterString>Org \U0001d50a &#x85;</gco:CharacterString></gmd:organisationName>
    <gmd:contactInfo><gmd:CI_Contact><gmd:address><gmd:CI_Address><gmd:electronicMailAddress>
      <gco:CharacterString>not an e-mail &lt;x&gt;</gco:CharacterString></gmd:electronicMailAddress>
    </gmd:CI_Address></gmd:address></gmd:CI_Contact></gmd:contactInfo>
    <gmd:role><gmd:CI_RoleCode codeList="x" codeListValue="pointOfContact"/></gmd:role>
  </gmd:CI_ResponsibleParty></gmd:contact>
  <gmd:dateStamp><gco:DateTime>yesterday</gco:DateTime></gmd:dateStamp>
  <gmd:identificationInfo><gmd:MD_DataIdentification>
    <gmd:citation><gmd:CI_Citation><gmd:title><gco:CharacterString></gco:CharacterString></gmd:title>
      <gmd:date><gmd:CI_Date><gmd:date><gco:Date>2020-13-45</gco:Date></gmd:date>
        <gmd:dateType><gmd:CI_DateTypeCode codeList="x" codeListValue="creation"/></gmd:dateType>
      </gmd:CI_Date></gmd:date>
    </gmd:CI_Citation></gmd:citation>
    <gmd:abstract><gco:CharacterString>Gothic \U0001d50a\U0001d52c and emoji \U0001f600 &#x7f;&#x9f;
    </gco:CharacterString></gmd:abstract>
    <gmd:pointOfContact><gmd:CI_ResponsibleParty>
      <gmd:organisationName><gco:CharacterString>Publisher</gco:CharacterString></gmd:organisationName>
      <gmd:contactInfo><gmd:CI_Contact><gmd:address><gmd:CI_Address><gmd:electronicMailAddress>
        <gco:CharacterString>a b@c d</gco:CharacterString></gmd:electronicMailAddress>
      </gmd:CI_Address></gmd:address></gmd:CI_Contact></gmd:contactInfo>
      <gmd:role><gmd:CI_RoleCode codeList="x" codeListValue="publisher"/></gmd:role>
    </gmd:CI_ResponsibleParty></gmd:pointOfContact>
    <gmd:descriptiveKeywords><gmd:MD_Keywords><gmd:keyword><gco:CharacterString>k \U0001f600</gco:CharacterString>
    </gmd:keyword></gmd:MD_Keywords></gmd:descriptiveKeywords>
    <gmd:extent><gmd:EX_Extent>
      <gmd:geographicElement><gmd:EX_GeographicBoundingBox>
        <gmd:westBoundLongitude><gco:Decimal>500</gco:Decimal></gmd:westBoundLongitude>
        <gmd:eastBoundLongitude><gco:Decimal>-400</gco:Decimal></gmd:eastBoundLongitude>
        <gmd:southBoundLatitude><gco:Decimal>95</gco:Decimal></gmd:southBoundLatitude>
        <gmd:northBoundLatitude><gco:Decimal>-95</gco:Decimal></gmd:northBoundLatitude>
      </gmd:EX_GeographicBoundingBox></gmd:geographicElement>
      <gmd:temporalElement><gmd:EX_TemporalExtent><gmd:extent><gml:TimePeriod gml:id="t">
        <gml:beginPosition>last spring</gml:beginPosition><gml:endPosition>now</gml:endPosition>
      </gml:TimePeriod></gmd:extent></gmd:EX_TemporalExtent></gmd:temporalElement>
    </gmd:EX_Extent></gmd:extent>
  </gmd:MD_DataIdentification></gmd:identificationInfo>
  <gmd:distributionInfo><gmd:MD_Distribution><gmd:transferOptions><gmd:MD_DigitalTransferOptions>
    <gmd:onLine><gmd:CI_OnlineResource><gmd:linkage><gmd:URL>not a url at all</gmd:URL></gmd:linkage>
      <gmd:protocol><gco:CharacterString>WWW:DOWNLOAD-1.0-http--download</gco:CharacterString></gmd:protocol>
    </gmd:CI_OnlineResource></gmd:onLine>
    <gmd:onLine><gmd:CI_OnlineResource><gmd:linkage><gmd:URL>javascript:alert(1)</gmd:URL></gmd:linkage>
      <gmd:protocol><gco:CharacterString>OGC:WMS</gco:CharacterString></gmd:protocol></gmd:CI_OnlineResource></gmd:onLine>
    <gmd:onLine><gmd:CI_OnlineResource><gmd:linkage><gmd:URL>https://example.org/a file {1}.zip</gmd:URL>
      </gmd:linkage></gmd:CI_OnlineResource></gmd:onLine>
  </gmd:MD_DigitalTransferOptions></gmd:transferOptions></gmd:MD_Distribution></gmd:distributionInfo>
</gmd:MD_Metadata>
"""
# Records made here (no original document) with values no import would give: controls, NaN, inverted boxes.
MADE = [
    Record(id="odd-made-1", title="Title \x01\x02 with controls ", abstract="tab\tand \x1b escape",
           language="garbage", extent_wgs84=(-200.0, 0.0, 10.0, 5.0), dates={"publication": "32/13/2020"},
           modified="2020-02-30", time_begin="2020-01-01T25:00", time_end="",
           keywords=["ok", "\x1f", "bell\x07"], constraints=["Licence ouverte \x0c"],
           links=[{"url": "ftp://exa mple.org/x", "protocol": "WWW:DOWNLOAD"}, {"url": None, "name": "none"},
                  {"url": "https://example.org/wms?a=1&b=<2>", "protocol": "OGC:WMS", "name": "layer\x03"}],
           contacts=[{"organisation": "Org\x04", "email": "x@y.org", "url": "mailto:x", "scope": "resource",
                      "role": "publisher"}]),
    Record(id="odd-made-2", title="", language="fr-FR", extent_wgs84=(170.0, -10.0, -170.0, 10.0),
           dates={"revision": "2021"}, time_begin="2019-05", time_end="2019-06-30T10:00:00Z"),
    Record(id="odd-made-3", title="Huge", language="fre", extent_wgs84=(-1e308, -90.0, 1e308, 90.0)),
]


@pytest.fixture
def catalogue(site) -> list[str]:
    """Every shared record imported with the importer, the crafted ones, and an administrator's token."""
    from kartenn.services.records import import_bytes, import_paths

    report = import_paths(site.seen_by(OPERATOR), [shared(s) for s in SOURCES])
    assert report.errors == [] and len(report.imported) > 40
    import_bytes(site.seen_by(OPERATOR), ODD_XML.encode())
    with site.catalog.begin() as conn:
        site.catalog.put_records(conn, MADE)
        site.accounts.grant_many(conn, "record", [r.id for r in MADE], "public", "", "view")
    return sorted(set(report.imported) | {"odd-imported"} | {r.id for r in MADE})


@pytest.fixture
def http(settings, site):
    from kartenn.services.identity import create_token

    site.accounts.add_user("root", admin=True)
    token = create_token(site, "root")
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def ok(http: TestClient, url: str) -> bytes:
    response = http.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:300]}"
    return response.content


def test_every_export_of_every_record_answers(catalogue, http):
    for record_id in catalogue:
        key = quote(record_id, safe="")
        rec = orjson.loads(ok(http, f"/api/v1/records/{key}"))
        names = encodings(Record(id=record_id, title="", schema=rec["schema"]))
        for name in names:
            data = ok(http, f"/api/v1/records/{key}/{name}.xml" if name in ("iso19139", "iso19115-3", "dc")
                      else f"/api/v1/records/{key}/{name}")
            if name.endswith(".rdf"):
                Graph().parse(data=data, format="xml")
            elif name.endswith(".jsonld"):
                orjson.loads(data)
            else:
                parse_xml(data)
        feature = orjson.loads(ok(http, f"/ogc/collections/catalog/items/{key}?f=json"))
        assert feature["id"] == record_id
        ok(http, f"/ogc/collections/catalog/items/{key}?f=html")
        report = orjson.loads(ok(http, f"/api/v1/records/{key}/validation"))
        assert isinstance(report["errors"], list)


def test_every_list_and_feed_answers_with_every_record(catalogue, http):
    total = len(catalogue)
    for fmt in ("rdf", "jsonld"):  # the whole catalogue a page of 7 at a time, following the next links
        url, seen = f"/api/v1/catalog/dcat.{fmt}?limit=7", set()
        while url:
            response = http.get(url)
            assert response.status_code == 200, response.text[:300]
            graph = Graph().parse(data=response.content, format="xml" if fmt == "rdf" else "json-ld")
            seen |= {str(o) for o in graph.objects(None, DCTERMS.identifier)}
            following = response.headers.get("link")
            url = following.split(">")[0].lstrip("<").split("testserver", 1)[-1] if following else None
        assert seen == set(catalogue)
    for namespace in OUTPUT_SCHEMAS:
        for element_set in ("brief", "summary", "full"):
            data = ok(http, f"/csw?service=CSW&version=2.0.2&request=GetRecords&typeNames=csw:Record"
                            f"&resultType=results&elementSetName={element_set}&outputSchema={quote(namespace)}"
                            f"&maxRecords=1000")
            results = parse_xml(data).find("{http://www.opengis.net/cat/csw/2.0.2}SearchResults")
            assert int(results.get("numberOfRecordsReturned")) == total == len(results)
        ids = ",".join(catalogue)
        by_id = parse_xml(ok(http, f"/csw?service=CSW&version=2.0.2&request=GetRecordById&id={quote(ids)}"
                                   f"&outputSchema={quote(namespace)}&elementSetName=full"))
        assert len(by_id) == total
    items = orjson.loads(ok(http, "/ogc/collections/catalog/items?limit=1000&f=json"))
    assert items["numberReturned"] == total == len(items["features"])
    ok(http, "/ogc/collections/catalog/items?limit=1000&f=html")
    assert orjson.loads(ok(http, "/api/v1/records?limit=1000"))["matched"] == total
    for page in range(1, total // 10 + 2):
        ok(http, f"/search?page={page}")
    assert b"Gothic" in ok(http, "/search?q=gothic")


def test_odd_values_are_left_out_and_reported(catalogue, http):
    rdf = Graph().parse(data=ok(http, "/api/v1/records/odd-imported/dcat.rdf"), format="xml")
    ds = next(iter(rdf.subjects(DCTERMS.identifier, None)))
    assert rdf.value(ds, DCTERMS.language) == URIRef("http://publications.europa.eu/resource/authority/language/ENG")
    assert rdf.value(ds, DCTERMS.title).language == "en"
    assert rdf.value(ds, DCTERMS.issued) is None and rdf.value(ds, DCTERMS.spatial) is None
    feature = orjson.loads(ok(http, "/ogc/collections/catalog/items/odd-imported"))
    assert feature["geometry"] is None and feature["time"] is None
    assert feature["properties"]["language"] == {"code": "en"}
    hrefs = [link["href"] for link in feature["links"]]
    assert "https://example.org/a%20file%20%7B1%7D.zip" in hrefs
    assert not any(h.startswith("javascript:") or h == "not a url at all" for h in hrefs)
    assert "\U0001f600" in feature["properties"]["keywords"][0]  # characters beyond the BMP are kept
    paths = {e["path"]: e["message"] for e in orjson.loads(ok(http, "/api/v1/records/odd-imported/validation"))
             ["errors"] if e["message"].startswith("left out")}
    assert {"dates.creation", "modified", "time_begin", "time_end", "extent_wgs84", "links[0].url", "links[1].url",
            "contacts[0].email", "contacts[1].email"} <= set(paths)
    assert "2020-13-45" in paths["dates.creation"]
    made = orjson.loads(ok(http, "/api/v1/records/odd-made-1/validation"))["errors"]
    assert {"title", "abstract", "language", "keywords", "extent_wgs84", "dates.publication", "modified",
            "time_begin", "links[0].url", "links[1].url"} <= {e["path"] for e in made}
    dc = parse_xml(ok(http, "/api/v1/records/odd-made-1/dc.xml"))
    assert dc.findtext("{http://purl.org/dc/elements/1.1/}title") == "Title  with controls "
    iso = parse_xml(ok(http, "/api/v1/records/odd-made-2/iso19139.xml"))
    assert iso.find(".//{http://www.isotc211.org/2005/gmd}EX_GeographicBoundingBox") is not None  # antimeridian
    huge = orjson.loads(ok(http, "/ogc/collections/catalog/items/odd-made-3"))
    assert huge["geometry"] is None
    made2 = orjson.loads(ok(http, "/ogc/collections/catalog/items/odd-made-2"))
    assert made2["properties"]["language"] == {"code": "fr-fr"} and made2["time"] == {
        "interval": ["2019-05", "2019-06-30T10:00:00Z"]}


def test_a_failing_export_leaves_out_its_record_only(caplog):
    def render(rec: Record) -> bytes:
        if rec.id == "b":
            raise ValueError("this exporter cannot write b")
        return etree.tostring(etree.Element("r", id=rec.id))

    out = each_record([Record(id=i, title=i) for i in "abc"], render)
    assert out == [b'<r id="a"/>', b'<r id="c"/>']
    assert "'b' left out" in caplog.text


@pytest.mark.parametrize(("value", "code"), [("eng; CAN", "en"), ("fre", "fr"), ("fr-FR", "fr-fr"), ("ger", "de"),
                                             ("garbage", None), ("", None), ("e n", None), ("12", None)])
def test_language_codes(value, code):
    assert language_code(value) == code


@pytest.mark.parametrize(("value", "valid"), [("2020", True), ("2020-02", True), ("2020-02-29", True),
                                              ("2021-02-29", False), ("2020-13-45", False), ("circa 1990", False),
                                              ("2020-01-01T10:00:00Z", True), ("2020-01-01T25:00", False),
                                              ("now", False), ("", False)])
def test_dates(value, valid):
    assert valid_date(value) is valid


def test_extents():
    assert exportable(Record(id="a", title="", extent_wgs84=(math.nan, 0.0, 1.0, 1.0))).record.extent_wgs84 is None
    assert exportable(Record(id="a", title="", extent_wgs84=(0.0, 0.0, math.inf, 1.0))).record.extent_wgs84 is None
    assert exportable(Record(id="a", title="", extent_wgs84=(0.0, 5.0, 1.0, 1.0))).record.extent_wgs84 is None
    assert exportable(Record(id="a", title="", extent_wgs84=(170.0, -1.0, -170.0, 1.0))).record.extent_wgs84


def test_exportable_keeps_good_records_as_they_are():
    rec = Record(id="a", title="Lacs", language="fre", extent_wgs84=(-5.0, 47.0, -1.0, 49.0),
                 dates={"creation": "2018-09-01"}, links=[{"url": "https://example.org/x", "protocol": "WWW:LINK"}])
    found = exportable(rec)
    assert found.record is rec and found.left_out == []


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+33 6 12", "-2+3", "@SUM(A1:A2)", "\tcmd", "\rcmd",
            "plain", "-3.5"]


def test_csv_downloads_neutralise_formulas(site, settings, tmp_path):
    """Text a spreadsheet would run starts with a quote; numbers, negative ones included, stay as they are."""
    import csv
    import io
    import json

    from kartenn.services.publish import publish_file

    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [i, 1.0]},
                 "properties": {"label": text, "value": -3.5 if i % 2 else float(i), "count": -i}}
                for i, text in enumerate(FORMULAS)]
    source = tmp_path / "formulas.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    dataset = publish_file(site, source, title="Formulas")[0].dataset
    with TestClient(create_app(settings)) as client:
        for url in (f"/ogc/collections/{dataset.id}/download?f=csv", f"/ogc/collections/{dataset.id}/items?f=csv"):
            response = client.get(url)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv"), url
            rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
            assert [r["label"] for r in rows] == ["'" + t if t not in ("plain", "-3.5") else t for t in FORMULAS]
            assert [float(r["value"]) for r in rows] == [-3.5 if i % 2 else float(i) for i in range(len(rows))]
            assert [r["count"] for r in rows] == [str(-i) for i in range(len(rows))]
            assert "-3.5" in [r["value"] for r in rows]
