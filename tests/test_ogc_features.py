"""OGC API – Features Part 1 core on both stores, judged by GDAL's OAPIF driver and by plain requests."""

from __future__ import annotations

import pyogrio
import pytest
import shapely

from conftest import shared
from kartenn.services.publish import publish_file

REGIONS = "france-admin-express-2018/regions.geojson"


@pytest.fixture(scope="module")
def published(module_site):
    site = module_site
    for path in (REGIONS, "nyc-boroughs/nybb_16a.zip", "osm-poi-portugal/poi_portugal.gpkg",
                 "rasters/opengeos-dtm.tif"):
        assert not publish_file(site, shared(path))[0].error
    return site


def test_gdal_oapif_reads_every_collection(published, module_live_server):
    expected = {"regions": 13, "nybb": 5, "poi-portugal": 8107}
    for collection, count in expected.items():
        table = pyogrio.read_arrow(f"OAPIF:{module_live_server.url}/ogc/collections/{collection}")[1]
        assert table.num_rows == count, collection
    regions = pyogrio.read_dataframe(f"OAPIF:{module_live_server.url}/ogc/collections/regions")
    source = pyogrio.read_dataframe(shared(REGIONS))
    assert set(regions["nom"]) == set(source["nom"])
    bretagne = regions[regions["nom"] == "Bretagne"].geometry.iloc[0]
    truth = source[source["nom"] == "Bretagne"].geometry.iloc[0]
    assert bretagne.symmetric_difference(truth).area < 1e-6 * truth.area


def test_paging_bbox_and_property_filters(published, module_server):
    with module_server.client() as http:
        assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in \
            http.get("/ogc/conformance").json()["conformsTo"]
        page = http.get("/ogc/collections/poi-portugal/items?limit=100&offset=8050").json()
        assert page["numberMatched"] == 8107 and page["numberReturned"] == 57
        assert {link["rel"] for link in page["links"]} == {"self", "alternate", "collection", "prev"}
        first = http.get("/ogc/collections/poi-portugal/items").json()
        assert first["numberReturned"] == 10 and any(link["rel"] == "next" for link in first["links"])
        # Brittany's box meets Bretagne and its neighbours, never Corsica or Occitanie.
        r = http.get("/ogc/collections/regions/items", params={"bbox": "-4.8,47.8,-2.0,48.6"})
        assert r.headers["content-type"].startswith("application/geo+json")
        names = {f["properties"]["nom"] for f in r.json()["features"]}
        assert "Bretagne" in names and "Corse" not in names and "Occitanie" not in names
        one = http.get("/ogc/collections/regions/items", params={"nom": "Île-de-France"}).json()
        assert one["numberMatched"] == 1
        feature = one["features"][0]
        again = http.get(f"/ogc/collections/regions/items/{feature['id']}").json()
        assert again["properties"]["nom"] == "Île-de-France"
        assert shapely.geometry.shape(again["geometry"]).contains(shapely.Point(2.35, 48.85))


@pytest.mark.parametrize("cql, expected", [
    ("nom = 'Bretagne'", {"Bretagne"}),
    ("nom LIKE 'Provence%'", {"Provence-Alpes-Côte d'Azur"}),
    ("nom LIKE 'provence%'", set()),
    ("code IN ('53', '11') AND NOT (nom = 'Bretagne')", {"Île-de-France"}),
    ("code BETWEEN '93' AND '95'", {"Provence-Alpes-Côte d'Azur", "Corse"}),
    ("nom IS NULL", set()),
])
def test_cql2_text_filters(published, module_server, cql, expected):
    with module_server.client() as http:
        r = http.get("/ogc/collections/regions/items", params={"filter": cql, "limit": 100})
        assert r.status_code == 200, r.text
        assert {f["properties"]["nom"] for f in r.json()["features"]} == expected
        assert r.json()["numberMatched"] == len(expected)


def test_cql2_json_filter_and_queryables(published, module_server):
    with module_server.client() as http:
        cql = '{"op": "and", "args": [{"op": ">=", "args": [{"property": "code"}, "84"]}, ' \
              '{"op": "like", "args": [{"property": "nom"}, "%Alpes%"]}]}'
        r = http.get("/ogc/collections/regions/items", params={"filter": cql, "filter-lang": "cql2-json"})
        assert {f["properties"]["nom"] for f in r.json()["features"]} == {
            "Auvergne-Rhône-Alpes", "Provence-Alpes-Côte d'Azur"}
        queryables = http.get("/ogc/collections/regions/queryables").json()
        assert queryables["properties"]["nom"]["type"] == "string"
        for bad in ("nom = ", "colour = 'red'", "nom ~ 'x'"):
            r = http.get("/ogc/collections/regions/items", params={"filter": bad})
            assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", bad
        r = http.get("/ogc/collections/regions/items", params={"filter": "nom = 'x'", "filter-lang": "sql"})
        assert r.status_code == 400


def test_schema_types_the_fields(published, module_server):
    with module_server.client() as http:
        links = http.get("/ogc/collections/poi-portugal").json()["links"]
        href = next(link["href"] for link in links if link["rel"] == "describedby")
        schema = http.get(href).json()
        assert schema["properties"]["osm_id"] == {"title": "osm_id", "type": "integer", "format": "int64"}
        assert schema["properties"]["geometry"]["format"] == "geometry-point"


def test_projected_data_comes_out_in_crs84(published, module_server):
    with module_server.client() as http:
        boroughs = http.get("/ogc/collections/nybb/items", params={"BoroName": "Manhattan"}).json()
        geom = shapely.geometry.shape(boroughs["features"][0]["geometry"])
        assert geom.contains(shapely.Point(-73.9855, 40.7580))  # Times Square
        bbox = http.get("/ogc/collections/nybb/items", params={"bbox": "-74.02,40.70,-73.97,40.72"}).json()
        assert {f["properties"]["BoroName"] for f in bbox["features"]} >= {"Manhattan"}


BAD = [
    ("/ogc/collections/nope/items", 404),
    ("/ogc/collections/opengeos-dtm/items", 404),
    ("/ogc/collections/regions/items/999999", 404),
    ("/ogc/collections/regions/items/abc", 404),
    ("/ogc/collections/regions/items?limit=1000000000", 400),
    ("/ogc/collections/regions/items?limit=0", 400),
    ("/ogc/collections/regions/items?offset=-1", 400),
    ("/ogc/collections/regions/items?bbox=1,2,3", 400),
    ("/ogc/collections/regions/items?bbox=a,b,c,d", 400),
    ("/ogc/collections/regions/items?bbox=0,50,1,40", 400),
    ("/ogc/collections/regions/items?colour=red", 400),
    ("/ogc/collections/regions/items?f=xml", 400),
]


def test_bad_requests(published, module_server):
    with module_server.client() as http:
        for url, status in BAD:
            r = http.get(url)
            assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json"), url
            assert "Traceback" not in r.text
        assert http.get("/ogc/collections/regions/items").status_code == 200
