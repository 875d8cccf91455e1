"""OGC API – Features Parts 2 and 3 beyond core: CRS by reference, spatial and temporal CQL2, datetime,
sortby, property selection and deep paging, on both stores, against a real server."""

from __future__ import annotations

import json

import pyogrio
import pytest
import shapely
from pyproj import Transformer

from conftest import shared
from kartenn.services.publish import publish_file

REGIONS = "france-admin-express-2018/regions.geojson"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
BREST = (-4.486, 48.390)
DATES = {"Bretagne": "2018-03-01", "Normandie": "2018-06-15", "Corse": "2019-01-10", "Hauts-de-France": "2020-05-05"}


@pytest.fixture(scope="module")
def published(module_site, tmp_path_factory):
    site, tmp_path = module_site, tmp_path_factory.mktemp("input")
    regions = json.loads(shared(REGIONS).read_text())
    for feature in regions["features"]:
        day = DATES.get(feature["properties"]["nom"], "2017-01-01")
        feature["properties"]["created"] = day
        feature["properties"]["seen"] = f"{day}T12:30:00Z"
    dated = tmp_path / "dated-regions.geojson"
    dated.write_text(json.dumps(regions))
    for path in (shared(REGIONS), dated, shared("osm-poi-portugal/poi_portugal.gpkg")):
        assert not publish_file(site, path)[0].error
    return site


def names(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {f["properties"]["nom"] for f in response.json()["features"]}


def test_crs_by_reference(published, module_server):
    to_lambert = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    brest_l93 = shapely.Point(to_lambert.transform(*BREST))
    with module_server.client() as http:
        collection = http.get("/ogc/collections/regions").json()
        assert f"{EPSG}2154" in collection["crs"] and f"{EPSG}4326" in collection["crs"]
        assert collection["storageCrs"] == f"{EPSG}4326" or collection["storageCrs"].startswith(EPSG)
        assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in \
            http.get("/ogc/conformance").json()["conformsTo"]
        r = http.get("/ogc/collections/regions/items", params={"nom": "Bretagne", "crs": f"{EPSG}2154"})
        assert r.headers["Content-Crs"] == f"<{EPSG}2154>"
        assert shapely.geometry.shape(r.json()["features"][0]["geometry"]).contains(brest_l93)
        # EPSG:4326 is latitude first.
        r = http.get("/ogc/collections/regions/items", params={"nom": "Bretagne", "crs": f"{EPSG}4326"})
        assert shapely.geometry.shape(r.json()["features"][0]["geometry"]).contains(shapely.Point(BREST[1], BREST[0]))
        # A bbox in Lambert-93 around Brest, and the same box in EPSG:4326 (lat/lon order).
        x, y = brest_l93.x, brest_l93.y
        r = http.get("/ogc/collections/regions/items",
                     params={"bbox": f"{x - 1000},{y - 1000},{x + 1000},{y + 1000}", "bbox-crs": f"{EPSG}2154"})
        assert names(r) == {"Bretagne"}
        r = http.get("/ogc/collections/regions/items", params={
            "bbox": f"{BREST[1] - 0.01},{BREST[0] - 0.01},{BREST[1] + 0.01},{BREST[0] + 0.01}",
            "bbox-crs": f"{EPSG}4326"})
        assert names(r) == {"Bretagne"}
        item = http.get(f"/ogc/collections/regions/items/{r.json()['features'][0]['id']}",
                        params={"crs": "[EPSG:2154]"})
        assert item.headers["Content-Crs"] == f"<{EPSG}2154>"
        for bad in ({"crs": f"{EPSG}9999999"}, {"crs": "EPSG:2154x"}, {"bbox-crs": f"{EPSG}27700"}):
            r = http.get("/ogc/collections/regions/items", params=bad)
            assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", bad


@pytest.mark.parametrize("cql, expected", [
    (f"S_INTERSECTS(geometry, POINT({BREST[0]} {BREST[1]}))", {"Bretagne"}),
    (f"S_CONTAINS(geometry, POINT({BREST[0]} {BREST[1]}))", {"Bretagne"}),
    ("S_WITHIN(geometry, BBOX(8.0, 41.0, 10.0, 43.5))", {"Corse"}),
    ("S_INTERSECTS(geometry, BBOX(-5.2, 47.2, -4.0, 48.9)) AND NOT nom = 'Bretagne'", set()),
    ("S_DISJOINT(geometry, BBOX(-6, 41, 1, 51.5))", None),  # None: computed from the source with shapely
    (f"S_INTERSECTS(geometry, LINESTRING({BREST[0]} {BREST[1]}, 2.35 48.85)) AND code = '11'",
     {"Île-de-France"}),
])
def test_spatial_cql2(published, module_server, cql, expected):
    if expected is None:
        source = json.loads(shared(REGIONS).read_text())["features"]
        expected = {f["properties"]["nom"] for f in source
                    if shapely.geometry.shape(f["geometry"]).disjoint(shapely.box(-6, 41, 1, 51.5))}
        assert 0 < len(expected) < 13
    with module_server.client() as http:
        r = http.get("/ogc/collections/regions/items", params={"filter": cql, "limit": 50})
        assert names(r) == expected
        assert r.json()["numberMatched"] == len(expected)


def test_spatial_cql2_json_and_filter_crs(published, module_server):
    to_lambert = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = to_lambert.transform(*BREST)
    with module_server.client() as http:
        cql = json.dumps({"op": "s_intersects", "args": [{"property": "geometry"},
                                                         {"type": "Point", "coordinates": [x, y]}]})
        r = http.get("/ogc/collections/regions/items",
                     params={"filter": cql, "filter-lang": "cql2-json", "filter-crs": f"{EPSG}2154"})
        assert names(r) == {"Bretagne"}
        r = http.get("/ogc/collections/regions/items",
                     params={"filter": f"S_INTERSECTS(geometry, POINT({BREST[1]} {BREST[0]}))",
                             "filter-crs": f"{EPSG}4326"})
        assert names(r) == {"Bretagne"}
        assert "geometry" in http.get("/ogc/collections/regions/queryables").json()["properties"]


@pytest.mark.parametrize("cql, expected", [
    ("T_AFTER(created, DATE('2018-12-31'))", {"Corse", "Hauts-de-France"}),
    ("DATE('2018-12-31') < created", {"Corse", "Hauts-de-France"}),  # the value first: the same comparison
    ("T_BEFORE(seen, TIMESTAMP('2018-03-01T12:30:01Z')) AND created > DATE('2017-06-01')", {"Bretagne"}),
    ("T_DURING(created, INTERVAL('2018-01-01', '2018-12-31'))", {"Bretagne", "Normandie"}),
    ("T_INTERSECTS(seen, INTERVAL('2019-01-01T00:00:00Z', '..'))", {"Corse", "Hauts-de-France"}),
    ("T_EQUALS(created, DATE('2018-06-15'))", {"Normandie"}),
    ("created BETWEEN DATE('2018-06-15') AND DATE('2019-01-10')", {"Normandie", "Corse"}),
])
def test_temporal_cql2(published, module_server, cql, expected):
    with module_server.client() as http:
        assert names(http.get("/ogc/collections/dated-regions/items", params={"filter": cql, "limit": 50})) == expected


def test_datetime_parameter(published, module_server):
    with module_server.client() as http:
        def dated(value: str) -> set[str]:
            return names(http.get("/ogc/collections/dated-regions/items", params={"datetime": value, "limit": 50}))
        assert dated("2018-06-15") == {"Normandie"}
        assert dated("2018-06-01/2019-12-31") == {"Normandie", "Corse"}
        assert dated("2019-01-01/..") == {"Corse", "Hauts-de-France"}
        assert dated("../2018-03-01") == dated("2017-01-01/2018-03-01")
        for bad in ("yesterday", "2018-01-01/2018-02-01/2018-03-01"):
            r = http.get("/ogc/collections/dated-regions/items", params={"datetime": bad})
            assert r.status_code == 400, bad
        assert http.get("/ogc/collections/poi-portugal/items", params={"datetime": "2018-01-01"}).status_code == 400


def test_sortby_properties_and_skip_geometry(published, module_server):
    with module_server.client() as http:
        r = http.get("/ogc/collections/regions/items", params={"sortby": "-nom", "limit": 3, "properties": "nom"})
        features = r.json()["features"]
        everything = sorted(names(http.get("/ogc/collections/regions/items", params={"limit": 50})), reverse=True)
        assert [f["properties"]["nom"] for f in features] == everything[:3]
        assert all(set(f["properties"]) == {"nom"} for f in features)
        r = http.get("/ogc/collections/regions/items", params={"sortby": "+code", "skipGeometry": "true"})
        codes = [f["properties"]["code"] for f in r.json()["features"]]
        assert codes == sorted(codes) and all(f["geometry"] is None for f in r.json()["features"])
        for bad in ({"sortby": "colour"}, {"properties": "nom,colour"}, {"skipGeometry": "maybe"}):
            assert http.get("/ogc/collections/regions/items", params=bad).status_code == 400, bad


def test_next_links_walk_every_feature_once(published, module_server):
    with module_server.client() as http:
        seen: list[int] = []
        url = "/ogc/collections/poi-portugal/items?limit=1000"
        while url:
            page = http.get(url).json()
            seen += [f["id"] for f in page["features"]]
            url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        assert len(seen) == len(set(seen)) == 8107
        deep = http.get("/ogc/collections/poi-portugal/items", params={"limit": 5, "offset": 8000}).json()
        assert [f["id"] for f in deep["features"]] == seen[8000:8005]


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg", "shp", "fgb"])
def test_downloads_read_back_with_gdal(published, module_server, tmp_path, fmt):
    source = json.loads(shared(REGIONS).read_text())["features"]
    box = shapely.box(-5, 47, 0, 49)
    expected = {f["properties"]["nom"] for f in source if shapely.geometry.shape(f["geometry"]).intersects(box)}
    with module_server.client() as http:
        links = http.get("/ogc/collections/dated-regions").json()["links"]
        href = next(link["href"] for link in links if link["rel"] == "enclosure" and link["href"].endswith(fmt))
        r = http.get(f"{href}&bbox=-5,47,0,49")
        assert r.status_code == 200, r.text
        assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / f"download.{'zip' if fmt == 'shp' else fmt}"
    path.write_bytes(r.content)
    frame = pyogrio.read_dataframe(f"/vsizip/{path}" if fmt == "shp" else path)
    assert set(frame["nom"]) == expected and len(frame) == len(expected)
    bretagne = next(f for f in source if f["properties"]["nom"] == "Bretagne")
    row = frame[frame["nom"] == "Bretagne"].iloc[0]
    truth = shapely.geometry.shape(bretagne["geometry"])
    if fmt != "csv":
        assert frame.crs.to_epsg() == 4326
        assert str(row["created"])[:10] == "2018-03-01"
    geometry = row.geometry if fmt != "csv" else shapely.from_wkt(row["WKT"])
    assert geometry.symmetric_difference(truth).area < 1e-6 * truth.area


def test_download_of_a_projected_selection(published, module_server, tmp_path):
    with module_server.client() as http:
        r = http.get("/ogc/collections/regions/download",
                     params={"f": "gpkg", "filter": "code IN ('53', '52')", "crs": f"{EPSG}2154", "properties": "nom"})
        assert r.status_code == 200, r.text
        (tmp_path / "sel.gpkg").write_bytes(r.content)
        frame = pyogrio.read_dataframe(tmp_path / "sel.gpkg")
        assert sorted(frame["nom"]) == ["Bretagne", "Pays de la Loire"] and list(frame.columns) == \
            ["nom", "geometry"]  # fid is the GeoPackage FID
        assert frame.crs.to_epsg() == 2154 and frame.total_bounds[1] > 6_000_000  # metres, east first
        assert http.get("/ogc/collections/regions/download", params={"f": "xlsx"}).status_code == 400
        r = http.get("/ogc/collections/regions/download", headers={"Accept": "application/flatgeobuf"})
        assert r.headers["content-type"] == "application/flatgeobuf"


def test_openapi_describes_every_collection(published, module_server):
    from openapi_spec_validator import validate

    with module_server.client() as http:
        landing = http.get("/ogc").json()
        href = next(link["href"] for link in landing["links"] if link["rel"] == "service-desc")
        r = http.get(href)
        assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        document = r.json()
    validate(document)
    items = document["paths"]["/ogc/collections/dated-regions/items"]["get"]
    names = {p["name"] for p in items["parameters"]}
    assert {"bbox", "crs", "filter", "datetime", "sortby", "nom", "created"} <= names
    crs = next(p for p in items["parameters"] if p["name"] == "crs")["schema"]["enum"]
    assert f"{EPSG}2154" in crs


def test_html_pages_for_people(published, module_server):
    with module_server.client() as http:
        browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                   "Accept-Language": "en"}
        for url in ("/ogc", "/ogc/collections", "/ogc/collections/regions", "/ogc/conformance"):
            r = http.get(url, headers=browser)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        page = http.get("/ogc/collections/regions/items", params={"limit": 5}, headers=browser).text
        assert "5 of 13 features" in page and 'rel="next"' in page and page.count("<tr>") == 6
        french = http.get("/ogc/collections/regions/items", params={"f": "html", "lang": "fr", "limit": 20}).text
        assert "13 objets sur 13" in french and "Bretagne" in french
        one = http.get("/ogc/collections/regions/items", params={"nom": "Corse"}).json()["features"][0]
        r = http.get(f"/ogc/collections/regions/items/{one['id']}", params={"f": "html"})
        assert "Corse" in r.text and r.headers["content-type"].startswith("text/html")
        # Programs asking for JSON still get JSON.
        assert http.get("/ogc/collections/regions/items", headers={"Accept": "application/geo+json"}).json()


def test_owslib_features_client(published, module_live_server):
    from owslib.ogcapi.features import Features

    api = Features(f"{module_live_server.url}/ogc")
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in api.conformance()["conformsTo"]
    assert {"regions", "dated-regions", "poi-portugal"} <= {c["id"] for c in api.collections()["collections"]}
    assert "nom" in api.collection_queryables("regions")["properties"]
    page = api.collection_items("regions", bbox=[-4.8, 47.8, -2.0, 48.6], limit=50)
    assert "Bretagne" in {f["properties"]["nom"] for f in page["features"]}
    sorted_page = api.collection_items("regions", sortby=("nom", "desc"), limit=2)
    assert [f["properties"]["nom"] for f in sorted_page["features"]] == \
        sorted({f["properties"]["nom"] for f in api.collection_items("regions", limit=50)["features"]})[::-1][:2]
    text = api.collection_items("regions", filter="code IN ('53', '11')", limit=50)
    assert {f["properties"]["nom"] for f in text["features"]} == {"Bretagne", "Île-de-France"}
    posted = api.collection_items("regions", cql={"op": "=", "args": [{"property": "nom"}, "Corse"]})
    assert [f["properties"]["nom"] for f in posted["features"]] == ["Corse"]
    dated = api.collection_items("dated-regions", datetime_="2019-01-01/..", limit=50)
    assert {f["properties"]["nom"] for f in dated["features"]} == {"Corse", "Hauts-de-France"}
    assert api.collection_item("regions", str(posted["features"][0]["id"]))["properties"]["nom"] == "Corse"
    assert "/ogc/collections/regions/items" in api.api()["paths"]


def _source_regions() -> list[tuple[str, shapely.Geometry]]:
    return [(f["properties"]["nom"], shapely.geometry.shape(f["geometry"]))
            for f in json.loads(shared(REGIONS).read_text())["features"]]


def test_every_spatial_operator_matches_shapely(published, module_server):
    regions = _source_regions()
    bretagne = dict(regions)["Bretagne"]
    vertex = shapely.Point(bretagne.geoms[0].exterior.coords[0])
    line = shapely.LineString([BREST, (2.35, 48.85)])
    box = shapely.box(-1.5, 46.5, 3.0, 49.0)
    cases = {
        f"S_TOUCHES(geometry, POINT({vertex.x!r} {vertex.y!r}))": lambda g: g.touches(vertex),
        f"S_CROSSES(geometry, {line.wkt})": lambda g: g.crosses(line),
        "S_OVERLAPS(geometry, BBOX(-1.5, 46.5, 3.0, 49.0))": lambda g: g.overlaps(box),
        "S_WITHIN(geometry, BBOX(1.0, 47.5, 4.0, 49.5))": lambda g: g.within(shapely.box(1.0, 47.5, 4.0, 49.5)),
        "S_INTERSECTS(geometry, BBOX(-1.5, 46.5, 3.0, 49.0))": lambda g: g.intersects(box),
    }
    with module_server.client() as http:
        for cql, test in cases.items():
            expected = {name for name, geom in regions if test(geom)}
            assert expected, cql
            assert names(http.get("/ogc/collections/regions/items", params={"filter": cql, "limit": 50})) == \
                expected, cql
        point = http.get("/ogc/collections/poi-portugal/items", params={"limit": 1}).json()["features"][0]
        x, y = point["geometry"]["coordinates"]
        cql = f"S_EQUALS(geometry, POINT({x!r} {y!r}))"
        r = http.get("/ogc/collections/poi-portugal/items", params={"filter": cql})
        assert point["id"] in [f["id"] for f in r.json()["features"]]


@pytest.mark.parametrize("cql, expected", [
    ("T_DISJOINT(created, INTERVAL('2017-06-01', '2019-12-31'))", "2017-01-01 2020-05-05"),
    ("T_STARTS(created, INTERVAL('2018-06-15', '2019-01-01'))", "2018-06-15"),
    ("T_FINISHES(created, INTERVAL('2018-01-01', '2018-03-01'))", "2018-03-01"),
    ("T_MEETS(created, INTERVAL('2019-01-10', '2019-05-01'))", "2019-01-10"),
    ("T_METBY(created, INTERVAL('2019-05-01', '2020-05-05'))", "2020-05-05"),
    ("T_CONTAINS(created, INTERVAL('2018-01-01', '2018-12-31'))", ""),
    ("T_OVERLAPS(created, INTERVAL('2018-01-01', '2018-12-31'))", ""),
])
def test_temporal_operators_on_instants(published, module_server, cql, expected):
    days = {d for d in expected.split()}
    with module_server.client() as http:
        r = http.get("/ogc/collections/dated-regions/items", params={"filter": cql, "limit": 50})
        assert r.status_code == 200, r.text
        assert {f["properties"]["created"][:10] for f in r.json()["features"]} == days
