"""Every route that writes has a rights test, on both stores, in-process.

The application's route table is walked: a write route (POST, PUT, PATCH, DELETE, and GET or POST on the OGC
web services, whose Transaction writes) must have an entry in WRITES (a representative write) or in EXEMPT (with
the reason). Each write is tried by anonymous, a member of the owning organisation, an editor and a reviewer of
another organisation and the owning organisation's editor: those it does not allow are refused (404, or the
protocol's "unknown", for what they may not see; 401 or 403 otherwise) and nothing changes (database and files;
only access-denied lines in the audit log); the one it allows succeeds, with an audit line (and a version, for
records).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import inspect, select, text
from starlette.testclient import TestClient

from conftest import shared

ROLES = ("anonymous", "member", "other_editor", "other_reviewer", "owner_editor")
USERS = {"member": ("mona", "own", "member"), "owner_editor": ("edith", "own", "editor"),
         "owner_reviewer": ("rene", "own", "reviewer"), "other_editor": ("otto", "other", "editor"),
         "other_reviewer": ("rita", "other", "reviewer"), "victim": ("vic", "own", "member")}
LAKES = "natural-earth/ne_110m_lakes.geojson"
CITIES = "natural-earth/naturalearth_cities/naturalearth_cities.shp"
CSW = "http://www.opengis.net/cat/csw/2.0.2"
WFS = "http://www.opengis.net/wfs/2.0"
GML = "http://www.opengis.net/gml/3.2"
BLUE = {"rules": [{"symbolizers": [{"kind": "fill", "color": "#0000ff"}]}]}
# Tables a refused request may touch: the audit log (checked apart), tokens' last use, logins' traces.
UNCHECKED = {"audit", "tokens", "sessions", "login_failures", "login_flows"}


@dataclass
class World:
    site: Any
    client: Callable[[str], TestClient]
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Write:
    """A representative write, done as ``role``: ``call(http, world)`` → the response."""

    call: Callable[[TestClient, World], httpx.Response]
    by: str = "owner_editor"  # the role that succeeds (None: nobody may write this way)
    also: tuple[str, ...] = ()  # other roles of ROLES allowed to write
    sees: tuple[str, ...] = ROLES  # roles that may see the target; the others are answered `hidden`
    hidden: int = 404
    status: dict[str, int] = field(default_factory=dict)  # exceptions to the rule, by role
    record: str | None = None  # the record whose versions a success adds to (a key of World.ids)


def _iso(record_id: str, title: str) -> bytes:
    from kartenn.domain import Record
    from kartenn.formats.iso19139 import render_iso19139

    return render_iso19139(Record(id=record_id, title=title, abstract="Rights test"))


def _csw_update(record_id: str, title: str) -> bytes:
    body = _iso(record_id, title).decode().split("?>", 1)[-1]
    return (f'<csw:Transaction xmlns:csw="{CSW}" service="CSW" version="2.0.2"><csw:Update>{body}</csw:Update>'
            '</csw:Transaction>').encode()


def _wfs_insert(type_name: str) -> bytes:
    return f"""<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:gml="{GML}"
        xmlns:kartenn="urn:x-kartenn:features"><wfs:Insert><kartenn:{type_name}>
        <kartenn:geom><gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing>
        <gml:posList>40 -70 40 -69 41 -69 41 -70 40 -70</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
        </kartenn:geom><kartenn:name>Lac des droits</kartenn:name></kartenn:{type_name}></wfs:Insert>
        </wfs:Transaction>""".encode()


def _tus_meta(**values: str) -> str:
    import base64

    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _lakes() -> bytes:
    return shared(LAKES).read_bytes()


OWNER = ("member", "owner_editor")  # who sees the owning organisation's private data
DRAFTS = ("owner_editor",)  # who sees its drafts (besides its reviewers)
ADMIN = {"by": "admin", "sees": ROLES}

WRITES: dict[tuple[str, str], Write] = {
    # catalogue records (JSON API)
    ("POST", "/api/v1/records"): Write(  # an import over the private record: the write the review found open
        lambda h, w: h.post("/api/v1/records", content=_iso(w.ids["record"], "Réécrit"),
                            headers={"content-type": "application/xml"}), record="record"),
    ("PUT", "/api/v1/records/{record_id}"): Write(
        lambda h, w: h.put(f"/api/v1/records/{w.ids['record']}", json={"title": "Changé"}), sees=OWNER,
        record="record"),
    ("POST", "/api/v1/records/{record_id}/submit"): Write(
        lambda h, w: h.post(f"/api/v1/records/{w.ids['draft']}/submit"), sees=DRAFTS, record="draft"),
    ("POST", "/api/v1/records/{record_id}/approve"): Write(
        lambda h, w: h.post(f"/api/v1/records/{w.ids['to_approve']}/approve"), by="owner_reviewer", sees=DRAFTS,
        record="to_approve"),
    ("POST", "/api/v1/records/{record_id}/reject"): Write(
        lambda h, w: h.post(f"/api/v1/records/{w.ids['to_reject']}/reject", json={"comment": "non"}),
        by="owner_reviewer", sees=DRAFTS, record="to_reject"),
    # datasets, their styles and grants
    ("DELETE", "/api/v1/datasets/{dataset_id}"): Write(
        lambda h, w: h.delete(f"/api/v1/datasets/{w.ids['victim']}"), sees=OWNER),
    ("PUT", "/api/v1/datasets/{dataset_id}/styles/{name}"): Write(
        lambda h, w: h.put(f"/api/v1/datasets/{w.ids['dataset']}/styles/blue", json=BLUE), sees=OWNER),
    ("POST", "/api/v1/datasets/{dataset_id}/styles/{name}/default"): Write(
        lambda h, w: h.post(f"/api/v1/datasets/{w.ids['dataset']}/styles/alt/default"), sees=OWNER),
    ("DELETE", "/api/v1/datasets/{dataset_id}/styles/{name}"): Write(
        lambda h, w: h.delete(f"/api/v1/datasets/{w.ids['dataset']}/styles/gone"), sees=OWNER),
    ("POST", "/api/v1/datasets/{dataset_id}/grants"): Write(
        lambda h, w: h.post(f"/api/v1/datasets/{w.ids['dataset']}/grants",
                            json={"principal": "user", "id": "otto", "action": "view"}), sees=OWNER),
    ("DELETE", "/api/v1/datasets/{dataset_id}/grants"): Write(
        lambda h, w: h.delete(f"/api/v1/datasets/{w.ids['dataset']}/grants",
                              params={"principal": "user", "id": "vic", "action": "download"}), sees=OWNER),
    # uploads: publishing for the owning organisation
    ("POST", "/api/v1/uploads"): Write(
        lambda h, w: h.post("/api/v1/uploads", files={"file": ("lakes.geojson", _lakes())},
                            data={"org": "own", "title": "Lacs"})),
    ("POST", "/api/v1/uploads/resumable"): Write(
        lambda h, w: h.post("/api/v1/uploads/resumable", headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": _tus_meta(filename="a.geojson",
                                                                                        org="own")})),
    ("PATCH", "/api/v1/uploads/resumable/{upload_id}"): Write(
        lambda h, w: h.patch(f"/api/v1/uploads/resumable/{w.ids['upload']}", content=_lakes(), headers={
            "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}),
        sees=("owner_editor",)),
    # saved maps: any member may save one for the organisation; its editors change those of the organisation
    ("POST", "/api/v1/maps"): Write(
        lambda h, w: h.post("/api/v1/maps", json={"title": "Carte", "org": "own", "map": {"layers": []}}),
        also=("member",)),
    ("PUT", "/api/v1/maps/{map_id}"): Write(
        lambda h, w: h.put(f"/api/v1/maps/{w.ids['map']}", json={"title": "Autre", "map": {"layers": []}}),
        sees=OWNER),
    ("DELETE", "/api/v1/maps/{map_id}"): Write(lambda h, w: h.delete(f"/api/v1/maps/{w.ids['doomed_map']}"),
                                               sees=OWNER),
    # administration: platform administrators only
    ("POST", "/api/v1/organisations"): Write(lambda h, w: h.post("/api/v1/organisations", json={"id": "neuve"}),
                                             **ADMIN),
    ("POST", "/api/v1/users"): Write(
        lambda h, w: h.post("/api/v1/users", json={"id": "nouveau", "org": "own", "role": "editor"}), **ADMIN),
    ("PATCH", "/api/v1/users/{user_id}"): Write(lambda h, w: h.patch("/api/v1/users/vic", json={"active": False}),
                                                **ADMIN),
    ("PUT", "/api/v1/users/{user_id}/roles/{org}"): Write(
        lambda h, w: h.put("/api/v1/users/vic/roles/own", json={"role": "admin"}), **ADMIN),
    ("DELETE", "/api/v1/users/{user_id}/roles/{org}"): Write(lambda h, w: h.delete("/api/v1/users/mona/roles/other"),
                                                             **ADMIN),
    ("POST", "/api/v1/signups/{signup_id}/approve"): Write(
        lambda h, w: h.post("/api/v1/signups/sam/approve", json={"org": "own"}), **ADMIN),
    ("DELETE", "/api/v1/signups/{signup_id}"): Write(lambda h, w: h.delete("/api/v1/signups/sue"), **ADMIN),
    # harvest sources (a loopback address, refused when a run fetches it: the run fails with its reason)
    ("POST", "/api/v1/harvests"): Write(lambda h, w: h.post("/api/v1/harvests", json={
        "name": "neuve", "type": "csw", "url": "http://127.0.0.1:9/csw"}), **ADMIN),
    ("POST", "/api/v1/harvests/{name}/run"): Write(lambda h, w: h.post("/api/v1/harvests/kept/run"), **ADMIN),
    ("DELETE", "/api/v1/harvests/{name}"): Write(lambda h, w: h.delete("/api/v1/harvests/doomed"), **ADMIN),
    # OGC web services: transactions by XML POST; key-value requests offer none (refused for everyone)
    ("POST", "/csw"): Write(
        lambda h, w: h.post("/csw", content=_csw_update(w.ids["record"], "Par CSW")), sees=OWNER, hidden=400,
        status={"anonymous": 401, "other_reviewer": 403}, record="record"),  # editors only, before any look-up
    ("GET", "/csw"): Write(lambda h, w: h.get("/csw", params={"service": "CSW", "version": "2.0.2",
                                                            "request": "Transaction"}), by=None),
    ("POST", "/wfs"): Write(lambda h, w: h.post("/wfs", content=_wfs_insert(w.ids["dataset"])), sees=OWNER,
                            hidden=400),  # WFS's answer for an unknown feature type
    ("GET", "/wfs"): Write(lambda h, w: h.get("/wfs", params={"service": "WFS", "version": "2.0.0",
                                                            "request": "Transaction"}), by=None),
    ("POST", "/ows"): Write(lambda h, w: h.post("/ows", content=_wfs_insert(w.ids["dataset"])), sees=OWNER,
                            hidden=400),
    ("GET", "/ows"): Write(lambda h, w: h.get("/ows", params={"service": "CSW", "version": "2.0.2",
                                                            "request": "Transaction"}), by=None),
}

EXEMPT = {
    ("POST", "/auth/login"): "logging in writes a session for whoever proves who they are",
    ("POST", "/auth/logout"): "logging out ends the caller's own session",
    ("POST", "/auth/signup"): "an account request waits for an administrator (see the signups routes)",
    ("GET", "/auth/oidc"): "starts an OpenID Connect login (a login flow of its own)",
    ("GET", "/auth/callback"): "ends an OpenID Connect login (a session for whoever the provider vouches for)",
    ("POST", "/ogc/collections/catalog/items"): "a search sent as a body: reads only",
    ("POST", "/ogc/collections/{collection_id}/items"): "a search sent as a body: reads only",
    ("POST", "/wcs"): "WCS requests sent as XML: reads only (WCS has no transaction)",
}
# GET routes with side effects: OGC web services (a key-value request could name Transaction), OpenID Connect logins
WRITING_GETS = ("/csw", "/wfs", "/ows", "/auth/oidc", "/auth/callback")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def write_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in iter_route_contexts(app.routes):
        path, methods = route.path, route.methods or set()
        for method in methods & WRITE_METHODS:
            found.add((method, path))
        if path in WRITING_GETS and "GET" in methods:
            found.add(("GET", path))
    return found


def test_every_write_route_has_a_rights_test(settings):
    from kartenn.app import create_app

    routes = write_routes(create_app(settings))
    assert routes - set(WRITES) - set(EXEMPT) == set(), "write routes without a rights test (add them to WRITES)"
    assert set(WRITES) | set(EXEMPT) <= routes, "entries for routes that no longer exist"
    assert not set(WRITES) & set(EXEMPT)


# the world: two organisations, their people, the owning organisation's private data --------------------------


@pytest.fixture
def world(site, settings):
    from kartenn.app import create_app
    from kartenn.domain.security import OPERATOR, Sharing
    from kartenn.services import harvest, workflow
    from kartenn.services.identity import create_token, hash_password
    from kartenn.services.jobs import JobRunner
    from kartenn.services.publish import publish_file
    from kartenn.services.records import import_bytes
    from kartenn.services.styles import put_style, read_style

    operator = site.seen_by(OPERATOR)
    for org in ("own", "other"):
        site.accounts.add_organisation(org)
    tokens: dict[str, str | None] = {"anonymous": None}
    for role, (user, org, grade) in USERS.items():
        site.accounts.add_user(user)
        site.accounts.set_membership(user, org, grade)
        tokens[role] = create_token(site, user)
    site.accounts.set_membership("mona", "other", "member")
    site.accounts.add_user("root", admin=True)
    tokens["admin"] = create_token(site, "root")
    for name in ("sam", "sue"):
        site.accounts.add_signup({"id": name, "name": name, "email": f"{name}@example.org",
                                  "password": hash_password("x" * 12), "org": "own", "message": ""})
    private = Sharing(org="own", user="edith", public=False)
    ids: dict[str, str] = {}
    ids["dataset"] = publish_file(site, shared(LAKES), sharing=private)[0].dataset.id
    ids["victim"] = publish_file(site, shared(CITIES), sharing=private)[0].dataset.id
    dataset = site.catalog.get_dataset(ids["dataset"])
    for name in ("alt", "gone"):
        put_style(operator, dataset, read_style(dataset, name, b'{"rules": [{"symbolizers": [{"kind": "fill", '
                                                                b'"color": "#00ff00"}]}]}', "application/json")[0])
        dataset = site.catalog.get_dataset(ids["dataset"])
    with site.catalog.begin() as conn:
        site.accounts.grant(conn, "dataset", ids["dataset"], "user", "vic", "download")
    for key, draft in (("record", False), ("draft", True), ("to_approve", True), ("to_reject", True)):
        ids[key] = f"urn:kartenn:test:{key}"
        import_bytes(operator, _iso(ids[key], f"Fiche {key}"), sharing=private, draft=draft)
    for key in ("to_approve", "to_reject"):
        workflow.submit(operator, ids[key])
    for name in ("kept", "doomed"):
        harvest.add_source(operator, harvest.HarvestSource(name, "csw", "http://127.0.0.1:9/csw"))

    app = create_app(settings)
    app.state.site, app.state.ready = site, True
    app.state.jobs = jobs = JobRunner(site, workers=1)
    clients: list[TestClient] = []

    def client(role: str) -> TestClient:
        http = TestClient(app, raise_server_exceptions=False)
        if tokens.get(role):
            http.headers["Authorization"] = f"Bearer {tokens[role]}"
        clients.append(http)
        return http

    w = World(site, client, ids)
    editor = client("owner_editor")
    for key in ("map", "doomed_map"):
        r = editor.post("/api/v1/maps", json={"title": key, "org": "own", "map": {"layers": []}})
        assert r.status_code == 201, r.text
        ids[key] = r.json()["id"]
    r = editor.post("/api/v1/uploads/resumable", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": str(len(_lakes())),
        "Upload-Metadata": _tus_meta(filename="lakes.geojson", org="own")})
    assert r.status_code == 201, r.text
    ids["upload"] = r.headers["location"].rsplit("/", 1)[-1]
    yield w
    _settle(site)
    for http in clients:
        http.close()
    jobs.shutdown()


def _settle(site: Any, timeout: float = 120) -> None:
    """Wait for the jobs a write started (an ingest) to end: they change the database as they go."""
    from kartenn.stores.catalog import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with site.engine.connect() as conn:
            if not conn.execute(select(jobs.c.id).where(jobs.c.state.in_(("queued", "running")))).first():
                return
        time.sleep(0.2)
    raise AssertionError("a job did not end")


def fingerprint(site: Any) -> dict[str, str]:
    """A digest of every table (catalogue, accounts, features) and every file of the site."""
    digests: dict[str, str] = {}
    engine = site.engine
    names = inspect(engine)
    schemas = [s for s in names.get_schema_names() if s not in ("information_schema", "tiger", "topology")
               and not s.startswith("pg_")] if engine.dialect.name == "postgresql" else [None]
    with engine.connect() as conn:
        for schema in schemas:
            for table in names.get_table_names(schema=schema):
                if table in UNCHECKED or table.startswith(("spatial_ref_sys", "sqlite_", "idx_", "rtree_")):
                    continue
                name = f'"{schema}"."{table}"' if schema else f'"{table}"'
                rows = sorted(repr(tuple(r)) for r in conn.execute(text(f"SELECT * FROM {name}")))  # noqa: S608
                digests[f"{schema}.{table}"] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    data_dir = site.settings.data_dir
    database = getattr(site.settings, "catalog_path", None)
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if path.name.endswith(("-wal", "-shm", "-journal")) or path == database or path.suffix == ".sqlite":
            continue
        if path.suffix == ".gpkg":
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                                                   "NOT LIKE 'rtree_%' AND name NOT LIKE 'sqlite_%'")]
                rows = [repr(r) for t in sorted(tables) for r in sorted(db.execute(f'SELECT * FROM "{t}"'),
                                                                        key=repr)]
            digests[str(path.relative_to(data_dir))] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        else:
            digests[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _audit(site: Any) -> list[dict[str, Any]]:
    return site.accounts.audit_log(limit=1000)


def _versions(site: Any, record_id: str) -> int:
    from kartenn.stores.record_versions import history

    with site.engine.connect() as conn:
        return len(history(conn, record_id))


def _expected(write: Write, role: str) -> int:
    if role in write.status:
        return write.status[role]
    if role not in write.sees:
        return write.hidden
    return 401 if role == "anonymous" else 403


@pytest.mark.parametrize("route", sorted(WRITES, key=lambda r: (r[1], r[0])), ids=lambda r: f"{r[0]} {r[1]}")
def test_write_route_applies_the_rights(world, route):
    write, site = WRITES[route], world.site
    allowed = {write.by, *write.also}
    for role in ROLES:
        if role in allowed:
            continue
        before, audit = fingerprint(site), len(_audit(site))
        r = write.call(world.client(role), world)
        expected = write.status.get(role) or (400 if write.by is None else _expected(write, role))
        assert r.status_code == expected, (role, r.status_code, r.text[:500])
        _settle(site)
        after = fingerprint(site)
        assert after == before, (role, {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)})
        new = _audit(site)[:len(_audit(site)) - audit]
        assert all(e["event"] == "access.denied" for e in new), (role, new)
    if write.by is None:
        return
    for role in sorted(allowed):
        before, audit = fingerprint(site), len(_audit(site))
        versions = _versions(site, world.ids[write.record]) if write.record else 0
        r = write.call(world.client(role), world)
        assert 200 <= r.status_code < 300, (role, r.status_code, r.text[:500])
        _settle(site)
        assert fingerprint(site) != before, role
        user = USERS[role][0] if role in USERS else "root"
        assert any(e["actor"] == user and e["event"] != "access.denied"
                   for e in _audit(site)[:len(_audit(site)) - audit]), (role, "no audit line")
        if write.record:
            assert _versions(site, world.ids[write.record]) == versions + 1, (role, "no new version")


def test_resumable_upload_asks_the_rights_again(world):
    """An editor who is no longer one cannot finish the upload it started: nothing written, no job."""
    site = world.site
    site.accounts.set_membership("edith", "own", "member")
    before = fingerprint(site)
    r = WRITES[("PATCH", "/api/v1/uploads/resumable/{upload_id}")].call(world.client("owner_editor"), world)
    assert r.status_code == 403, r.text
    assert fingerprint(site) == before
