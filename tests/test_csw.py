"""CSW 2.0.2 against a live server on both stores: OWSLib, offline XSD validation, CITE replay, bad input."""

from __future__ import annotations

import pytest
from lxml import etree
from owslib.csw import CatalogueServiceWeb
from owslib.fes import BBox, PropertyIsLike

from cite import get_cases, post_cases, suite, summary
from conftest import shared
from kartenn.domain.security import OPERATOR
from kartenn.services.records import import_paths
from xsd import assert_valid

DISCOVERY = "csw/2.0.2/CSW-discovery.xsd"
EXCEPTION = "ows/1.0.0/owsExceptionReport.xsd"
BRETAGNE = "955c3e47-411e-4969-b61b-3556d1b9f879"
# Where we answer otherwise than pycsw's recorded output, and why.
KNOWN_DIFFERENCES = {
    # PropertyIsNotEqualTo dc:subject 'pHYSIOGRAPHy' matchCase="false": pycsw returns the one record that *has*
    # the subject (it answers not-equal like equal); we return the 11 others.
    ("post", "2102a460-5d62-465f-9668-d70b3faafbfa"),
}


@pytest.fixture(scope="module")
def cite_server(module_site, module_server):
    """The CITE suite's records, once per module: the tests that use them only read."""
    assert import_paths(module_site.seen_by(OPERATOR), [suite() / "data"]).errors == []
    return module_server


@pytest.fixture
def iso_server(site, server):
    assert import_paths(site.seen_by(OPERATOR), [shared("iso-metadata-records")]).errors == []
    return server


@pytest.mark.live
def test_owslib_search_and_fetch(iso_server):
    cat = CatalogueServiceWeb(f"{iso_server.url}/csw", timeout=60)
    assert cat.identification.type == "CSW" and cat.version == "2.0.2"
    assert {"GetRecords", "GetRecordById", "GetDomain"} <= {op.name for op in cat.operations}
    cat.getrecords2(constraints=[PropertyIsLike("csw:AnyText", "%cadastre%")], esn="full", maxrecords=20)
    assert BRETAGNE in cat.records and cat.results["matches"] == 2
    assert cat.records[BRETAGNE].title == "Cadastre 2018 en Bretagne"
    cat.getrecords2(constraints=[BBox([47.0, -5.0, 49.0, -1.0])], maxrecords=50)
    assert BRETAGNE in cat.records
    cat.getrecords2(constraints=[PropertyIsLike("dc:title", "%Bretagne%")], outputschema="http://www.isotc211.org/2005/gmd")
    assert cat.records[BRETAGNE].identification[0].title == "Cadastre 2018 en Bretagne"
    cat.getrecordbyid([BRETAGNE], outputschema="http://www.isotc211.org/2005/gmd")
    assert cat.records[BRETAGNE].identifier == BRETAGNE
    # a harvest loop as GeoNetwork runs it: page by nextRecord until 0
    seen, start = [], 1
    while start:
        cat.getrecords2(startposition=start, maxrecords=7, esn="brief")
        seen += list(cat.records)
        start = cat.results["nextrecord"]
    assert len(seen) == len(set(seen)) == 32


def test_responses_are_schema_valid(cite_server):
    with cite_server.client() as http:
        for params in ({"service": "CSW", "request": "GetCapabilities"},
                       {"service": "CSW", "request": "GetCapabilities", "version": "2.0.2"},
                       {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
                        "resulttype": "results", "elementsetname": "full"},
                       {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
                        "resulttype": "results", "constraintlanguage": "CQL_TEXT",
                        "constraint": "dc:title LIKE '%ipsum%'", "sortby": "dc:title:D"},
                       {"service": "CSW", "version": "2.0.2", "request": "GetRecordById",
                        "id": "urn:uuid:19887a8a-f6b0-4a63-ae56-7fba0e17801f", "elementsetname": "brief"},
                       {"service": "CSW", "version": "2.0.2", "request": "GetDomain", "propertyname": "dc:type"},
                       {"service": "CSW", "version": "2.0.2", "request": "DescribeRecord"}):
            r = http.get("/csw", params=params)
            assert r.status_code == 200, r.text
            assert_valid(r.content, DISCOVERY)
        r = http.get("/ows", params={"service": "CSW", "version": "2.0.2", "request": "GetRecords",
                                     "typenames": "csw:Record", "resulttype": "hits"})
        assert b'numberOfRecordsMatched="12"' in r.content


@pytest.mark.parametrize("bad", [
    {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
     "outputschema": "urn:nope"},
    {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
     "constraintlanguage": "CQL_TEXT", "constraint": "title LIKE"},
    {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
     "constraintlanguage": "FILTER", "constraint": "<ogc:Filter xmlns:ogc='http://www.opengis.net/ogc'><broken"},
    {"service": "CSW", "version": "2.0.2", "request": "GetRecords", "typenames": "csw:Record",
     "constraintlanguage": "CQL_TEXT", "constraint": "nosuchfield = 1"},
    {"service": "CSW", "version": "2.0.2", "request": "Harvest"},
    {"service": "WMS", "request": "GetCapabilities"},
])
def test_bad_requests_get_exception_reports(cite_server, bad):
    with cite_server.client() as http:
        r = http.get("/csw", params=bad)
        assert r.status_code == 400
        assert_valid(r.content, EXCEPTION)


def test_unsafe_post_bodies(cite_server):
    bodies = [b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              b'<csw:GetRecords xmlns:csw="http://www.opengis.net/cat/csw/2.0.2">&x;</csw:GetRecords>',
              b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
              b"<csw:GetRecords xmlns:csw='http://www.opengis.net/cat/csw/2.0.2'", b""]
    with cite_server.client() as http:
        for body in bodies:
            r = http.post("/csw", content=body, headers={"Content-Type": "application/xml"})
            assert r.status_code == 400 and b"ExceptionReport" in r.content
            assert_valid(r.content, EXCEPTION)
        assert http.get("/healthz").status_code == 200


def test_cite_replay(cite_server):
    """pycsw's CITE requests: same exception-or-not, same counts, same identifiers, for nearly all."""
    differences = []
    with cite_server.client() as http:
        for name, body, expected in post_cases():
            got = http.post("/csw", content=body, headers={"Content-Type": "application/xml"}).content
            if summary(got) != summary(expected):
                differences.append(("post", name))
        for name, params, expected in get_cases():
            got = http.get("/csw", params=params).content
            if summary(got) != summary(expected):
                differences.append(("get", name))
    total = len(post_cases()) + len(get_cases())
    assert total == 68
    assert set(differences) == KNOWN_DIFFERENCES, differences


def test_gmd_element_sets(iso_server):
    gmd = "http://www.isotc211.org/2005/gmd"
    parts = {}
    with iso_server.client() as http:
        for esn in ("brief", "summary", "full"):
            r = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecordById",
                                         "id": BRETAGNE, "outputschema": gmd, "elementsetname": esn})
            md = etree.fromstring(r.content).find(f"{{{gmd}}}MD_Metadata")
            parts[esn] = {etree.QName(e).localname for e in md.iter() if isinstance(e.tag, str)}
    assert {"fileIdentifier", "title", "EX_GeographicBoundingBox"} <= parts["brief"]
    assert not {"abstract", "contact", "dataQualityInfo"} & parts["brief"]
    assert {"abstract", "contact", "descriptiveKeywords", "distributionInfo"} <= parts["summary"]
    assert "dataQualityInfo" not in parts["summary"] and "dataQualityInfo" in parts["full"]
    assert parts["brief"] < parts["summary"] < parts["full"]
