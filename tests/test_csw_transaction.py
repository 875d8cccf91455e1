"""CSW-T on both stores against a live server: OWSLib inserts, updates and deletes; rights; all or nothing."""

from __future__ import annotations

import pytest
from lxml import etree
from owslib.catalogue.csw2 import CatalogueServiceWeb
from owslib.util import ServiceException

from conftest import shared
from xsd import assert_valid

PUBLICATION = "csw/2.0.2/CSW-publication.xsd"
EXCEPTION = "ows/1.0.0/owsExceptionReport.xsd"
CSW = "http://www.opengis.net/cat/csw/2.0.2"
ISO = shared("iso-metadata-records/pycsw-apiso/3e9a8c05.xml").read_bytes()  # id 3e9a8c05
MDB = shared("iso-metadata-records/pycsw-iso19115-3/metawal.wallonie.be-catchments.xml").read_bytes()
MDB_ID = "74f81503-8d39-4ec8-a49a-c76e0cd74946"
DC = shared("pycsw-csw-suites/cite/data/Record_19887a8a-f6b0-4a63-ae56-7fba0e17801f.xml").read_bytes()
DC_ID = "urn:uuid:19887a8a-f6b0-4a63-ae56-7fba0e17801f"


def body(record: bytes) -> str:
    return etree.tostring(etree.fromstring(record)).decode()


def transaction(*actions: str) -> bytes:
    inner = "".join(actions)
    return (f'<csw:Transaction xmlns:csw="{CSW}" xmlns:ogc="http://www.opengis.net/ogc" service="CSW" '
            f'version="2.0.2">{inner}</csw:Transaction>').encode()


def insert(*records: bytes) -> str:
    return "<csw:Insert>" + "".join(body(r) for r in records) + "</csw:Insert>"


def by_id(record_id: str) -> str:
    return ("<csw:Constraint version='1.1.0'><ogc:Filter><ogc:PropertyIsEqualTo><ogc:PropertyName>dc:identifier"
            f"</ogc:PropertyName><ogc:Literal>{record_id}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            "</csw:Constraint>")


def totals(response: bytes) -> tuple[int, ...]:
    """(inserted, updated, deleted). OWSLib looks for the summary one level too deep, so it is read here."""
    summary = etree.fromstring(response).find(f"{{{CSW}}}TransactionSummary")
    return tuple(int(summary.findtext(f"{{{CSW}}}total{k}")) for k in ("Inserted", "Updated", "Deleted"))


def ids(http) -> set[str]:  # type: ignore[no-untyped-def]
    r = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecords",
                                 "typenames": "csw:Record", "resulttype": "results", "maxrecords": "100",
                                 "elementsetname": "brief"})
    return {e.text for e in etree.fromstring(r.content).iter("{http://purl.org/dc/elements/1.1/}identifier")}


def edited(server, token: str, record_id: str) -> dict:  # type: ignore[no-untyped-def]
    """The record as its editor sees it: its working copy, while an editor's change of it waits for review."""
    with server.client(token) as http:
        return http.get(f"/api/v1/records/{record_id}").json()


@pytest.mark.live
def test_owslib_insert_update_delete(server, editor_token, site):
    cat = CatalogueServiceWeb(f"{server.url}/csw", timeout=60, headers={"Authorization": f"Bearer {editor_token}"})
    assert "Transaction" in {op.name for op in cat.operations}
    cat.transaction(ttype="insert", typename="gmd:MD_Metadata", record=ISO)
    assert cat.results["insertresults"] == ["3e9a8c05"] and totals(cat.response) == (1, 0, 0)
    assert_valid(cat.response, PUBLICATION)
    cat.transaction(ttype="insert", typename="csw:Record", record=DC)
    cat.transaction(ttype="insert", typename="mdb:MD_Metadata", record=MDB)
    assert cat.results["insertresults"] == [MDB_ID]
    cat.getrecordbyid(["3e9a8c05"], outputschema="http://www.isotc211.org/2005/gmd")
    assert cat.records["3e9a8c05"].identification[0].title == "test Title"
    # a whole new version, then one property through RecordProperty: an editor's changes of published records
    # wait for review as their working copies; the published versions stay
    changed = ISO.replace(b"test Title", b"Titre revu")
    cat.transaction(ttype="update", typename="gmd:MD_Metadata", record=changed)
    assert totals(cat.response)[1] == 1
    assert (edited(server, editor_token, "3e9a8c05")["title"], edited(server, editor_token, "3e9a8c05")["state"]) \
        == ("Titre revu", "draft")
    cat.getrecordbyid(["3e9a8c05"], outputschema="http://www.isotc211.org/2005/gmd")
    assert cat.records["3e9a8c05"].identification[0].title == "test Title"
    cat.transaction(ttype="update", propertyname="dc:title", propertyvalue="Lorem revu", identifier=DC_ID)
    assert totals(cat.response)[1] == 1
    assert edited(server, editor_token, DC_ID)["title"] == "Lorem revu"
    cat.transaction(ttype="update", propertyname="dc:title", propertyvalue="Captages", identifier=MDB_ID)
    assert edited(server, editor_token, MDB_ID)["title"] == "Captages"
    from kartenn.stores.working_copies import get

    with site.engine.connect() as conn:
        assert b"Captages" in get(conn, MDB_ID).xml
    assert site.catalog.get_record(MDB_ID).title != "Captages"
    cat.transaction(ttype="delete", identifier="3e9a8c05")
    assert totals(cat.response) == (0, 0, 1)
    with server.client() as http:
        assert ids(http) == {DC_ID, MDB_ID}
    log = site.accounts.audit_log(limit=50)
    assert {("record.insert", "record:3e9a8c05"), ("record.update", "record:3e9a8c05"),
            ("record.delete", "record:3e9a8c05")} <= {(e["event"], e["resource"]) for e in log}


def test_several_records_in_one_request_all_or_nothing(server, editor_token):
    with server.client(editor_token) as http:
        r = http.post("/csw", content=transaction(insert(ISO, DC, MDB)))
        assert r.status_code == 200, r.text
        assert_valid(r.content, PUBLICATION)
        assert etree.fromstring(r.content).findtext(f".//{{{CSW}}}totalInserted") == "3"
        assert len(etree.fromstring(r.content).findall(f".//{{{CSW}}}InsertResult/{{{CSW}}}BriefRecord")) == 3
        # the insert is fine but the delete names a record that exists: inserting it again fails the whole
        r = http.post("/csw", content=transaction("<csw:Delete typeName='csw:Record'>" + by_id(DC_ID) +
                                                  "</csw:Delete>", insert(ISO)))
        assert r.status_code == 400 and b"is not free" in r.content
        assert ids(http) == {"3e9a8c05", DC_ID, MDB_ID}


@pytest.mark.parametrize("bad", [
    transaction("<csw:Insert><gmd:MD_Metadata xmlns:gmd='http://www.isotc211.org/2005/gmd'><broken"),
    transaction("<csw:Insert><foo:Thing xmlns:foo='urn:foo'><foo:id>1</foo:id></foo:Thing></csw:Insert>"),
    transaction(insert(DC) + "<csw:Insert><foo:Thing xmlns:foo='urn:foo'/></csw:Insert>"),
    transaction("<csw:Delete typeName='csw:Record'/>"),
    transaction("<csw:Update><csw:RecordProperty><csw:Name>dc:nothing</csw:Name><csw:Value>x</csw:Value>"
                "</csw:RecordProperty>" + by_id(DC_ID) + "</csw:Update>"),
    b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    + transaction("<csw:Insert>&b;</csw:Insert>"),
    transaction(insert(DC, DC)),
])
def test_bad_transactions_store_nothing(server, editor_token, bad):
    with server.client(editor_token) as http:
        r = http.post("/csw", content=bad)
        assert r.status_code == 400, r.text
        assert_valid(r.content, EXCEPTION)
        assert ids(http) == set()


def test_only_editors_write(server, site, editor_token):
    from kartenn.services.identity import create_token

    for user, org, role in (("marc", "iuem", "member"), ("olga", "lille", "editor")):
        if not site.accounts.has_organisation(org):
            site.accounts.add_organisation(org)
        site.accounts.add_user(user)
        site.accounts.set_membership(user, org, role)
    member, other_editor = create_token(site, "marc"), create_token(site, "olga")
    with server.client() as http:
        r = http.post("/csw", content=transaction(insert(DC)))
        assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
        assert_valid(r.content, EXCEPTION)
    with server.client(member) as http:
        assert http.post("/csw", content=transaction(insert(DC))).status_code == 403
    with server.client(editor_token) as http:
        assert http.post("/csw", content=transaction(insert(DC))).status_code == 200
    # an editor of another organisation sees the public record but may neither change nor delete it
    with server.client(other_editor) as http:
        for action in (f"<csw:Delete typeName='csw:Record'>{by_id(DC_ID)}</csw:Delete>",
                       f"<csw:Update>{body(DC.replace(b'Lorem ipsum', b'Pris'))}</csw:Update>",
                       "<csw:Update><csw:RecordProperty><csw:Name>dc:title</csw:Name><csw:Value>x</csw:Value>"
                       f"</csw:RecordProperty>{by_id(DC_ID)}</csw:Update>"):
            r = http.post("/csw", content=transaction(action))
            assert r.status_code == 403, r.text
        # nor overwrite it by inserting a record with the same identifier
        assert http.post("/csw", content=transaction(insert(DC))).status_code == 400
    assert site.catalog.get_record(DC_ID).title == "Lorem ipsum"


@pytest.mark.live
def test_owslib_reports_refusals(server):
    cat = CatalogueServiceWeb(f"{server.url}/csw", timeout=60)
    with pytest.raises((ServiceException, Exception)):
        cat.transaction(ttype="insert", typename="csw:Record", record=DC)


def test_two_updates_of_one_record_both_hold(server, editor_token):
    def prop(name: str, value: str) -> str:
        return (f"<csw:Update><csw:RecordProperty><csw:Name>{name}</csw:Name><csw:Value>{value}</csw:Value>"
                f"</csw:RecordProperty>{by_id(DC_ID)}</csw:Update>")

    with server.client(editor_token) as http:
        assert http.post("/csw", content=transaction(insert(DC))).status_code == 200
        r = http.post("/csw", content=transaction(prop("dc:title", "Titre neuf"), prop("dct:abstract", "Résumé neuf")))
        assert r.status_code == 200, r.text
        assert totals(r.content) == (0, 2, 0)
        got = edited(server, editor_token, DC_ID)  # the editor's working copy of the published record
        assert (got["title"], got["abstract"]) == ("Titre neuf", "Résumé neuf")  # the second kept the first
