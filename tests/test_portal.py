"""The portal's pages over HTTP: French and English, rights, search filters, the built front end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import shared, wait_job
from kartenn.services.publish import publish_file

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "kartenn" / "web" / "static"


@pytest.fixture
def published(site):
    assert not publish_file(site, shared("france-admin-express-2018/regions.geojson"), title="Régions")[0].error
    assert not publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Lacs du monde")[0].error
    return site


def test_pages_in_both_languages(published, server):
    with server.client() as http:
        for path in ("/", "/search", "/search?q=lacs", "/datasets/regions", "/organisations", "/map", "/upload"):
            fr = http.get(path, params={"lang": "fr"})
            en = http.get(path, params={"lang": "en"})
            assert fr.status_code == en.status_code == 200, path
            assert '<html lang="fr">' in fr.text and '<html lang="en">' in en.text, path
            assert 'name="csrf-token"' in fr.text and "/auth/login?next=" in fr.text, path
            # The CSP allows no inline script: every <script> is external or a data block.
            for tag in re.findall(r"<script[^>]*>", fr.text):
                assert "src=" in tag or "application/ld+json" in tag or "application/json" in tag, tag
            assert "script-src 'self'" in fr.headers["content-security-policy"]
    with server.client() as http:  # no choice made yet: the browser's language
        assert '<html lang="en">' in http.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
        assert '<html lang="fr">' in http.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
        home = http.get("/", params={"lang": "en"})
        assert "Recent datasets" in home.text and "Régions" in home.text and "Lacs du monde" in home.text
        # The choice is remembered: the next page without ?lang= stays in English.
        assert http.get("/search").text.count("Search the catalogue") == 1
        assert http.get("/search", params={"lang": "fr"}).text.count("Rechercher dans le catalogue") == 1


def test_search_filters_and_dataset_page(published, server):
    with server.client() as http:
        page = http.get("/search", params={"q": "lacs", "lang": "en"}).text
        assert "1 results" in page and "/datasets/ne-110m-lakes" in page and "/datasets/regions" not in page
        # A map-extent filter: the world's lakes reach Siberia, the regions of France do not.
        page = http.get("/search", params={"bbox": "100,55,110,60", "lang": "en"}).text
        assert "/datasets/ne-110m-lakes" in page and "/datasets/regions" not in page
        page = http.get("/search", params={"bbox": "-5,47,-1,49", "lang": "en"}).text
        assert "/datasets/regions" in page
        # Facets are links that narrow the search.
        page = http.get("/search", params={"lang": "en"}).text
        link = re.search(r'href="(/search\?type=[^"]+)"', page)
        assert link, "no facet link"
        assert http.get(link.group(1).replace("&amp;", "&")).status_code == 200
        dataset = http.get("/datasets/regions", params={"lang": "en"}).text
        for part in ("Attribute table", "/ogc/collections/regions/download?f=gpkg", "/ogc/collections/regions/items",
                     "/wms?service=WMS&amp;request=GetCapabilities", "/csw?service=CSW", "Copy", "/map?layers=regions"):
            assert part in dataset, part
        assert http.get("/datasets/nothing-here").status_code == 404
        assert http.get("/organisations/nobody").status_code == 404
        # Thumbnails are WMS maps of the dataset that really render.
        thumb = re.search(r'<img class="thumb" src="([^"]+)"', dataset) or re.search(
            r'<img class="thumb" src="([^"]+)"', http.get("/").text)
        image = http.get(thumb.group(1).replace("&amp;", "&"))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_organisation_pages_and_admin(site, server, editor_token):
    with server.client(editor_token) as http:
        with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
            job = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)}, data={"public": "true"})

        assert wait_job(http, job.headers["Location"])["state"] == "succeeded"
        org = http.get("/organisations/iuem", params={"lang": "en"})
        assert org.status_code == 200 and "IUEM" in org.text and "1 datasets" in org.text
        assert "/upload" in org.text  # editors see the publishing link
        assert http.get("/admin").status_code == 403  # not an administrator
    with server.client() as http:
        assert "IUEM" in http.get("/").text  # the organisation has a public dataset
        assert http.get("/admin").status_code == 403


def test_built_front_end_is_served_with_long_cache(server):
    manifest = (STATIC / "manifest.json")
    assert manifest.exists(), "build the front end first: make assets"
    import json

    built = json.loads(manifest.read_text())
    with server.client() as http:
        for name in ("portal.js", "style.css"):
            r = http.get(f"/static/{built[name]}")
            assert r.status_code == 200 and "immutable" in r.headers["cache-control"], name
            assert built[name] in http.get("/").text
        basemap = http.get("/static/basemap-countries-50m.topojson")
        assert basemap.status_code == 200 and basemap.json()["type"] == "Topology"
        assert "immutable" not in basemap.headers["cache-control"]


@pytest.fixture
def online_basemap(site, settings):
    conf = settings.data_dir / "kartenn.toml"
    conf.write_text(conf.read_text() + 'basemap_url = "https://{a-c}.tile.openstreetmap.org/{z}/{x}/{y}.png"\n'
                    'basemap_attribution = "© OpenStreetMap contributors"\n')


def test_configured_basemap_is_allowed_by_the_page(online_basemap, server):
    with server.client() as http:
        viewer = http.get("/map")
        assert 'data-basemap-url="https://{a-c}.tile.openstreetmap.org/{z}/{x}/{y}.png"' in viewer.text
        assert "img-src 'self' https://*.tile.openstreetmap.org" in viewer.headers["content-security-policy"]
        assert "script-src 'self';" in viewer.headers["content-security-policy"]
