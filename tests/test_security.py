"""Rights enforced in every service, on both stores: each endpoint asked by anonymous, a member of another
organisation, a user with a view grant, a member and an editor of the owning organisation, and an admin.

A private dataset of IUEM ("nybb", titled "Zones confidentielles") must not exist for those who may not
view it: absent from lists, capabilities, searches and counts, 404 (or the protocol's own "unknown") when
named. The public dataset ("regions") is there for everyone.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import httpx
import mapbox_vector_tile
import pytest
from lxml import etree

from conftest import kartenn, kartenn_here, shared, wait_job

WHO = ["anonymous", "outsider", "viewer", "member", "editor", "admin"]
SEES = {"anonymous": False, "outsider": False, "viewer": True, "member": True, "editor": True, "admin": True}
DOWNLOADS = {**SEES, "viewer": False}
EDITS = {"anonymous": False, "outsider": False, "viewer": False, "member": False, "editor": True, "admin": True}
SECRET, TITLE = "nybb", "Zones confidentielles"


def cli(settings, *args: str) -> str:
    return kartenn(*args, "--data-dir", str(settings.data_dir), settings=settings, check=True).stdout


def cli_here(settings, *args: str) -> str:
    return kartenn_here(*args, "--data-dir", str(settings.data_dir), settings=settings)


@pytest.fixture
def tokens(site, settings) -> dict[str, str | None]:
    """The organisations, users, datasets and grants of the matrix: what an administrator does with the CLI
    goes through the command line (run in this process: the tests of the CLI itself start it as a process);
    the rest through the same services, to keep the test short."""
    from kartenn.services.identity import create_token
    from kartenn.services.publish import publish_file

    cli_here(settings, "org", "add", "iuem", "--name", "IUEM")
    cli_here(settings, "user", "add", "anne", "--org", "iuem", "--role", "editor")
    cli_here(settings, "ingest", "--org", "iuem", "--private", "--title", TITLE,
             str(shared("nyc-boroughs/nybb_16a.zip")))
    site.accounts.add_organisation("lille")
    for user, org, role in (("olga", "lille", "member"), ("vera", "lille", "member"), ("marc", "iuem", "member")):
        site.accounts.add_user(user)
        site.accounts.set_membership(user, org, role)
    site.accounts.add_user("root", admin=True)
    assert not publish_file(site, shared("france-admin-express-2018/regions.geojson"))[0].error
    cli_here(settings, "grant", SECRET, "view", "--user", "vera")
    names = {"outsider": "olga", "viewer": "vera", "member": "marc", "admin": "root"}
    found: dict[str, str | None] = {"anonymous": None, "editor": cli_here(settings, "token", "create", "anne")
                                    .strip().splitlines()[-1]}
    for who, user in names.items():
        found[who] = create_token(site, user)
    return found


def visible(http: httpx.Client, record_id: str | None = None) -> dict[str, bool]:
    """Whether the private dataset shows, endpoint by endpoint."""
    seen: dict[str, bool] = {}
    seen["ogc collections"] = SECRET in {c["id"] for c in http.get("/ogc/collections").json()["collections"]}
    for name, path in (("collection", ""), ("items", "/items"), ("item", "/items/1"), ("queryables", "/queryables"),
                       ("tile", "/tiles/WebMercatorQuad/0/0/0"), ("map", "/map?bbox=-74.3,40.5,-73.7,40.9")):
        status = http.get(f"/ogc/collections/{SECRET}{path}").status_code
        assert status in (200, 204, 404), (name, status)
        seen[name] = status != 404
    seen["openapi"] = f"/ogc/collections/{SECRET}/items" in http.get("/ogc/api").json()["paths"]
    wms = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetCapabilities"}).text
    seen["wms capabilities"] = f"<Name>{SECRET}</Name>" in wms
    getmap = http.get("/wms", params={"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": SECRET,
                                      "styles": "", "crs": "EPSG:4326", "bbox": "40.5,-74.3,40.9,-73.7",
                                      "width": "64", "height": "64", "format": "image/png"})
    seen["wms getmap"] = getmap.headers["content-type"] == "image/png"
    wmts = http.get("/wmts", params={"service": "WMTS", "request": "GetCapabilities"}).text
    seen["wmts capabilities"] = f"<ows:Identifier>{SECRET}</ows:Identifier>" in wmts
    gettile = http.get("/wmts", params={"service": "WMTS", "version": "1.0.0", "request": "GetTile", "layer": SECRET,
                                        "style": "default", "format": "image/png", "tilematrixset": "WebMercatorQuad",
                                        "tilematrix": "0", "tilerow": "0", "tilecol": "0"})
    assert gettile.status_code in (200, 404), gettile.text
    seen["wmts gettile"] = gettile.status_code == 200
    seen["wmts rest tile"] = http.get(f"/wmts/1.0.0/{SECRET}/default/WebMercatorQuad/0/0/0.mvt").status_code == 200
    dataset_tile = mapbox_vector_tile.decode(http.get("/ogc/tiles/WebMercatorQuad/0/0/0").content)
    seen["ogc dataset tiles"] = SECRET in dataset_tile
    seen["ogc dataset tilesets"] = SECRET in {layer["id"] for layer in http.get("/ogc/tiles").json()["tilesets"][0]
                                              ["layers"]}
    wfs = http.get("/wfs", params={"service": "WFS", "request": "GetCapabilities"}).text
    seen["wfs capabilities"] = f"kartenn:{SECRET}<" in wfs
    getfeature = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                          "typeNames": f"kartenn:{SECRET}", "resultType": "hits"})
    seen["wfs getfeature"] = getfeature.status_code == 200
    csw = etree.fromstring(http.get("/csw", params={
        "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record",
        "resultType": "hits", "constraintLanguage": "CQL_TEXT", "constraint_language_version": "1.1.0",
        "constraint": f"dc:title LIKE '%{TITLE}%'"}).content)
    assert csw.find("{http://www.opengis.net/cat/csw/2.0.2}SearchResults") is not None, etree.tostring(csw)
    results = csw.find("{http://www.opengis.net/cat/csw/2.0.2}SearchResults")
    seen["csw getrecords"] = results.get("numberOfRecordsMatched") == "1"
    api = http.get("/api/v1/datasets").json()
    seen["api datasets"] = SECRET in {d["id"] for d in api["datasets"]}
    seen["api dataset"] = http.get(f"/api/v1/datasets/{SECRET}").status_code == 200
    seen["api styles"] = http.get(f"/api/v1/datasets/{SECRET}/styles").status_code == 200
    seen["api style sld"] = http.get(f"/api/v1/datasets/{SECRET}/styles/default?f=sld").status_code == 200
    seen["ogc styles"] = http.get(f"/ogc/collections/{SECRET}/styles").status_code == 200
    search = http.get("/api/v1/records", params={"q": "confidentielles", "facets": "true"}).json()
    seen["api records"] = search["matched"] == 1
    seen["portal"] = TITLE in http.get("/").text
    records = http.get("/ogc/collections/catalog/items", params={"q": "confidentielles", "facets": "true"}).json()
    seen["ogc records"] = records["numberMatched"] == 1
    seen["ogc records by id"] = http.get("/ogc/collections/catalog/items",
                                         params={"externalIds": SECRET}).json()["numberMatched"] == 1
    seen["dcat catalogue"] = TITLE in http.get("/api/v1/catalog/dcat.rdf").text
    if record_id:
        seen["ogc record"] = http.get(f"/ogc/collections/catalog/items/{record_id}").status_code == 200
        for export in ("dc.xml", "dcat.rdf", "schemaorg.jsonld"):
            seen[export] = http.get(f"/api/v1/records/{record_id}/{export}").status_code == 200
    seen["portal search"] = TITLE in http.get("/search", params={"q": "confidentielles"}).text
    seen["portal dataset"] = http.get(f"/datasets/{SECRET}").status_code == 200
    seen["portal organisation"] = TITLE in http.get("/organisations/iuem").text
    return seen


def test_every_endpoint_applies_the_rights(tokens, server, settings, site):
    record_id = site.catalog.get_dataset(SECRET).record_id
    for who in WHO:
        with server.client(tokens[who]) as http:
            seen = visible(http, record_id)
            assert seen == dict.fromkeys(seen, SEES[who]), (who, seen)
            # The public dataset is there for everyone.
            assert http.get("/ogc/collections/regions/items").status_code == 200, who
            download = http.get(f"/ogc/collections/{SECRET}/download", params={"f": "csv"}).status_code
            assert download == (200 if DOWNLOADS[who] else 404 if not SEES[who] else 403), (who, download)
    # Only editors of the owning organisation (and admins) publish and replace; members publish nowhere.
    for who in WHO:
        with server.client(tokens[who]) as http:
            with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
                r = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)}, data={"replace": SECRET})
            assert r.status_code == (202 if EDITS[who] else 401 if who == "anonymous" else 403), (who, r.text)
            if r.status_code == 401:
                assert "Basic" in r.headers["WWW-Authenticate"]
            if r.status_code == 202:
                assert wait_job(http, r.headers["Location"])["state"] == "succeeded"
    # Only those who may edit the dataset change its styles; those who may not see it get a 404.
    style = b'{"rules": [{"symbolizers": [{"kind": "fill", "color": "#ff0000"}]}]}'
    for who in WHO:
        with server.client(tokens[who]) as http:
            url = f"/api/v1/datasets/{SECRET}/styles/red"
            expected = 404 if not SEES[who] else (200, 201) if EDITS[who] else 401 if who == "anonymous" else 403
            r = http.put(url, content=style, headers={"Content-Type": "application/json"})
            assert r.status_code in (expected if isinstance(expected, tuple) else (expected,)), (who, r.text)
            r = http.delete(f"/api/v1/datasets/{SECRET}/styles/nothing")
            assert r.status_code == (404 if not SEES[who] or EDITS[who] else 403), (who, r.text)
    log = cli(settings, "audit", "--limit", "500")
    for event in ("org.create", "user.create", "publish", "grant.add", "token.create", "access.denied",
                  "style.update"):
        assert f"\t{event}\t" in log, event


def test_bad_credentials_are_refused(tokens, server, site):
    editor = tokens["editor"]
    assert editor
    tampered = editor[:-2] + ("AA" if not editor.endswith("AA") else "BB")
    with server.client() as http:
        for header in (f"Bearer {tampered}", "Bearer kt_nothing_here", "Basic !!!",
                       "Basic " + base64.b64encode(b"anne:wrong password").decode(), "Negotiate abc"):
            r = http.get("/ogc/collections", headers={"Authorization": header})
            assert r.status_code == 401, header
        # The token as a Basic password, as QGIS sends it, works for its own user only.
        ok = base64.b64encode(f"anne:{editor}".encode()).decode()
        assert http.get(f"/ogc/collections/{SECRET}", headers={"Authorization": f"Basic {ok}"}).status_code == 200
        other = base64.b64encode(f"marc:{editor}".encode()).decode()
        assert http.get("/ogc/collections", headers={"Authorization": f"Basic {other}"}).status_code == 401
        wms = http.get("/wms", params={"service": "WMS", "request": "GetCapabilities"},
                       headers={"Authorization": f"Bearer {tampered}"})
        assert wms.status_code == 401 and b"ServiceException" in wms.content
    # An expired token and a read-only one.
    from kartenn.services.identity import create_token

    expired = create_token(site, "anne", name="old", days=1)
    token_id = expired.split("_")[1]
    from sqlalchemy import update

    from kartenn.stores.accounts import tokens as table

    with site.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == token_id).values(expires=datetime.now(UTC) - timedelta(1)))
    read_only = cli_token(site, "anne", "read")
    with server.client() as http:
        r = http.get("/ogc/collections", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
            r = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)},
                          headers={"Authorization": f"Bearer {read_only}"})
        assert r.status_code == 403
        assert http.get(f"/ogc/collections/{SECRET}", headers={"Authorization": f"Bearer {read_only}"}
                        ).status_code == 200


def cli_token(site, user: str, scope: str) -> str:
    from kartenn.services.identity import create_token

    return create_token(site, user, name="read", scope=scope)


def test_password_failures_slow_the_address(site, settings, server):
    from kartenn.services.identity import hash_password

    site.accounts.add_organisation("iuem")
    site.accounts.add_user("lea", password_hash=hash_password("correct horse battery"))
    site.accounts.set_membership("lea", "iuem", "member")
    good = base64.b64encode(b"lea:correct horse battery").decode()
    bad = base64.b64encode(b"lea:not the password").decode()
    with server.client() as http:
        assert http.get("/ogc/collections", headers={"Authorization": f"Basic {good}"}).status_code == 200
        for _ in range(5):
            assert http.get("/ogc/collections", headers={"Authorization": f"Basic {bad}"}).status_code == 401
        # This address is slowed for this account (the owner elsewhere still logs in: see test_login_throttle).
        r = http.get("/ogc/collections", headers={"Authorization": f"Basic {good}"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    events = {e["event"] for e in site.accounts.audit_log()}
    assert "login.failed" in events


def test_security_headers_and_cors(site, server):
    with server.client() as http:
        page = http.get("/", headers={"Accept": "text/html"})
        assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff" and "access-control-allow-origin" not in page.headers
        items = http.get("/ogc/collections", headers={"Origin": "https://maps.example.org"})
        assert items.headers["access-control-allow-origin"] == "*"
        preflight = http.options("/wms", headers={"Origin": "https://maps.example.org",
                                                  "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
        # The JSON API that changes things is not open to other origins.
        upload = http.options("/api/v1/uploads", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in upload.headers
        assert "access-control-allow-origin" not in http.get("/api/v1/datasets").headers


def test_administration_through_the_api(tokens, server):
    with server.client(tokens["admin"]) as admin:
        assert admin.post("/api/v1/organisations", json={"id": "brest", "name": "Brest"}).status_code == 201
        r = admin.post("/api/v1/users", json={"id": "yann", "org": "brest", "role": "editor"})
        assert r.status_code == 201, r.text
        assert "yann" in {u["id"] for u in admin.get("/api/v1/users").json()["users"]}
        assert admin.post("/api/v1/users", json={"id": "x", "org": "nowhere"}).status_code == 400
        assert admin.post("/api/v1/users", json={"id": "x", "org": "brest", "password": 12345678901}
                          ).status_code == 400
    for who in ("anonymous", "member", "editor"):
        with server.client(tokens[who]) as http:
            assert http.get("/api/v1/users").status_code == (401 if who == "anonymous" else 403), who
            assert http.get("/api/v1/audit").status_code in (401, 403), who
    # The owning organisation's editor shares the private dataset with Lille; members of Lille then see it.
    with server.client(tokens["member"]) as member:
        assert member.post(f"/api/v1/datasets/{SECRET}/grants",
                           json={"principal": "org", "id": "lille", "action": "view"}).status_code == 403
    with server.client(tokens["outsider"]) as outsider:
        assert outsider.get(f"/ogc/collections/{SECRET}").status_code == 404
        assert outsider.get(f"/api/v1/datasets/{SECRET}/grants").status_code == 404
    with server.client(tokens["editor"]) as editor:
        r = editor.post(f"/api/v1/datasets/{SECRET}/grants", json={"principal": "org", "id": "lille",
                                                                    "action": "view"})
        assert r.status_code == 201, r.text
        listed = editor.get(f"/api/v1/datasets/{SECRET}/grants").json()
        assert {"principal": "org", "id": "lille", "action": "view"} in listed["grants"]
        assert listed["owner"]["org_id"] == "iuem"
    time.sleep(2.1)  # policy answers are kept two seconds
    with server.client(tokens["outsider"]) as outsider:
        assert outsider.get(f"/ogc/collections/{SECRET}").status_code == 200
    with server.client(tokens["editor"]) as editor:
        assert editor.delete(f"/api/v1/datasets/{SECRET}/grants",
                             params={"principal": "org", "id": "lille", "action": "view"}).status_code == 204
    time.sleep(2.1)
    with server.client(tokens["outsider"]) as outsider:
        assert outsider.get(f"/ogc/collections/{SECRET}").status_code == 404
    with server.client(tokens["admin"]) as admin:
        events = {e["event"] for e in admin.get("/api/v1/audit", params={"limit": 500}).json()["events"]}
        assert {"grant.add", "grant.revoke", "user.create", "org.create", "access.denied"} <= events


def test_saved_maps_follow_the_rights(tokens, server):
    layers = [{"dataset": SECRET, "kind": "wms"}, {"dataset": "regions", "kind": "vector", "opacity": 0.5}]
    team = {"title": "Rade de Brest", "org": "iuem", "public": False, "map": {"layers": layers,
                                                                             "extent": [-4.6, 48.2, -4.2, 48.5]}}
    with server.client(tokens["anonymous"]) as http:
        assert http.post("/api/v1/maps", json=team).status_code == 401
    with server.client(tokens["outsider"]) as http:
        assert http.post("/api/v1/maps", json=team).status_code == 403  # not a member of iuem
    with server.client(tokens["editor"]) as http:
        r = http.post("/api/v1/maps", json=team)
        assert r.status_code == 201, r.text
        private_id = r.json()["id"]
        assert r.headers["location"].endswith(f"/api/v1/maps/{private_id}")
        r = http.post("/api/v1/maps", json={**team, "title": "For everyone", "public": True})
        public_id = r.json()["id"]
        assert http.post("/api/v1/maps", json={**team, "map": {"layers": [{"dataset": "x", "opacity": 3}]}}
                         ).status_code == 400
    for who, sees_private in (("anonymous", False), ("outsider", False), ("member", True), ("admin", True)):
        with server.client(tokens[who]) as http:
            listed = {m["id"] for m in http.get("/api/v1/maps").json()["maps"]}
            assert (private_id in listed) == sees_private and public_id in listed, who
            assert http.get(f"/api/v1/maps/{private_id}").status_code == (200 if sees_private else 404), who
            shown = [layer["dataset"] for layer in http.get(f"/api/v1/maps/{public_id}").json()["map"]["layers"]]
            # A shared map never shows a dataset its reader may not see.
            assert shown == ([SECRET, "regions"] if sees_private else ["regions"]), who
    with server.client(tokens["member"]) as http:
        assert http.put(f"/api/v1/maps/{private_id}", json=team).status_code == 403  # members read, editors edit
    with server.client(tokens["outsider"]) as http:
        assert http.delete(f"/api/v1/maps/{private_id}").status_code == 404
    with server.client(tokens["editor"]) as http:
        r = http.put(f"/api/v1/maps/{private_id}", json={**team, "title": "Rade", "public": True})
        assert r.status_code == 200 and r.json()["public"] and r.json()["title"] == "Rade"
        assert http.delete(f"/api/v1/maps/{public_id}").status_code == 204
        assert http.get(f"/api/v1/maps/{public_id}").status_code == 404
    time.sleep(2.1)  # policy answers are kept two seconds
    with server.client(tokens["anonymous"]) as http:
        assert http.get(f"/api/v1/maps/{private_id}").status_code == 200  # made public
    with server.client(tokens["admin"]) as admin:
        events = [e["event"] for e in admin.get("/api/v1/audit", params={"limit": 500}).json()["events"]]
        assert events.count("map.save") == 3 and "delete" in events


def test_users_and_roles_through_api_and_cli(tokens, server, settings):
    with server.client(tokens["admin"]) as admin:
        assert admin.put("/api/v1/users/marc/roles/iuem", json={"role": "editor"}).status_code == 200
        assert admin.put("/api/v1/users/marc/roles/iuem", json={"role": "king"}).status_code == 400
        users = {u["id"]: u for u in admin.get("/api/v1/users").json()["users"]}
        assert users["marc"]["roles"] == {"iuem": "editor"}
        assert admin.patch("/api/v1/users/marc", json={"active": False}).status_code == 200
    with server.client(tokens["member"]) as http:  # marc's token stops working with his account
        r = http.get("/ogc/collections")
        assert r.status_code == 401 and "disabled" in r.json()["detail"]
    with server.client(tokens["admin"]) as admin:
        assert admin.patch("/api/v1/users/marc", json={"active": True}).status_code == 200
        assert admin.delete("/api/v1/users/marc/roles/iuem").status_code == 204
    with server.client(tokens["member"]) as http:
        assert http.get(f"/ogc/collections/{SECRET}").status_code == 404  # no longer in iuem
    cli(settings, "user", "role", "marc", "lille", "reviewer")
    cli(settings, "user", "disable", "olga")
    listed = dict(line.split("\t", 1) for line in cli(settings, "user", "list").splitlines())
    assert listed["marc"] == "lille:reviewer" and listed["olga"] == "lille:member\tdisabled"
    assert listed["root"] == "\tadmin"


def test_record_editing_endpoints_apply_the_rights(tokens, server, site):
    """Validation, versions, edits (JSON API and CSW-T) of the private dataset's record; thesauri for all."""
    record_id = site.catalog.get_dataset(SECRET).record_id
    update = ('<csw:Transaction xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" xmlns:ogc="http://www.opengis.net/ogc"'
              ' service="CSW" version="2.0.2"><csw:Update><csw:RecordProperty><csw:Name>dc:title</csw:Name>'
              f'<csw:Value>{TITLE}</csw:Value></csw:RecordProperty><csw:Constraint version="1.1.0"><ogc:Filter>'
              '<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:identifier</ogc:PropertyName>'
              f'<ogc:Literal>{record_id}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter></csw:Constraint>'
              '</csw:Update></csw:Transaction>')
    for who in WHO:
        with server.client(tokens[who]) as http:
            expected = 200 if EDITS[who] else 404 if not SEES[who] else 401 if who == "anonymous" else 403
            for path in ("validation", "versions"):
                assert http.get(f"/api/v1/records/{record_id}/{path}").status_code == expected, (who, path)
            assert http.put(f"/api/v1/records/{record_id}", json={"title": TITLE}).status_code == expected, who
            r = http.post("/csw", content=update)
            assert r.status_code == (200 if EDITS[who] else 401 if who == "anonymous" else 403), (who, r.text)
            if r.status_code == 200:
                assert b"<csw:totalUpdated>1<" in r.content
            assert http.get("/api/v1/thesauri").status_code == 200
