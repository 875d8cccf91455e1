"""Caching headers, in process, both stores: an answer that depends on who asks is never marked for shared caches.

Anonymous callers may get ``public`` answers (tiles of public data); callers with credentials (a token, Basic,
a session cookie) get ``private`` ones; every answer that could differ by caller carries
``Vary: Authorization, Cookie``. One test walks every GET route of the application.
"""

from __future__ import annotations

import pytest
from fastapi.routing import iter_route_contexts
from starlette.testclient import TestClient

from conftest import shared
from kartenn.app import create_app
from kartenn.domain.security import Sharing
from kartenn.services import sessions
from kartenn.services.identity import create_token
from kartenn.services.publish import publish_file

TMS = "WebMercatorQuad"
# Routes whose answer is the same for everyone: they keep their own caching headers.
CALLER_INDEPENDENT = {"/healthz", "/ogc/tileMatrixSets", "/ogc/tileMatrixSets/{tms_id}", "/ogc/conformance",
                      "/api/v1/styles/schema", "/api/v1/openapi.json", "/api/v1/docs",
                      "/docs/oauth2-redirect"}


@pytest.fixture
def world(site, settings):
    """A private dataset of IUEM, a public one, an editor of IUEM (token) and an administrator (session)."""
    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_user("anne")
    site.accounts.set_membership("anne", "iuem", "editor")
    site.accounts.add_user("root", admin=True)
    secret = publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), title="Private lakes",
                          sharing=Sharing(org="iuem", public=False))[0]
    public = publish_file(site, shared("natural-earth/ne_110m_populated_places_simple.geojson"))[0]
    assert secret.dataset and public.dataset, (secret.error, public.error)
    with TestClient(create_app(settings)) as http:
        yield {"http": http, "secret": secret.dataset, "public": public.dataset,
               "editor": {"Authorization": f"Bearer {create_token(site, 'anne')}"},
               "admin": {"Cookie": f"{sessions.COOKIE}={sessions.open_session(site, 'root')}"}}


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def assert_private(response) -> None:
    control = response.headers.get("cache-control", "")
    assert ("private" in control or "no-store" in control) and "public" not in control, (response.url, control)
    assert {"authorization", "cookie"} <= vary(response), (response.url, response.headers.get("vary"))


def family_urls(secret: str, style: str) -> dict[str, str]:
    wmts = (f"/wmts?service=WMTS&version=1.0.0&request=GetTile&layer={secret}&style={style}&tilematrixset={TMS}"
            "&tilematrix=1&tilerow=0&tilecol=0&format=image/png")
    return {
        "OGC API tile": f"/ogc/collections/{secret}/tiles/{TMS}/0/0/0",
        "dataset tile": f"/ogc/tiles/{TMS}/0/0/0?collections={secret}",
        "WMTS KVP tile": wmts,
        "WMTS REST tile": f"/wmts/1.0.0/{secret}/{style}/{TMS}/1/0/0.png",
        "WMS map": f"/wms?service=WMS&version=1.3.0&request=GetMap&layers={secret}&styles=&crs=EPSG:4326"
                   "&bbox=-90,-180,90,180&width=64&height=32&format=image/png",
        "OGC API map": f"/ogc/collections/{secret}/map?width=64&height=32",
        "WMS capabilities": "/wms?service=WMS&request=GetCapabilities",
        "WMTS capabilities": "/wmts/1.0.0/WMTSCapabilities.xml",
        "WFS capabilities": "/wfs?service=WFS&request=GetCapabilities",
        "CSW capabilities": "/csw?service=CSW&request=GetCapabilities",
        "collections": "/ogc/collections",
        "collection": f"/ogc/collections/{secret}",
        "items": f"/ogc/collections/{secret}/items?limit=2",
        "records": "/ogc/collections/catalog/items",
        "JSON records": "/api/v1/records",
        "datasets": f"/api/v1/datasets/{secret}",
        "OGC API styles": f"/ogc/collections/{secret}/styles",
        "style": f"/api/v1/datasets/{secret}/styles/{style}?f=mapbox",
        "portal page": f"/datasets/{secret}",
        "home page": "/",
    }


def default_style(world) -> str:
    r = world["http"].get(f"/api/v1/datasets/{world['secret'].id}/styles", headers=world["editor"])
    assert r.status_code == 200, r.text
    body = r.json()
    styles = body.get("styles", body) if isinstance(body, dict) else body
    return str(styles[0]["name"] if isinstance(styles[0], dict) else styles[0])


def test_private_resources_are_private_in_every_family(world):
    http, secret = world["http"], world["secret"].id
    for family, url in family_urls(secret, default_style(world)).items():
        for who in ("editor", "admin"):
            r = http.get(url, headers=world[who])
            assert r.status_code == 200, (family, who, r.status_code, r.text[:300])
            assert_private(r)
        anonymous = http.get(url)
        assert {"authorization", "cookie"} <= vary(anonymous), (family, anonymous.headers)
        if family.endswith("tile") or family.endswith("map") or family in ("collection", "items", "style"):
            assert anonymous.status_code in (400, 404), (family, anonymous.status_code)  # it does not exist for them
        if family.endswith("capabilities") or family in ("collections", "records", "JSON records", "home page"):
            assert "Private lakes" not in anonymous.text, family


def test_revalidated_private_tile_stays_private(world):
    http, url = world["http"], f"/ogc/collections/{world['secret'].id}/tiles/{TMS}/0/0/0"
    first = http.get(url, headers=world["editor"])
    again = http.get(url, headers={**world["editor"], "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert_private(again)


def test_public_tiles_may_be_kept_by_shared_caches_for_anonymous_callers(world):
    http, public = world["http"], world["public"].id
    style = world["http"].get(f"/api/v1/datasets/{public}/styles").json()
    style = (style.get("styles", style) if isinstance(style, dict) else style)[0]
    style = style["name"] if isinstance(style, dict) else style
    for url in (f"/ogc/collections/{public}/tiles/{TMS}/0/0/0", f"/ogc/tiles/{TMS}/0/0/0?collections={public}",
                f"/wmts/1.0.0/{public}/{style}/{TMS}/1/0/0.png"):
        anonymous = http.get(url)
        assert anonymous.status_code == 200, (url, anonymous.text[:300])
        assert anonymous.headers["cache-control"].startswith("public, max-age="), url
        assert {"authorization", "cookie"} <= vary(anonymous), url
        assert_private(http.get(url, headers=world["editor"]))  # the same tile, asked with credentials


def path_values(world, style: str) -> dict[str, str]:
    secret = world["secret"]
    return {"collection_id": secret.id, "dataset_id": secret.id, "layer": secret.id, "record_id": secret.record_id,
            "tms_id": TMS, "z": "0", "row": "0", "col": "0", "tile": "0.png", "j": "1", "point": "1.json",
            "style_id": style, "style": style, "name": style, "fid": "1", "schema": "iso19139", "fmt": "rdf",
            "org_id": "iuem", "thesaurus_id": "inspire-theme", "job_id": "none", "map_id": "none",
            "upload_id": "none", "time": "2000-01-01", "location_id": "none"}


def get_routes(app) -> list[str]:
    """Every GET route, those of included routers too."""
    return [r.path for r in iter_route_contexts(app.routes) if r.methods and "GET" in r.methods]


def test_no_answer_to_a_caller_with_credentials_says_public(world):
    http = world["http"]
    values = path_values(world, default_style(world))
    routes = get_routes(http.app)
    assert len(routes) > 60 and "/ogc/tiles/{tms_id}/{z}/{row}/{col}" in routes
    checked = 0
    for path in routes:
        url = path.format(**values)
        for who in ("editor", "admin", None):
            r = http.get(url, headers=world[who] if who else None, follow_redirects=False)
            assert r.status_code < 500, (url, who, r.status_code)
            if path in CALLER_INDEPENDENT:
                continue
            assert {"authorization", "cookie"} <= vary(r), (url, who, r.headers.get("vary"))
            if who:
                assert_private(r)
            checked += 1
    assert checked > 150
