"""Record exports (Dublin Core, DCAT-AP RDF/XML and JSON-LD, schema.org) and the DCAT-AP catalogue, parsed
back with lxml and rdflib; a dataset's record lists its services and follows the dataset when it changes."""

from __future__ import annotations

import orjson
import pytest
from lxml import etree
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from conftest import kartenn, shared
from kartenn.domain import Dataset, Record
from kartenn.formats.iso19115_3 import parse_iso19115_3
from kartenn.formats.iso19139 import parse_iso19139
from kartenn.formats.schema_org import schema_org
from kartenn.services.validation import xsd_errors
from kartenn.xml import parse_xml
from xsd import assert_valid

ISO = "iso-metadata-records"
BRETAGNE = "955c3e47-411e-4969-b61b-3556d1b9f879"
PACIOOS = "NS06agg"  # a record with a temporal extent 2010-05-07 / 2014-03-17
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
GMD = "{http://www.isotc211.org/2005/gmd}"
GCO = "{http://www.isotc211.org/2005/gco}"


@pytest.fixture
def catalogue(site) -> dict[str, str]:
    from kartenn.domain.security import OPERATOR
    from kartenn.services.publish import publish_file
    from kartenn.services.records import import_paths

    assert import_paths(site.seen_by(OPERATOR), [shared(ISO)]).errors == []
    lakes = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs du monde")[0].dataset
    return {"dataset": lakes.id, "record": lakes.record_id}


def graph_of(data: bytes, fmt: str) -> Graph:
    graph = Graph()
    graph.parse(data=data, format=fmt)
    return graph


def test_dublin_core_and_dcat_of_an_imported_record(catalogue, server):
    with server.client() as http:
        dc = http.get(f"/api/v1/records/{BRETAGNE}/dc.xml")
        assert dc.status_code == 200
        root = parse_xml(dc.content)
        assert root.findtext("{http://purl.org/dc/elements/1.1/}title") == "Cadastre 2018 en Bretagne"
        rdf = http.get(f"/api/v1/records/{BRETAGNE}/dcat.rdf")
        assert rdf.headers["content-type"] == "application/rdf+xml"
        graph = graph_of(rdf.content, "xml")
        ds = URIRef(f"{server.url}/ogc/collections/catalog/items/{BRETAGNE}")
        assert (ds, RDF.type, DCAT.Dataset) in graph
        assert (ds, DCTERMS.title, Literal("Cadastre 2018 en Bretagne", lang="fr")) in graph
        assert (ds, DCTERMS.identifier, Literal(BRETAGNE)) in graph
        assert (ds, DCTERMS.language, URIRef("http://publications.europa.eu/resource/authority/language/FRA")) in graph
        assert (ds, DCAT.theme, URIRef("http://inspire.ec.europa.eu/theme/cp")) in graph
        assert (ds, DCTERMS.modified, Literal("2018-09-01", datatype=XSD.date)) in graph
        assert (ds, DCAT.keyword, Literal("Parcelles cadastrales", lang="fr")) in graph
        publisher = graph.value(ds, DCTERMS.publisher)
        assert graph.value(publisher, FOAF.name) == Literal("DGFIP Bretagne")
        contact_names = {str(graph.value(c, VCARD.fn)) for c in graph.objects(ds, DCAT.contactPoint)}
        assert "DGFIP Bretagne" in contact_names
        place = graph.value(ds, DCTERMS.spatial)
        shapes = {o.datatype: str(o) for o in graph.objects(place, LOCN.geometry)}
        assert shapes[GSP.wktLiteral].startswith("POLYGON((") and orjson.loads(shapes[GSP.geoJSONLiteral])["type"] == \
            "Polygon"
        # the record's own online resources become distributions
        assert len(list(graph.objects(ds, DCAT.distribution))) >= 1
        # temporal coverage
        other = graph_of(http.get(f"/api/v1/records/{PACIOOS}/dcat.jsonld").content, "json-ld")
        period = other.value(URIRef(f"{server.url}/ogc/collections/catalog/items/{PACIOOS}"), DCTERMS.temporal)
        assert str(other.value(period, DCAT.startDate)).startswith("2010-05-07")
        assert http.get("/api/v1/records/no-such/dcat.rdf").status_code == 404
        assert http.get(f"/api/v1/records/{BRETAGNE}/nothing.xml").status_code == 400


def test_published_dataset_exports_list_its_services(catalogue, server):
    record_id, dataset_id = catalogue["record"], catalogue["dataset"]
    with server.client() as http:
        iso = http.get(f"/api/v1/records/{record_id}/iso19139.xml").content
        assert_valid(iso, "iso/19139/20060504/gmd/gmd.xsd")
        online = {res.findtext(f"{GMD}protocol/{GCO}CharacterString"):
                  (res.findtext(f"{GMD}linkage/{GMD}URL"), res.findtext(f"{GMD}name/{GCO}CharacterString"))
                  for res in etree.fromstring(iso).iter(f"{GMD}CI_OnlineResource")}
        assert online["OGC:WMS"] == (f"{server.url}/wms", dataset_id)
        assert online["OGC:WFS"] == (f"{server.url}/wfs", f"kartenn:{dataset_id}")
        assert online["OGC:API-Features"][0] == f"{server.url}/ogc/collections/{dataset_id}"
        assert online["WWW:DOWNLOAD-1.0-http--download"][0].startswith(f"{server.url}/ogc/collections/{dataset_id}/")
        assert b'codeListValue="download"' in iso
        # ISO 19115-3 (mdb 2.0) of the same record: valid against the ISO 19115-3 schemas, and read back alike
        mdb = http.get(f"/api/v1/records/{record_id}/iso19115-3.xml")
        assert mdb.status_code == 200 and mdb.headers["content-type"].startswith("application/vnd.iso.19115-3+xml")
        root = etree.fromstring(mdb.content)
        assert root.tag == "{http://standards.iso.org/iso/19115/-3/mdb/2.0}MD_Metadata"
        assert xsd_errors(root) == []
        again, original = parse_iso19115_3(root), parse_iso19139(etree.fromstring(iso))
        for name in ("id", "title", "abstract", "keywords", "extent_wgs84", "language", "type", "lineage",
                     "constraints", "topics", "formats"):
            assert getattr(again, name) == getattr(original, name), name
        assert {(link["url"], link.get("protocol")) for link in again.links} == \
            {(link["url"], link.get("protocol")) for link in original.links}
        assert [(c.get("organisation"), c.get("role")) for c in again.contacts] == \
            [(c.get("organisation"), c.get("role")) for c in original.contacts]
        # the JSON API's record carries the same links
        api = http.get(f"/api/v1/records/{record_id}").json()
        assert {"OGC:WMS", "OGC:WFS", "OGC:API-Features"} <= {link["protocol"] for link in api["links"]}
        assert "GeoPackage" in api["formats"] and api["export"]["dcat.rdf"].endswith("/dcat.rdf")
        graph = graph_of(http.get(f"/api/v1/records/{record_id}/dcat.jsonld").content, "json-ld")
        ds = URIRef(f"{server.url}/ogc/collections/catalog/items/{record_id}")
        distributions = list(graph.objects(ds, DCAT.distribution))
        downloads = {graph.value(d, DCAT.downloadURL) for d in distributions} - {None}
        assert URIRef(f"{server.url}/ogc/collections/{dataset_id}/download?f=gpkg") in downloads
        gpkg = next(d for d in distributions if str(graph.value(d, DCAT.accessURL)).endswith("f=gpkg"))
        assert graph.value(gpkg, DCTERMS["format"]) == URIRef(
            "http://publications.europa.eu/resource/authority/file-type/GPKG")
        services = {graph.value(graph.value(d, DCAT.accessService), DCTERMS.conformsTo) for d in distributions}
        assert URIRef("http://www.opengis.net/def/serviceType/ogc/wms") in services
        org = http.get(f"/api/v1/records/{record_id}/schemaorg.jsonld").json()
        assert org["@type"] == "Dataset" and org["name"] == "Lacs du monde"
        assert {"DataDownload"} == {d["@type"] for d in org["distribution"]}
        assert any(d["contentUrl"].endswith("f=gpkg") for d in org["distribution"])
        s, w, n, e = map(float, org["spatialCoverage"]["geo"]["box"].split())
        assert -180 <= w < e <= 180 and -90 <= s < n <= 90
        # CSW harvesters see the same services: in csw:Record (dct:references) and in gmd.
        for schema, expected in (("http://www.opengis.net/cat/csw/2.0.2", f"{server.url}/wms".encode()),
                                 ("http://www.isotc211.org/2005/gmd", b"OGC:WMS")):
            csw = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecordById",
                                           "id": record_id, "elementSetName": "full", "outputSchema": schema})
            assert csw.status_code == 200 and expected in csw.content, (schema, csw.text[:2000])


def test_dcat_catalogue_pages(catalogue, server):
    with server.client() as http:
        url: str | None = "/api/v1/catalog/dcat.rdf?limit=10"
        datasets, pages = set(), 0
        while url:
            response = http.get(url)
            graph = graph_of(response.content, "xml")
            catalog = URIRef(f"{server.url}/api/v1/catalog/dcat.rdf")
            assert (catalog, RDF.type, DCAT.Catalog) in graph
            found = set(graph.objects(catalog, DCAT.dataset))
            assert all((d, RDF.type, DCAT.Dataset) in graph for d in found)
            datasets |= found
            page = next(graph.subjects(RDF.type, HYDRA.PagedCollection))
            assert int(graph.value(page, HYDRA.totalItems)) == 33
            nxt = graph.value(page, HYDRA.nextPage)
            url = str(nxt) if nxt else None
            assert response.links.get("next", {}).get("url") == url
            pages += 1
        assert pages == 4 and len(datasets) == 33
        whole = graph_of(http.get("/api/v1/catalog/dcat.jsonld").content, "json-ld")
        assert len(list(whole.subjects(RDF.type, DCAT.Dataset))) == 33
        assert http.get("/api/v1/catalog/dcat.ttl").status_code == 404
        assert http.get("/api/v1/catalog/dcat.rdf?limit=0").status_code == 400


def test_links_follow_the_dataset(catalogue, server, site):
    from kartenn.services.publish import publish_file

    record_id, dataset_id = catalogue["record"], catalogue["dataset"]
    with server.client() as http:
        def protocols() -> dict[str, dict]:
            record = http.get(f"/ogc/collections/catalog/items/{record_id}").json()
            return {link["protocol"]: link for link in record["links"] if "protocol" in link}

        assert protocols()["OGC:WMS"]["title"] == "Lacs du monde (WMS)"
        # a replace with a new title renames the record and its links
        outcome = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), replace=dataset_id,
                               title="Grands lacs")[0]
        assert not outcome.error and outcome.dataset.record_id == record_id
        assert protocols()["OGC:WMS"]["title"] == "Grands lacs (WMS)"
        # replaced by a raster: no more features, WFS or downloads; tiles instead
        outcome = publish_file(site, shared("rasters/RGB.byte.tif"), replace=dataset_id, title="Image")[0]
        assert not outcome.error, outcome.error
        now = protocols()
        assert {"OGC:WMS", "OGC:API-Tiles"} <= set(now) and not {"OGC:WFS", "OGC:API-Features"} & set(now)
        assert "WWW:DOWNLOAD-1.0-http--download" not in now
        iso = http.get(f"/api/v1/records/{record_id}/iso19139.xml").text
        assert "OGC:WFS" not in iso and "OGC:API-Tiles" in iso
        # deleted: the record goes with it, from every interface
        with site.catalog.begin() as conn:
            site.catalog.delete_dataset(conn, dataset_id)
        assert http.get(f"/ogc/collections/catalog/items/{record_id}").status_code == 404
        assert http.get(f"/api/v1/records/{record_id}/dcat.rdf").status_code == 404
        assert record_id not in http.get("/api/v1/catalog/dcat.rdf").text


def test_schema_org_of_a_record_and_its_dataset():
    rec = Record(id="lacs", title="Lacs", abstract="Les lacs", keywords=["eau"], extent_wgs84=(-5, 47, -1, 49),
                 time_begin="2020-01-01", time_end="2021-06-30", constraints=["Licence Ouverte / Open Licence"],
                 contacts=[{"organisation": "IUEM", "role": "publisher", "scope": "resource", "email": "a@b.fr"}],
                 dates={"publication": "2020-02-01"}, dataset_id="lacs")
    dataset = Dataset(id="lacs", title="Lacs", kind="vector", crs="EPSG:4326", srid=4326, extent=None,
                      extent_wgs84=(-5, 47, -1, 49))
    doc = schema_org(rec, dataset, "https://geo.example.org/")
    assert doc["spatialCoverage"]["geo"]["box"] == "47 -5 49 -1"
    assert doc["temporalCoverage"] == "2020-01-01/2021-06-30" and doc["datePublished"] == "2020-02-01"
    assert doc["license"] == "Licence Ouverte / Open Licence"
    assert doc["publisher"]["name"] == "IUEM" and doc["creator"][0]["email"] == "a@b.fr"
    assert "https://geo.example.org/ogc/collections/lacs/download?f=gpkg" in {d["contentUrl"]
                                                                            for d in doc["distribution"]}
    assert "distribution" not in schema_org(rec, None, "https://geo.example.org")


def test_command_line_exports(catalogue, settings):
    (settings.data_dir / "kartenn.toml").write_text('base_url = "https://geo.example.org"\n', encoding="utf-8")
    args = ("records", "export", catalogue["record"], "--data-dir", str(settings.data_dir))
    rdf = kartenn(*args, "--format", "dcat.rdf", settings=settings, check=True).stdout
    graph = graph_of(rdf.encode(), "xml")
    ds = URIRef(f"https://geo.example.org/ogc/collections/catalog/items/{catalogue['record']}")
    assert (ds, RDF.type, DCAT.Dataset) in graph
    assert URIRef("https://geo.example.org/wms") in set(graph.objects(None, DCAT.accessURL))
    iso = kartenn(*args, settings=settings, check=True).stdout
    assert "<gmd:URL>https://geo.example.org/wfs</gmd:URL>" in iso
    bad = kartenn(*args, "--format", "pdf", settings=settings)
    assert bad.returncode != 0 and "unknown export format" in bad.stderr + bad.stdout


def test_dataset_record_names_its_organisation(site, settings):
    from kartenn.domain.security import Sharing
    from kartenn.formats.ogc_record import record_feature
    from kartenn.services.publish import publish_file, share
    from kartenn.services.record_exports import record_document
    from kartenn.services.records import RecordQuery, export_record, search_records

    site.accounts.add_organisation("iuem", "Institut Universitaire Européen de la Mer")
    site.accounts.add_organisation("shom", "SHOM")
    kartenn("ingest", "--data-dir", str(settings.data_dir), str(shared("natural-earth/ne_110m_lakes.geojson")),
            "--org", "iuem", settings=settings, check=True)
    dataset = site.catalog.list_datasets()[0]
    name = "Institut Universitaire Européen de la Mer"
    assert search_records(site, RecordQuery(facets=True)).facets["organisation"] == [(name, 1)]
    assert [r.id for r in search_records(site, RecordQuery(q="Européen")).records] == [dataset.record_id]
    rec = site.catalog.get_record(dataset.record_id)
    iso = export_record(rec, "iso19139")
    assert_valid(iso, "iso/19139/20060504/gmd/gmd.xsd")
    root = parse_xml(iso)
    poc = root.find(f"{GMD}identificationInfo/*/{GMD}pointOfContact/{GMD}CI_ResponsibleParty")
    assert poc.findtext(f"{GMD}organisationName/{GCO}CharacterString") == name
    assert poc.find(f"{GMD}role/{GMD}CI_RoleCode").get("codeListValue") == "pointOfContact"
    assert root.findtext(f"{GMD}contact/*/{GMD}organisationName/{GCO}CharacterString") == name
    base = "https://geo.example.org"
    graph = graph_of(record_document(site, rec, base, "dcat.rdf")[0], "xml")
    ds = URIRef(f"{base}/ogc/collections/catalog/items/{rec.id}")
    assert graph.value(graph.value(ds, DCTERMS.publisher), FOAF.name) == Literal(name)
    assert orjson.loads(record_document(site, rec, base, "schemaorg.jsonld")[0])["publisher"]["name"] == name
    assert record_feature(rec, base)["properties"]["contacts"][0]["organization"] == name
    dc = parse_xml(record_document(site, rec, base, "dc")[0])
    assert dc.findtext("{http://purl.org/dc/elements/1.1/}creator") == name

    # a new owner: the record follows, and the facet counts the dataset once, under its new owner
    share(site, "dataset", dataset.id, Sharing(org="shom"))
    assert search_records(site, RecordQuery(facets=True)).facets["organisation"] == [("SHOM", 1)]
    assert [c["organisation"] for c in site.catalog.get_record(rec.id).contacts] == ["SHOM", "SHOM"]

    # no owning organisation: the site's publisher, with its e-mail and web site
    site.settings.publisher_name, site.settings.publisher_email = "Région Bretagne", "sig@bretagne.bzh"
    site.settings.publisher_url = "https://bretagne.bzh"
    other = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs 2")[0].dataset
    rec = site.catalog.get_record(other.record_id)
    assert rec.organisation == "Région Bretagne"
    iso = export_record(rec, "iso19139")
    assert_valid(iso, "iso/19139/20060504/gmd/gmd.xsd")
    party = parse_xml(iso).find(f"{GMD}identificationInfo/*/{GMD}pointOfContact/{GMD}CI_ResponsibleParty")
    assert party.findtext(f"{GMD}contactInfo//{GMD}electronicMailAddress/{GCO}CharacterString") == "sig@bretagne.bzh"
    assert party.findtext(f"{GMD}contactInfo//{GMD}linkage/{GMD}URL") == "https://bretagne.bzh"
    schema = orjson.loads(record_document(site, rec, base, "schemaorg.jsonld")[0])
    assert schema["publisher"] == {"@type": "Organization", "name": "Région Bretagne", "email": "sig@bretagne.bzh",
                                   "url": "https://bretagne.bzh"}
    site.settings.publisher_name = None
    bare = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs 3")[0].dataset
    assert site.catalog.get_record(bare.record_id).contacts == []

    # the publisher set in kartenn.toml afterwards: one command names it in the records that need it
    conf = settings.data_dir / "kartenn.toml"
    conf.write_text(conf.read_text(encoding="utf-8") + '\npublisher_name = "GIP Bretagne"\n', encoding="utf-8")
    done = kartenn("records", "contacts", "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert "2 record(s) updated" in done.stdout  # "Lacs 2" and "Lacs 3"; the SHOM's stays as it is
    assert site.catalog.get_record(bare.record_id).organisation == "GIP Bretagne"
    assert site.catalog.get_record(rec.id).contacts[0] == {"organisation": "GIP Bretagne", "role": "pointOfContact",
                                                           "scope": "resource", "source": "owner"}
    assert site.catalog.get_record(dataset.record_id).organisation == "SHOM"
