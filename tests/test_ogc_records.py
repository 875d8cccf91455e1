"""OGC API – Records over the catalogue, on both stores, through a real server: OWSLib, then httpx."""

from __future__ import annotations

import html
import re

import orjson
import pytest
from owslib.ogcapi.records import Records

from conftest import LiveServer, shared

ISO = "iso-metadata-records"
BRETAGNE = "955c3e47-411e-4969-b61b-3556d1b9f879"  # "Cadastre 2018 en Bretagne", INSPIRE theme, fre
WALLONIE_SERVICE = "1714cd1e-6685-4dea-a6f4-b51612a15ed0"  # a service record kept in ISO 19115-3


@pytest.fixture(scope="module")
def catalogue(module_site) -> dict[str, str]:
    return fill(module_site)


def fill(site) -> dict[str, str]:
    """The 32 real ISO records and one published dataset (Natural Earth lakes) with its record."""
    from kartenn.domain.security import OPERATOR
    from kartenn.services.publish import publish_file
    from kartenn.services.records import import_paths

    report = import_paths(site.seen_by(OPERATOR), [shared(ISO)])
    assert report.errors == []
    lakes = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs du monde")[0].dataset
    return {"dataset": lakes.id, "record": lakes.record_id}


def test_owslib_reads_the_catalogue(catalogue, module_live_server):
    api = Records(f"{module_live_server.url}/ogc")
    assert "catalog" in api.records()
    collection = api.collection("catalog")
    assert collection["itemType"] == "record"
    w, s, e, n = collection["extent"]["spatial"]["bbox"][0]
    assert w < -100 and e > 100 and s < -30 and n > 40  # lakes of the world and records from three continents
    found = api.collection_items("catalog", q="cadastre bretagne")
    assert found["numberMatched"] == 1 and found["features"][0]["id"] == BRETAGNE
    # French stems: "lacs" finds the published "Lacs du monde"
    assert catalogue["record"] in {f["id"] for f in api.collection_items("catalog", q="lac")["features"]}
    brittany = api.collection_items("catalog", bbox=[-4.6, 47.8, -4.4, 48.5], limit=50)
    ids = {f["id"] for f in brittany["features"]}
    assert BRETAGNE in ids and WALLONIE_SERVICE not in ids
    record = api.collection_item("catalog", BRETAGNE)
    props = record["properties"]
    assert record["type"] == "Feature" and record["geometry"]["type"] == "Polygon"
    assert props["title"] == "Cadastre 2018 en Bretagne" and props["type"] == "dataset"
    assert props["language"] == {"code": "fr"}
    inspire = next(t for t in props["themes"] if "INSPIRE" in t["scheme"])
    assert {"id": "Parcelles cadastrales"} in inspire["concepts"]
    assert any(c.get("organization") == "DGFIP Bretagne" and c["roles"] for c in props["contacts"])
    assert props["updated"] == "2018-09-01" and {"name": "EDIGEO"} in props["formats"]
    series = api.collection_items("catalog", cql={"op": "=", "args": [{"property": "type"}, "series"]})
    assert [f["id"] for f in series["features"]] == ["74f81503-8d39-4ec8-a49a-c76e0cd74946"]
    rels = {(link["rel"], link["type"]) for link in record["links"] if "type" in link}
    assert {("alternate", "application/vnd.iso.19139+xml"), ("alternate", "application/rdf+xml"),
            ("alternate", "text/html"), ("collection", "application/json")} <= rels


def test_published_dataset_record_lists_its_services(catalogue, module_server):
    with module_server.client() as http:
        record = http.get(f"/ogc/collections/catalog/items/{catalogue['record']}").json()
        assert record["properties"]["title"] == "Lacs du monde"
        by_protocol = {link.get("protocol"): link for link in record["links"] if link.get("protocol")}
        dataset = catalogue["dataset"]
        wms = by_protocol["OGC:WMS"]
        assert wms["href"] == f"{module_server.url}/wms" and wms["name"] == dataset
        assert by_protocol["OGC:WFS"]["name"] == f"kartenn:{dataset}"
        features = by_protocol["OGC:API-Features"]
        assert features["href"] == f"{module_server.url}/ogc/collections/{catalogue['dataset']}"
        downloads = [link for link in record["links"] if link["rel"] == "enclosure"]
        assert {link["type"] for link in downloads} >= {"application/geopackage+sqlite3", "application/geo+json"}
        # every service link answers
        assert http.get(features["href"]).status_code == 200
        gpkg = next(link for link in downloads if link["type"] == "application/geopackage+sqlite3")
        assert http.get(gpkg["href"]).content[:15] == b"SQLite format 3"
        caps = http.get(by_protocol["OGC:WMS"]["href"], params={"service": "WMS", "request": "GetCapabilities"})
        assert f"<Name>{dataset}</Name>" in caps.text


def test_search_parameters(catalogue, module_server):
    items = "/ogc/collections/catalog/items"
    with module_server.client() as http:
        def ids(**params: str) -> list[str]:
            r = http.get(items, params={"limit": "100", **params})
            assert r.status_code == 200, r.text
            return [f["id"] for f in r.json()["features"]]

        everything = http.get(items, params={"limit": "100"}).json()
        assert everything["numberMatched"] == 33 == everything["numberReturned"]
        services = ids(type="service")
        assert WALLONIE_SERVICE in services and BRETAGNE not in services and len(services) == 4
        assert sorted(ids(ids=f"{BRETAGNE},{WALLONIE_SERVICE}")) == sorted([BRETAGNE, WALLONIE_SERVICE])
        assert ids(externalIds=catalogue["dataset"]) == [catalogue["record"]]
        # the resources' temporal extent: the 1997–1999 orthophotos, not the 2009 aerial photos
        in_1998 = ids(datetime="1998-06-01/1998-12-31")
        assert "de53e931-778a-4792-94ad-9fe507aca483" in in_1998
        assert "366f6257-19eb-4f20-ba78-0698ac4aae77" not in in_1998
        assert set(ids(datetime="2009-10-09")) >= {"366f6257-19eb-4f20-ba78-0698ac4aae77"}
        # a day matches a survey that starts on it at midnight (2009-06-14T00:00:00 / 2009-06-22T23:59:59)
        assert "ie.marine.data:dataset.1135" in ids(datetime="2009-06-14")
        assert "ie.marine.data:dataset.1135" in ids(datetime="2009-06-22T23:00:00+02:00/..")
        assert "ie.marine.data:dataset.1135" not in ids(datetime="2009-06-23/2009-12-31")
        # CQL2 text and JSON over the record queryables
        assert ids(filter="title LIKE 'Cadastre%'") == [BRETAGNE]
        assert ids(filter="type = 'service' AND language = 'fre'") == [WALLONIE_SERVICE]
        cql_json = {"op": "and", "args": [{"op": "=", "args": [{"property": "type"}, "series"]},
                                          {"op": "s_intersects", "args": [{"property": "geometry"},
                                                                          {"bbox": [4, 50, 6, 51]}]}]}
        assert ids(filter=orjson.dumps(cql_json).decode(), **{"filter-lang": "cql2-json"}) == [
            "74f81503-8d39-4ec8-a49a-c76e0cd74946"]
        assert BRETAGNE in ids(filter="keywords = 'Parcelles cadastrales'")
        assert ids(filter="theme = 'Parcelles cadastrales'") == [BRETAGNE]
        # sorting
        titles = [f["properties"]["title"] for f in http.get(items, params={"sortby": "title", "limit": "100"}
                                                             ).json()["features"]]
        assert titles == sorted(titles, key=str.lower)
        newest = http.get(items, params={"sortby": "-updated", "limit": "1"}).json()["features"][0]
        assert newest["id"] != BRETAGNE
        # paging: next and prev links walk the same ordered list
        page = http.get(items, params={"limit": "10", "sortby": "title"}).json()
        seen = [f["id"] for f in page["features"]]
        while True:
            nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
            if nxt is None:
                break
            page = http.get(nxt).json()
            seen += [f["id"] for f in page["features"]]
        assert len(seen) == len(set(seen)) == 33
        prev = next(link["href"] for link in page["links"] if link["rel"] == "prev")
        assert "offset=20" in prev
        # facets
        faceted = http.get(items, params={"q": "ortho", "facets": "true", "limit": "0"}).json()
        assert faceted["numberMatched"] == 5 and faceted["numberReturned"] == 0
        assert {"value": "dataset", "count": 5} in faceted["facets"]["type"]["buckets"]
        assert "facets" not in http.get(items).json()


def test_bad_requests_are_clear(catalogue, module_server):
    items = "/ogc/collections/catalog/items"
    with module_server.client() as http:
        for params in ({"bbox": "1,2,3"}, {"datetime": "yesterday"}, {"filter": "title LIKE"},
                       {"filter": "colour = 'red'"}, {"sortby": "colour"}, {"limit": "-1"}, {"limit": "abc"},
                       {"filter-lang": "sql", "filter": "1=1"}, {"unknown": "1"}, {"facets": "maybe"},
                       {"f": "xml"}):
            r = http.get(items, params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"], params
        assert http.get(f"{items}/no-such-record").status_code == 404
        queryables = http.get("/ogc/collections/catalog/queryables")
        assert queryables.headers["content-type"] == "application/schema+json"
        assert {"title", "keywords", "type", "updated", "geometry"} <= set(queryables.json()["properties"])


def test_landing_conformance_and_html(catalogue, module_server):
    with module_server.client() as http:
        conforms = http.get("/ogc/conformance").json()["conformsTo"]
        for name in ("core", "record-core", "json", "html", "searchable-catalog", "sorting", "filtering"):
            assert f"http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/{name}" in conforms
        from openapi_spec_validator import validate

        api = http.get("/ogc/api").json()
        validate(api)
        assert "q" in {p["name"] for p in api["paths"]["/ogc/collections/catalog/items"]["get"]["parameters"]}
        listed = {c["id"]: c for c in http.get("/ogc/collections").json()["collections"]}
        assert listed["catalog"]["itemType"] == "record" and catalogue["dataset"] in listed
        fr = http.get("/ogc/collections/catalog/items", params={"f": "html", "q": "cadastre", "lang": "fr"})
        assert fr.headers["content-language"] == "fr" and "Cadastre 2018 en Bretagne" in fr.text
        assert "2 fiches sur 2" in fr.text
        # facet values narrow the search
        facet = re.search(r'<a href="([^"]+)">Parcelles cadastrales</a> \(1\)', fr.text)
        assert facet, fr.text
        narrowed = http.get(html.unescape(facet.group(1)))
        assert "1 fiches sur 1" in narrowed.text and "Cadastre 2018 en Bretagne" in narrowed.text
        en = http.get(f"/ogc/collections/catalog/items/{catalogue['record']}",
                      headers={"Accept": "text/html", "Accept-Language": "en"})
        assert en.headers["content-language"] == "en" and "Services and downloads" in en.text
        assert "OGC:WMS" in en.text and "Lacs du monde" in en.text
        embedded = re.search(r'<script type="application/ld\+json">(.+?)</script>', en.text, re.S)
        assert embedded and orjson.loads(html.unescape(embedded.group(1)))["@type"] == "Dataset"
        page = http.get("/ogc/collections/catalog", params={"f": "html"})
        assert page.status_code == 200 and 'role="search"' in page.text


def test_links_use_the_configured_public_url(site, settings):
    """Behind a proxy, every link is built on the configured public base URL, not on the request's host."""
    catalogue = fill(site)
    (settings.data_dir / "kartenn.toml").write_text('base_url = "https://geo.example.org/sdi/"\n', encoding="utf-8")
    live = LiveServer(settings).start()
    try:
        with live.client() as http:
            record = http.get(f"/ogc/collections/catalog/items/{catalogue['record']}").json()
            hrefs = [link["href"] for link in record["links"]]
            assert all(h.startswith("https://geo.example.org/sdi/") for h in hrefs), hrefs
            assert f"https://geo.example.org/sdi/ogc/collections/{catalogue['dataset']}" in hrefs
            iso = http.get(f"/api/v1/records/{catalogue['record']}/iso19139.xml").text
            assert "<gmd:URL>https://geo.example.org/sdi/wms</gmd:URL>" in iso
            assert "127.0.0.1" not in iso
    finally:
        live.stop()


def test_catalog_is_not_a_dataset_id(site, tmp_path):
    from kartenn.services.publish import publish_file

    path = tmp_path / "catalog.geojson"
    path.write_bytes(shared("natural-earth/ne_110m_lakes.geojson").read_bytes())
    assert publish_file(site, path)[0].dataset.id == "catalog-2"
