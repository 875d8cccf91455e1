"""Validators of capabilities and OGC API documents, in process, both stores: an ETag on every document, 304 on
a match, a new tag once a dataset is published, and the caching rule for callers with credentials."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from conftest import shared
from kartenn.app import create_app
from kartenn.services.identity import create_token
from kartenn.services.publish import publish_file

CAPABILITIES = {
    "WMS": "/wms?service=WMS&request=GetCapabilities",
    "WMTS": "/wmts?service=WMTS&request=GetCapabilities",
    "WMTS REST": "/wmts/1.0.0/WMTSCapabilities.xml",
    "WFS": "/wfs?SERVICE=WFS&REQUEST=GetCapabilities",
    "CSW": "/csw?service=CSW&request=GetCapabilities",
}


def documents(collection: str) -> dict[str, str]:
    return {**CAPABILITIES, "landing": "/ogc", "conformance": "/ogc/conformance", "collections": "/ogc/collections",
            "collection": f"/ogc/collections/{collection}", "queryables": f"/ogc/collections/{collection}/queryables",
            "schema": f"/ogc/collections/{collection}/schema", "tilesets": f"/ogc/collections/{collection}/tiles",
            "dataset tilesets": "/ogc/tiles"}


# What a new dataset changes: the documents that list datasets.
LISTS = ("WMS", "WMTS", "WMTS REST", "WFS", "collections", "dataset tilesets")


@pytest.fixture
def http(site, settings):
    with TestClient(create_app(settings)) as client:
        yield client


def test_documents_carry_validators(site, http):
    (regions,) = publish_file(site, shared("france-admin-express-2018/regions.geojson"))
    bad = http.get(f"/ogc/collections/{regions.dataset.id}/schema?f=pdf")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
    tags = {}
    for name, url in documents(regions.dataset.id).items():
        r = http.get(url)
        assert r.status_code == 200, (name, r.text)
        tag = tags[name] = r.headers["etag"]
        assert http.get(url).headers["etag"] == tag, name  # the same body, the same tag
        again = http.get(url, headers={"If-None-Match": f'"other", W/{tag}'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag, name
        assert "no-cache" in again.headers["cache-control"] or "max-age" in again.headers["cache-control"], name
        assert http.get(url, headers={"If-None-Match": '"other"'}).status_code == 200, name

    (lakes,) = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))
    assert lakes.error is None
    for name in LISTS:
        url = documents(regions.dataset.id)[name]
        r = http.get(url, headers={"If-None-Match": tags[name]})
        assert r.status_code == 200 and r.headers["etag"] != tags[name], name
        assert lakes.dataset.id in r.text, name
    unchanged = http.get("/ogc/conformance", headers={"If-None-Match": tags["conformance"]})
    assert unchanged.status_code == 304


def test_validators_follow_the_caching_rule(site, http):
    site.accounts.add_user("anne")
    token = {"Authorization": f"Bearer {create_token(site, 'anne')}"}
    for url in ("/ogc/collections", CAPABILITIES["WMS"]):
        anonymous = http.get(url)
        assert anonymous.headers["cache-control"] == "public, no-cache"
        personal = http.get(url, headers=token)
        assert personal.headers["cache-control"] == "private, no-cache"
        assert {"authorization", "cookie"} <= {v.strip().lower() for v in personal.headers["vary"].split(",")}
        again = http.get(url, headers={**token, "If-None-Match": personal.headers["etag"]})
        assert again.status_code == 304 and "private" in again.headers["cache-control"]
    # Items, tiles and maps are not these documents: no tag from here (tiles keep their own).
    assert "etag" not in http.get("/ogc/collections/catalog/items").headers
    # Bad input stays a clear 4xx, untagged.
    bad = http.get("/ogc/collections/nothing-here")
    assert bad.status_code == 404 and "etag" not in bad.headers
    bad = http.get("/ogc/tileMatrixSets/WebMercatorQuad?version=3.0")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
