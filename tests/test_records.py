"""Catalogue records: import of the real ISO records, lossless round trip, safe XML, search, on both stores."""

from __future__ import annotations

import zipfile

import pytest
from lxml import etree

from conftest import kartenn, shared
from kartenn.domain import Record
from kartenn.domain.security import OPERATOR
from kartenn.errors import InvalidInput
from kartenn.formats.iso19139 import render_iso19139
from kartenn.formats.records import read_records
from kartenn.services.records import RecordQuery, export_record, import_paths, record_file, search_records
from kartenn.xml import parse_xml
from xsd import assert_valid

ISO = "iso-metadata-records"
BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"><gmd:fileIdentifier>&x;</gmd:fileIdentifier>
</gmd:MD_Metadata>"""


def canonical(el: etree._Element) -> bytes:
    """Whitespace-insensitive canonical form: equal bytes mean the same information."""
    el = etree.fromstring(etree.tostring(el))
    for node in el.iter():
        if isinstance(node.tag, str):
            node.text = (node.text or "").strip() or None
            node.tail = None
    return etree.tostring(el, method="c14n2", strip_text=True)


def test_unsafe_xml_refused():
    for bad in (BILLION_LAUGHS, XXE, b"<gmd:MD_Metadata", b""):
        with pytest.raises(InvalidInput):
            read_records(bad)
    with pytest.raises(InvalidInput, match="neither ISO 19139"):
        read_records(b"<html/>")


def test_every_real_record_round_trips(site):
    files = sorted(shared(ISO).rglob("*.xml"))
    assert len(files) == 33
    report = import_paths(site.seen_by(OPERATOR), [shared(ISO)])
    assert report.errors == [] and len(report.imported) == 33
    # Two files share one fileIdentifier: the later import replaces the earlier, as a harvest would.
    originals = {}
    for path in files:
        root = parse_xml(path.read_bytes())
        if etree.QName(root).localname == "GetRecordByIdResponse":
            root = next(iter(root))
        rec = read_records(path.read_bytes())[0]
        originals[rec.id] = (path, root, rec)
    assert len(originals) == 32 == site.catalog.count_records()
    for path, root, rec in originals.values():
        stored = site.catalog.get_record(rec.id)
        schema = "iso19115-3" if stored.schema == "iso19115-3" else "iso19139"
        back = parse_xml(export_record(stored, schema))
        assert canonical(back) == canonical(root), path.name
        # what was indexed survives the store unchanged
        for name in ("title", "abstract", "keywords", "keyword_sets", "contacts", "extent_wgs84", "time_begin",
                     "time_end", "dates", "formats", "links", "constraints", "themes", "lineage", "type"):
            assert getattr(stored, name) == getattr(rec, name), (path.name, name)


def test_fields_of_the_french_geobretagne_record(site):
    import_paths(site.seen_by(OPERATOR), [shared(f"{ISO}/owslib-real-records/csw_geobretagne_mdmetadata.xml")])
    rec = site.catalog.get_record("955c3e47-411e-4969-b61b-3556d1b9f879")
    assert rec.title == "Cadastre 2018 en Bretagne" and rec.language == "fre" and rec.type == "dataset"
    assert rec.organisation == "DGFIP Bretagne"
    assert rec.themes == ["Parcelles cadastrales"]
    inspire = next(s for s in rec.keyword_sets if "Parcelles cadastrales" in s["keywords"])
    assert "INSPIRE" in inspire["thesaurus"]
    w, s, e, n = rec.extent_wgs84
    assert -5.3 < w < e < -1.1 and 46.7 < s < n < 49.4
    assert {"DXF", "EDIGEO"} <= set(rec.formats)
    assert rec.crs == "RGF93 / CC48 (EPSG:3948)" and rec.dates == {"revision": "2018-09-01"}
    assert rec.lineage and rec.links and rec.constraints


def test_mdb_fields(site):
    import_paths(site.seen_by(OPERATOR), [shared(f"{ISO}/pycsw-iso19115-3/metawal.wallonie.be-srv.xml")])
    rec = site.catalog.get_record("1714cd1e-6685-4dea-a6f4-b51612a15ed0")
    assert rec.schema == "iso19115-3" and rec.type == "service" and rec.language == "fre"
    assert rec.themes == ["Santé et sécurité des personnes"]
    with pytest.raises(InvalidInput):
        export_record(rec, "iso19139")
    assert b"<dc:title>INSPIRE" in export_record(rec, "dc")


def test_generated_record_is_valid_iso19139(site):
    rec = Record(id="lacs", title="Lacs", abstract="Les lacs du monde", keywords=["eau"], crs="EPSG:4326",
                 extent_wgs84=(-5, 47, -1, 49), lineage="Ingested from lakes.geojson",
                 contacts=[{"organisation": "Kartenn", "role": "owner", "scope": "resource", "email": "a@b.fr"}],
                 links=[{"url": "https://example.org/ogc/collections/lacs", "protocol": "OGC API Features"}],
                 formats=["GeoPackage"], time_begin="2020-01-01", time_end="2021-06-30")
    with site.catalog.begin() as conn:
        site.catalog.put_record(conn, rec)
    xml = export_record(site.catalog.get_record("lacs"), "iso19139")
    assert_valid(xml, "iso/19139/20060504/gmd/gmd.xsd")
    again = read_records(xml)[0]
    assert (again.title, again.keywords, again.extent_wgs84, again.time_end) == ("Lacs", ["eau"], (-5, 47, -1, 49),
                                                                                  "2021-06-30")


def test_published_dataset_has_an_iso_record(site):
    from kartenn.services.publish import publish_file

    dataset = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))[0].dataset
    rec = site.catalog.get_record(dataset.record_id)
    assert rec.dataset_id == dataset.id
    xml = export_record(rec, "iso19139")
    assert_valid(xml, "iso/19139/20060504/gmd/gmd.xsd")
    assert search_records(site, RecordQuery(q="lakes")).records[0].id == rec.id


@pytest.fixture
def catalogue(site):
    report = import_paths(site.seen_by(OPERATOR), [shared(ISO), shared("pycsw-csw-suites/cite/data")])
    assert report.errors == []
    return site


def ids(result) -> list[str]:
    return [r.id for r in result.records]


def test_search_stemming_and_accents(catalogue):
    bretagne = "955c3e47-411e-4969-b61b-3556d1b9f879"
    air = "17bd184a-7e7d-4f81-95a5-041449a7212b"
    # French stemming and accents: "parcelle cadastrale" finds "Parcelles cadastrales"
    assert ids(search_records(catalogue, RecordQuery(q="parcelle cadastrale"))) == [bretagne]
    assert bretagne in ids(search_records(catalogue, RecordQuery(q="BRETAGNE")))
    # English stemming, and accent folding both ways
    assert air in ids(search_records(catalogue, RecordQuery(q="temperatures", limit=50)))
    assert air in ids(search_records(catalogue, RecordQuery(q="températures", limit=50)))
    nunc = search_records(catalogue, RecordQuery(q="nunc elementum"))
    assert ids(nunc) == ["urn:uuid:9a669547-b69b-469f-a11f-2d875366bbdc"]
    assert search_records(catalogue, RecordQuery(q="les de")).matched == 0


def test_search_bbox_time_type_sort_paging(catalogue):
    # Brittany box: the cadastre, two CITE records, and the whole-world ArcGIS sample
    box = search_records(catalogue, RecordQuery(bbox=(-5, 47.5, -1.5, 48.5), sort=[("identifier", True)], limit=50))
    assert ids(box) == ["955c3e47-411e-4969-b61b-3556d1b9f879", "Metadata > Details > File Identifier",
                        "urn:uuid:94bc9c83-97f6-4b40-9eb8-a8e8787a5c63",
                        "urn:uuid:9a669547-b69b-469f-a11f-2d875366bbdc"]
    during = search_records(catalogue, RecordQuery(start="2009-06-01", end="2009-06-30", limit=50))
    assert "ie.marine.data:dataset.1135" in ids(during)
    assert all((r.time_end or r.modified or "") >= "2009-06-01" for r in during.records)
    services = search_records(catalogue, RecordQuery(types=["service"], sort=[("title", True)], limit=50))
    assert services.matched == 4 and [r.type for r in services.records] == ["service"] * 4
    titles = [r.title.lower() for r in services.records]
    assert titles == sorted(titles)
    first = search_records(catalogue, RecordQuery(sort=[("modified", False)], limit=5))
    second = search_records(catalogue, RecordQuery(sort=[("modified", False)], limit=5, offset=5))
    assert first.matched == second.matched == 44
    assert not set(ids(first)) & set(ids(second))
    dates = [r.modified for r in first.records + second.records]
    assert dates == sorted(dates, reverse=True)


def test_facets(catalogue):
    result = search_records(catalogue, RecordQuery(q="ortho", facets=True))
    assert result.matched == 5
    assert ("Orthoimagery", 5) in result.facets["theme"]
    assert result.facets["organisation"] == [("YPAAT", 5)]
    assert result.facets["type"] == [("dataset", 5)]
    assert result.facets["year"] == [("2000", 5)]
    everything = search_records(catalogue, RecordQuery(facets=True, limit=0))
    assert dict(everything.facets["type"])["service"] == 4
    assert dict(everything.facets["format"])["image/jpeg"] == 1


def test_cli_imports_folder_zip_and_mef(site, settings, tmp_path):
    one = shared(f"{ISO}/pycsw-apiso/test.xml")
    mef = tmp_path / "export.mef"
    with zipfile.ZipFile(mef, "w") as z:
        z.writestr("437ae0a2/info.xml", "<info><general><uuid>437ae0a2</uuid></general></info>")
        z.writestr("437ae0a2/metadata/metadata.xml", one.read_bytes())
        z.writestr("437ae0a2/public/overview_s.png", b"\x89PNG small")
        z.writestr("437ae0a2/private/data.csv", "a;b\n1;2\n")
    bundle = tmp_path / "records.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        for path in sorted(shared(f"{ISO}/pycsw-iso19115-3").glob("*.xml")):
            z.write(path, f"records/{path.name}")
    result = kartenn("records", "import", "--data-dir", str(settings.data_dir), str(mef), str(bundle),
                     str(shared(f"{ISO}/pycsw-apiso")), settings=settings, check=True)
    assert "23 record(s) imported" in result.stdout
    assert site.catalog.count_records() == 22  # the MEF record is also in the folder
    # the MEF's files are kept with its record: public ones for who sees it, private ones for who downloads
    operator = site.seen_by(OPERATOR)
    assert record_file(operator, "437ae0a2-06e2-4015-b296-a66e7f407bf2", "overview_s.png").data == b"\x89PNG small"
    kept = record_file(operator, "437ae0a2-06e2-4015-b296-a66e7f407bf2", "data.csv")
    assert (kept.folder, kept.media_type) == ("private", "text/csv")
    bad = tmp_path / "bad.xml"
    bad.write_bytes(XXE)
    result = kartenn("records", "import", "--data-dir", str(settings.data_dir), str(bad), settings=settings)
    assert result.returncode == 1 and "entities is refused" in result.stderr
    exported = kartenn("records", "export", "--data-dir", str(settings.data_dir),
                       "437ae0a2-06e2-4015-b296-a66e7f407bf2", settings=settings, check=True)
    assert canonical(parse_xml(exported.stdout.encode())) == canonical(parse_xml(one.read_bytes()))


def test_api_import_and_read(server, editor_token):
    record = shared(f"{ISO}/owslib-real-records/csw_geobretagne_mdmetadata.xml").read_bytes()
    with server.client() as anonymous:
        assert anonymous.post("/api/v1/records", content=record).status_code == 401
    with server.client(editor_token) as http:
        r = http.post("/api/v1/records", content=record, headers={"Content-Type": "application/xml"})
        assert r.status_code == 201, r.text
        assert r.json()["imported"] == ["955c3e47-411e-4969-b61b-3556d1b9f879"]
        files = [("file", ("a.xml", shared(f"{ISO}/pycsw-apiso/test.xml").read_bytes())),
                 ("file", ("b.xml", shared(f"{ISO}/pycsw-iso19115-3/auscope-3d-model.xml").read_bytes()))]
        r = http.post("/api/v1/records", files=files)
        assert r.status_code == 201 and len(r.json()["imported"]) == 2, r.text
        for bad in (BILLION_LAUGHS, XXE, b"<broken"):
            r = http.post("/api/v1/records", content=bad, headers={"Content-Type": "application/xml"})
            assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        rec = http.get("/api/v1/records/955c3e47-411e-4969-b61b-3556d1b9f879").json()
        assert rec["title"] == "Cadastre 2018 en Bretagne" and rec["themes"] == ["Parcelles cadastrales"]
        xml = http.get("/api/v1/records/955c3e47-411e-4969-b61b-3556d1b9f879/iso19139.xml")
        assert canonical(parse_xml(xml.content)) == canonical(parse_xml(record))
        found = http.get("/api/v1/records", params={"q": "cadastrale", "bbox": "-5,47,-1,49"}).json()
        assert found["matched"] == 1 and found["facets"]["theme"] == [{
            "value": "Parcelles cadastrales", "count": 1, "uri": "http://inspire.ec.europa.eu/theme/cp",
            "label": "Cadastral parcels"}]
        assert http.get("/api/v1/records", params={"bbox": "a,b"}).status_code == 400
        assert http.get("/api/v1/records/nope").status_code == 404


def test_same_results_on_both_stores(catalogue):
    """Run on each store against the same literal expectations: equal on one means equal on the other."""
    queries = {"cadastre": 2, "aerial photo": 5, "ocean": 3, "hydrographie": 3, "lorem ipsum": 2}
    for q, n in queries.items():
        assert search_records(catalogue, RecordQuery(q=q)).matched == n, q
    combined = search_records(catalogue, RecordQuery(q="aerial", bbox=(20, 38, 24, 40), sort=[("identifier", True)]))
    assert ids(combined) == ["0173e0d7-6ea9-4407-b846-f29d6bfa9903", "366f6257-19eb-4f20-ba78-0698ac4aae77",
                             "437ae0a2-06e2-4015-b296-a66e7f407bf2", "75a7eb5e-336e-453d-ab06-209b1070d396",
                             "a7308c0a-b748-48e2-bab7-0a608a51d416"]



def test_relevance_puts_title_matches_first_then_the_newest(site):
    """The same order on both stores: every word in the title first, then the records written last; paging
    crosses from one tier to the other; the words' other filters and a sort by title still apply."""
    texts = [("r1", "Lacs de Bretagne", "Inventaire."), ("r2", "Cours d'eau", "Les lacs et rivières."),
             ("r3", "Zones humides", "Mares et lacs."), ("r4", "Lacs alpins", "Altitude."),
             ("r5", "Forêts", "Sans rapport.")]
    for rid, title, abstract in texts:  # one transaction each: r5 is the last written
        with site.catalog.begin() as conn:
            site.catalog.put_record(conn, Record(id=rid, title=title, abstract=abstract,
                                                 extent_wgs84=(-5.0, 47.0, -1.0, 49.0) if rid != "r4" else None))
    ranked = search_records(site, RecordQuery(q="lac"))
    assert ranked.matched == 4 and ids(ranked) == ["r4", "r1", "r3", "r2"]
    pages = [ids(search_records(site, RecordQuery(q="lac", limit=1, offset=i))) for i in range(5)]
    assert pages == [["r4"], ["r1"], ["r3"], ["r2"], []]
    assert ids(search_records(site, RecordQuery(q="lac", limit=2, offset=1))) == ["r1", "r3"]
    assert ids(search_records(site, RecordQuery(q="lac", bbox=(-4, 48, -3, 48.5)))) == ["r1", "r3", "r2"]
    assert ids(search_records(site, RecordQuery(q="lac", sort=[("title", True)]))) == ["r2", "r4", "r1", "r3"]
    assert search_records(site, RecordQuery(q="lacs bretagne")).matched == 1

def test_bulk_import_batches_as_one_document_at_a_time(site, tmp_path, monkeypatch):
    """Batched writes give what one document after the other gives: the last copy of an id wins, a bad
    document is named and skipped, a dataset's record stays attached to its data."""
    from kartenn.services import records as service
    from kartenn.services.publish import publish_file

    monkeypatch.setattr(service, "BATCH", 2)
    dataset = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))[0].dataset
    made = Record(id=dataset.record_id, title="Lacs, décrits ailleurs", keywords=["eau"])
    folder = tmp_path / "in"
    folder.mkdir()
    for i, title in enumerate(["Premier", "Deuxième", "Troisième"]):
        (folder / f"a{i}.xml").write_bytes(render_iso19139(Record(id="same" if i != 1 else "other", title=title)))
    (folder / "b.xml").write_bytes(b"<nope/>")
    (folder / "c.xml").write_bytes(render_iso19139(made))
    report = import_paths(site.seen_by(OPERATOR), [folder])
    assert report.imported == ["same", "other", "same", dataset.record_id]
    assert len(report.errors) == 1 and report.errors[0].startswith("b.xml: ")
    assert site.catalog.get_record("same").title == "Troisième"
    again = site.catalog.get_record(dataset.record_id)
    assert (again.title, again.dataset_id) == ("Lacs, décrits ailleurs", dataset.id)
    assert [r.id for r in search_records(site, RecordQuery(q="troisieme")).records] == ["same"]
    assert search_records(site, RecordQuery(q="premier")).matched == 0
    assert site.accounts.grants_of("record", "same") == [{"kind": "record", "resource_id": "same",
                                                          "principal": "public", "principal_id": "", "action": "view"}]


def test_anonymous_searches_follow_every_change_of_visibility(catalogue):
    """What anonymous callers see of a public catalogue is known without testing each record's grants, until
    a grant, an owner or a record's state changes: then the very next search sees the change."""
    from sqlalchemy import update

    from kartenn.domain.security import ANONYMOUS
    from kartenn.stores.catalog import records

    anonymous = catalogue.seen_by(ANONYMOUS)
    everyone = search_records(anonymous, RecordQuery(q="aerial photo", sort=[("identifier", True)]))
    unfiltered = search_records(catalogue, RecordQuery(q="aerial photo", sort=[("identifier", True)]))
    assert everyone.matched == 5 and ids(everyone) == ids(unfiltered)
    for q, limit, offset in (("aerial photo", 3, 0), ("aerial photo", 2, 3), ("ocean", 10, 0), ("nothing", 5, 0)):
        seen = search_records(anonymous, RecordQuery(q=q, limit=limit, offset=offset))
        whole = search_records(catalogue, RecordQuery(q=q, limit=limit, offset=offset))
        assert (seen.matched, ids(seen)) == (whole.matched, ids(whole)), q
    hidden = ids(everyone)[1]
    with catalogue.catalog.begin() as conn:
        for action in ("view", "download"):
            catalogue.accounts.revoke(conn, "record", hidden, "public", "", action)
    after = search_records(anonymous, RecordQuery(q="aerial photo", sort=[("identifier", True)]))
    assert after.matched == 4 and hidden not in ids(after)
    ranked = search_records(anonymous, RecordQuery(q="aerial photo"))
    assert ranked.matched == 4 and sorted(ids(ranked)) == ids(after)
    with catalogue.catalog.begin() as conn:
        catalogue.accounts.grant(conn, "record", hidden, "public", "", "view")
        conn.execute(update(records).where(records.c.id == ids(everyone)[2]).values(state="draft"))
    again = search_records(anonymous, RecordQuery(q="aerial photo", sort=[("identifier", True)]))
    assert again.matched == 4 and ids(again) == [i for i in ids(everyone) if i != ids(everyone)[2]]
    with catalogue.catalog.begin() as conn:
        conn.execute(update(records).where(records.c.id == ids(everyone)[2]).values(state="published"))
    assert ids(search_records(anonymous, RecordQuery(q="aerial photo", sort=[("identifier", True)]))) == ids(everyone)
