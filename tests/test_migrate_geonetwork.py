"""kartenn migrate geonetwork, on both stores, after kartenn migrate geoserver, with the GeoNetwork export of
tests/data/migration (its README's "Expected outcome" table is the target): records through CSW and OGC API Records
with their categories and thumbnail, who sees what with their old GeoServer passwords, the record of a migrated
layer as its dataset's record, the report, runs again, dry runs, bad input and scripts/export-geonetwork.sh."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from lxml import etree

from conftest import ROOT, AppServer, kartenn, kartenn_here, shared
from kartenn.domain.security import ANONYMOUS, OPERATOR
from kartenn.errors import NotFound
from kartenn.services import records as record_service
from kartenn.services import workflow
from kartenn.services.identity import authenticate_password
from kartenn.services.migration import migrate_geonetwork, migrate_geoserver

GEOSERVER = shared("migration/geoserver-datadir")
EXPORT = shared("migration/geonetwork")
CADASTRE = "955c3e47-411e-4969-b61b-3556d1b9f879"
DTM = "a2744b0c-becd-426a-95a8-46e9850ccc6d"
NS06 = "NS06agg"
PASSWORDS = {"admin": "geoserver", "jdupont": "Brest2018!", "mlefevre": "Quimper#29", "rtanguy": "Morlaix-2019"}
CSW = "{http://www.opengis.net/cat/csw/2.0.2}"
DC = "{http://purl.org/dc/elements/1.1/}"


@pytest.fixture(scope="module")
def migrated(module_site, module_settings):
    """GeoServer then GeoNetwork migrated once per store; the GeoNetwork report as JSON."""
    kartenn_here("migrate", "geoserver", str(GEOSERVER), "--data-dir", str(module_settings.data_dir),
                 settings=module_settings)
    out = kartenn_here("migrate", "geonetwork", str(EXPORT), "--data-dir", str(module_settings.data_dir), "--json",
                       settings=module_settings)
    return json.loads(out)


def _warnings(report: dict, source: str) -> list[str]:
    return [w["message"] for w in report["warnings"] if w["source"] == source]


def _thumbnail() -> bytes:
    with zipfile.ZipFile(EXPORT / "mef" / f"{CADASTRE}.mef") as mef:
        return mef.read(f"{CADASTRE}/public/cadastre_s.png")


def _csw_records(http, auth=None) -> dict[str, list[str]]:
    """Identifier → subjects of every record a CSW GetRecords (full Dublin Core) gives."""
    answer = http.get("/csw", auth=auth, params={
        "service": "CSW", "version": "2.0.2", "request": "GetRecords", "typeNames": "csw:Record",
        "resultType": "results", "elementSetName": "full", "maxRecords": "50"})
    assert answer.status_code == 200, answer.text
    root = etree.fromstring(answer.content)
    return {r.findtext(f"{DC}identifier"): [s.text for s in r.iter(f"{DC}subject")]
            for r in root.iter(f"{CSW}Record")}


def test_records_by_csw_and_ogc_api_records(module_server, migrated):
    with module_server.client() as http:
        found = _csw_records(http)
        assert {CADASTRE, DTM} <= set(found) and NS06 not in found
        assert {"datasets", "maps"} <= set(found[CADASTRE]) and "datasets" in found[DTM]
        item = http.get(f"/ogc/collections/catalog/items/{CADASTRE}", params={"f": "json"})
        assert item.status_code == 200
        feature = item.json()
        assert feature["properties"]["title"] == "Cadastre 2018 en Bretagne"
        assert {"datasets", "maps", "cadastre"} <= set(feature["properties"]["keywords"])
        scheme = [t for t in feature["properties"]["themes"] if t["scheme"] == "GeoNetwork categories"]
        assert [c["id"] for c in scheme[0]["concepts"]] == ["datasets", "maps"]
        preview = [link for link in feature["links"] if link["rel"] == "preview"]
        assert len(preview) == 1 and preview[0]["type"] == "image/png"
        image = http.get(preview[0]["href"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content == _thumbnail()
        # the link to the layer that did not come across is kept as it was
        assert any(link.get("name") == "sf:parcelles" for link in feature["links"])
        assert http.get(f"/ogc/collections/catalog/items/{NS06}", params={"f": "json"}).status_code == 404
        hidden = http.get(f"/api/v1/records/{NS06}/files/anything")
        assert hidden.status_code == 404 and "Traceback" not in hidden.text
        assert http.get(f"/api/v1/records/{CADASTRE}/files/other.png").status_code == 404


def test_who_sees_which_record_with_old_geoserver_passwords(module_site, module_server, migrated):
    with module_server.client() as http:
        seen = {user: set(_csw_records(http, (user, password))) for user, password in PASSWORDS.items()}
        anonymous = set(_csw_records(http))
        jdupont = http.get(f"/ogc/collections/catalog/items/{NS06}", params={"f": "json"},
                           auth=("jdupont", PASSWORDS["jdupont"]))
        assert jdupont.status_code == 200
    assert {CADASTRE, DTM} <= anonymous and NS06 not in anonymous
    assert NS06 in seen["jdupont"] and NS06 in seen["mlefevre"] and NS06 in seen["admin"]  # intranet, sig_bretagne
    assert NS06 not in seen["rtanguy"]  # a GeoServer user only: not of GeoNetwork's intranet
    users = {u["id"]: u for u in module_site.accounts.list_users()}
    assert set(users) == {"admin", "jdupont", "mlefevre", "rtanguy", "ancien_agent", "ua_bretagne", "visiteur"}
    assert users["jdupont"]["roles"] == {"role_editeur": "member", "sig_bretagne": "editor",
                                         "observatoire_littoral": "editor", "intranet": "member"}
    assert users["mlefevre"]["roles"]["sig_bretagne"] == "reviewer"
    assert users["ua_bretagne"]["roles"] == {"sig_bretagne": "admin", "intranet": "member"}
    assert users["visiteur"]["roles"] == {"sample": "member", "intranet": "member"}
    assert users["admin"]["admin"] and not users["ancien_agent"]["active"]
    assert module_site.accounts.get_user("visiteur")["password"] is None
    assert module_site.accounts.get_user("ua_bretagne")["name"] == "Gwenaëlle Le Bihan"
    orgs = {o["id"]: o["name"] for o in module_site.accounts.list_organisations()}
    assert orgs["sig_bretagne"] == "GIS Brittany" and "intranet" in orgs
    assert not {"all", "guest"} & set(orgs)
    # the record's owners: GeoNetwork's owner and group owner; its editors edit it
    assert module_site.accounts.owner_of("record", NS06)["org_id"] == "sig_bretagne"
    jean = module_site.seen_by(authenticate_password(module_site, "jdupont", PASSWORDS["jdupont"]))
    assert jean.may("edit", "record", CADASTRE)
    visiteur = module_site.seen_by(module_site.accounts.identity("visiteur"))
    assert not visiteur.may("edit", "record", CADASTRE) and visiteur.may("view", "record", NS06)


def test_the_dtm_record_is_the_datasets_record(module_site, module_server, migrated):
    view = module_site.seen_by(OPERATOR)
    dtm = view.catalog.get_dataset("dtm")
    assert dtm.record_id == DTM
    record = view.catalog.get_record(DTM)
    assert record.dataset_id == "dtm" and record.title == "DTM" and record.xml is not None
    assert [r.id for r in record_service.search_records(view, record_service.RecordQuery(q="DTM")).records
            if r.dataset_id == "dtm"] == [DTM]
    with module_server.client() as http:
        items = http.get("/ogc/collections/catalog/items", params={"f": "json", "limit": 100}).json()["features"]
        for_dtm = [f for f in items if f["id"] == DTM or "Modèle numérique" in f["properties"]["title"]]
        assert [f["id"] for f in for_dtm] == [DTM]  # one dataset, one record: the one made at publication is gone
        links = http.get(f"/ogc/collections/catalog/items/{DTM}", params={"f": "json"}).json()["links"]
        assert any(link["href"].endswith("/ogc/collections/dtm/tiles") for link in links)  # its data, served here
    created = {e["source"]: e for e in migrated["created"] if e["kind"] == "record"}
    assert set(created) == {CADASTRE, DTM, NS06} and "record of dataset dtm" in created[DTM]["detail"]


def test_report(migrated):
    assert set(migrated) == {"created", "updated", "skipped", "warnings"}
    assert any("GeoServer layer sf:parcelles, which was not migrated" in m and "link is kept" in m
               for m in _warnings(migrated, CADASTRE))
    for user in ("ua_bretagne", "visiteur"):
        assert any("no usable password" in m and "OpenID Connect" in m for m in _warnings(migrated, f"user {user}"))
    for user in ("jdupont", "mlefevre", "admin"):  # they keep their GeoServer password
        assert not any("password" in m for m in _warnings(migrated, f"user {user}"))
    sources = {e["source"] for e in migrated["created"] + migrated["updated"]}
    assert {"user jdupont", "user ua_bretagne", "group sig_bretagne", "group intranet", CADASTRE, NS06} <= sources
    merged = {e["source"]: e["detail"] for e in migrated["updated"]}
    assert merged["user jdupont"].startswith("merged with the account from GeoServer")
    assert any("edit to org observatoire_littoral" in m for m in _warnings(migrated, DTM))
    assert any("featured, notify" in m for m in _warnings(migrated, CADASTRE))


def test_former_geonetwork_paths_serve_records_and_their_files(module_settings, migrated):
    toml = module_settings.data_dir / "kartenn.toml"
    before = toml.read_text() if toml.exists() else None
    toml.write_text((before or "") + "\nformer_paths = true\n")
    served = AppServer(module_settings).start()
    try:
        with served.client() as http:
            assert http.get(f"/geonetwork/srv/api/records/{DTM}").json()["dataset_id"] == "dtm"
            for path, query in ((f"/geonetwork/srv/api/records/{CADASTRE}/attachments/cadastre_s.png", None),
                                ("/geonetwork/srv/fre/resources.get",
                                 {"uuid": CADASTRE, "fname": "cadastre_s.png", "access": "public"})):
                image = http.get(path, params=query)
                assert image.status_code == 200 and image.content == _thumbnail(), path
            assert http.get(f"/geonetwork/srv/api/records/{NS06}/attachments/x.png").status_code == 404
    finally:
        served.stop()
        if before is None:
            toml.unlink()
        else:
            toml.write_text(before)


def test_a_second_run_creates_nothing(module_site, module_settings, migrated):
    out = kartenn_here("migrate", "geonetwork", str(EXPORT), "--data-dir", str(module_settings.data_dir), "--json",
                       settings=module_settings)
    again = json.loads(out)
    assert again["created"] == [] and again["updated"] == []
    assert {e["source"] for e in again["skipped"] if e["kind"] == "record"} == {CADASTRE, DTM, NS06}
    assert module_site.catalog.count_records() == 7  # 5 datasets (dtm's is a2744b0c) and 2 records alone


# runs of their own -----------------------------------------------------------------------------------------------


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "geonetwork"
    shutil.copytree(EXPORT, root)
    return root


def test_dry_run_changes_nothing(site, settings, tmp_path):
    result = kartenn("migrate", "geonetwork", str(EXPORT), "--data-dir", str(settings.data_dir), "--dry-run",
                     "--json", settings=settings, check=True)
    report = json.loads(result.stdout)
    assert {e["source"] for e in report["created"] if e["kind"] == "record"} == {CADASTRE, DTM, NS06}
    assert "user jdupont" in {e["source"] for e in report["created"]}
    assert site.catalog.count_records() == 0 and site.accounts.list_users() == []
    assert site.accounts.list_organisations() == []
    text = kartenn("migrate", "geonetwork", str(EXPORT), "--data-dir", str(settings.data_dir), "--dry-run",
                   settings=settings, check=True).stdout
    assert "would create" in text and "Dry run: nothing changed" in text
    assert site.catalog.count_records() == 0


def test_public_record_on_a_restricted_layer_geonetwork_first(site, tmp_path):
    """GeoNetwork migrated before GeoServer, then again: the same accounts, and the record of sf:dtm becomes the
    dataset's record when the layer comes; the layer restricted in GeoServer, the record is not public."""
    root = tmp_path / "geoserver"
    shutil.copytree(GEOSERVER, root)
    for folder in (root / "workspaces").iterdir():
        if folder.name != "sf":
            shutil.rmtree(folder)
    rules = root / "security" / "layers.properties"
    rules.write_text(rules.read_text(encoding="latin-1") + "\nsf.dtm.r=ROLE_AGENT\n", encoding="latin-1")
    operator = site.seen_by(OPERATOR)
    first = migrate_geonetwork(operator, EXPORT)
    assert any("sf:dtm, which was not migrated" in w.message for w in first.warnings if w.source == DTM)
    assert record_service.get_record(site.seen_by(ANONYMOUS), DTM).dataset_id is None  # public, standing alone
    geoserver = migrate_geoserver(operator, root)
    merged = {e.source: e.detail for e in geoserver.updated if e.kind == "user"}
    assert merged["user jdupont"].startswith("merged with the account from GeoNetwork")
    assert not site.accounts.get_user("ancien_agent")["active"]
    jean = authenticate_password(site, "jdupont", PASSWORDS["jdupont"])  # GeoServer's password, now his
    assert jean.roles["sig_bretagne"] == "editor" and jean.roles["role_editeur"] == "member"
    assert site.accounts.get_user("jdupont")["name"] == "Jean Dupont"
    report = migrate_geonetwork(operator, EXPORT)
    assert [(e.source, e.target) for e in report.updated if e.kind == "record"] == [(DTM, DTM)]
    assert any(m.startswith("public in GeoNetwork, but the GeoServer layer sf:dtm is restricted") for m in
               [w.message for w in report.warnings if w.source == DTM])
    assert site.catalog.get_dataset("dtm").record_id == DTM and site.catalog.count_records() == 3
    assert site.accounts.grants_of("record", DTM) == []  # it follows the dataset's rights now
    with pytest.raises(NotFound):
        record_service.get_record(site.seen_by(ANONYMOUS), DTM)
    agent = site.seen_by(authenticate_password(site, "rtanguy", PASSWORDS["rtanguy"]))
    assert record_service.get_record(agent, DTM).title == "DTM"
    # the layer changed in GeoServer since: the dataset is published again, keeping GeoNetwork's record whole
    coverage = root / "workspaces/sf/sfdem/dtm/coverage.xml"
    coverage.write_text(coverage.read_text().replace("Modèle numérique de terrain", "MNT"))
    again = migrate_geoserver(operator, root)
    assert [(e.source, e.target) for e in again.updated if e.kind == "dataset"] == [("sf:dtm", "dtm")]
    dtm = site.catalog.get_dataset("dtm")
    assert dtm.title.startswith("MNT") and dtm.record_id == DTM
    record = site.catalog.get_record(DTM)
    assert (record.title, record.dataset_id, "datasets" in record.keywords) == ("DTM", "dtm", True)
    assert site.catalog.count_records() == 3  # DTM and the 2 records standing alone
    assert migrate_geonetwork(operator, EXPORT).updated == []


def test_runs_again_update_what_changed(site, tmp_path):
    root = _copy(tmp_path)
    mef = root / "mef" / f"{NS06}.mef"
    with zipfile.ZipFile(mef, "a") as archive:
        archive.writestr(f"{NS06}/private/mesures.csv", "date;temperature\n2015-08-20;28.1\n")
    operator = site.seen_by(OPERATOR)
    first = migrate_geonetwork(operator, root)
    # no GeoServer migration here: the record of dtm stands alone, with its link, and says so
    assert any("sf:dtm, which was not migrated" in w.message for w in first.warnings if w.source == DTM)
    members = site.seen_by(site.accounts.identity("ua_bretagne"))  # sig_bretagne, which owns the record
    assert record_service.record_file(members, NS06, "mesures.csv").data.startswith(b"date;temperature")
    visiteur = site.seen_by(site.accounts.identity("visiteur"))  # intranet: view only
    assert record_service.get_record(visiteur, NS06).title.startswith("PacIOOS")
    with pytest.raises(NotFound):
        record_service.record_file(visiteur, NS06, "mesures.csv")
    again = migrate_geonetwork(operator, root)
    assert again.created == [] and again.updated == []
    # NS06agg made public at the source: the grant comes across, nothing is made twice
    sharing = root / "api" / "sharing" / f"{NS06}.json"
    data = json.loads(sharing.read_text())
    data["privileges"][2]["operations"]["view"] = True
    sharing.write_text(json.dumps(data))
    report = migrate_geonetwork(operator, root)
    assert [(e.source, e.kind) for e in report.updated] == [(NS06, "record")] and report.created == []
    assert record_service.get_record(site.seen_by(ANONYMOUS), NS06).id == NS06
    assert site.catalog.count_records() == 3
    # a record changed in Kartenn since is reported and kept, unless --overwrite
    workflow.edit(operator, NS06, fields={"title": "Capteur NS06 (revu)"})
    data["privileges"][1]["operations"]["download"] = True
    sharing.write_text(json.dumps(data))
    kept = migrate_geonetwork(operator, root)
    assert any(e.source == NS06 and "changed in Kartenn" in e.detail for e in kept.skipped)
    assert any("not replaced (--overwrite replaces it)" in w.message for w in kept.warnings if w.source == NS06)
    assert site.catalog.get_record(NS06).title == "Capteur NS06 (revu)"
    replaced = migrate_geonetwork(operator, root, overwrite=True)
    assert [e.source for e in replaced.updated] == [NS06]
    assert site.catalog.get_record(NS06).title.startswith("PacIOOS")
    assert len(site.accounts.list_users()) == 6


def test_bad_input_is_reported_and_the_rest_goes_on(site, settings, tmp_path):
    root = _copy(tmp_path)
    (root / "mef" / "broken.mef").write_bytes(b"not a zip")
    with zipfile.ZipFile(root / "mef" / f"{DTM}.mef") as archive:
        metadata = archive.read(f"{DTM}/metadata/metadata.xml")
    with zipfile.ZipFile(root / "mef" / "entities.mef", "w") as archive:
        archive.writestr("x/info.xml", "<!DOCTYPE i [<!ENTITY e 'y'>]><info>&e;</info>")
        archive.writestr("x/metadata/metadata.xml", metadata)
    (root / "api" / "users" / "5-groups.json").write_text("[{")
    report = migrate_geonetwork(site.seen_by(OPERATOR), root).as_dict()
    messages = " | ".join(f"{w['source']}: {w['message']}" for w in report["warnings"])
    assert "broken.mef: broken.mef: not a readable zip archive" in messages
    assert "entities.mef:x/: XML with a DOCTYPE declaring entities is refused" in messages
    assert "user visiteur: api/users/5-groups.json is not JSON" in messages
    assert {e["source"] for e in report["created"] if e["kind"] == "record"} == {CADASTRE, DTM, NS06}
    result = kartenn("migrate", "geonetwork", str(tmp_path / "nowhere"), "--data-dir", str(settings.data_dir),
                     settings=settings)
    assert result.returncode == 1 and "is not a GeoNetwork export" in result.stderr
    assert "Traceback" not in result.stderr


# scripts/export-geonetwork.sh --------------------------------------------------------------------------------------

SCRIPT = ROOT / "scripts" / "export-geonetwork.sh"


class _GeoNetwork(SimpleHTTPRequestHandler):
    """GeoNetwork's API over the export of tests/data (as /srv/api/…), for the export script: 4.x finds records
    with Elasticsearch, 3.x with /srv/eng/q."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        self.server.seen.append((self.command, path, self.headers.get("Authorization")))
        api = "/geonetwork/srv/api/"
        uuids = [CADASTRE, DTM, NS06]
        body: bytes | None = None
        if path == f"{api}users":
            body = (EXPORT / "api" / "users.json").read_bytes()
        elif path == f"{api}groups":
            body = (EXPORT / "api" / "groups.json").read_bytes()
        elif path.startswith(f"{api}users/") and path.endswith("/groups"):
            found = EXPORT / "api" / "users" / f"{path.split('/')[-2]}-groups.json"
            body = found.read_bytes() if found.is_file() else None
        elif path == f"{api}search/records/_search" and self.server.version == 4:
            hits = [{"_id": u, "_source": {"uuid": u}} for u in uuids]
            body = json.dumps({"hits": {"total": {"value": 3}, "hits": hits}}).encode()
        elif path == "/geonetwork/srv/eng/q" and self.server.version == 3 and query.get("_content_type") == ["json"]:
            found = [{"title": u, "geonet:info": {"id": str(i), "uuid": u}} for i, u in enumerate(uuids)]
            body = json.dumps({"@from": "1", "@to": "3", "summary": {"@count": "3"}, "metadata": found}).encode()
        elif path.startswith(f"{api}records/") and path.endswith("/sharing"):
            found = EXPORT / "api" / "sharing" / f"{path.split('/')[-2]}.json"
            body = found.read_bytes() if found.is_file() else None
        elif path.startswith(f"{api}records/") and path.endswith("/formatters/zip"):
            found = EXPORT / "mef" / f"{path.split('/')[-3]}.mef"
            body = found.read_bytes() if found.is_file() and query.get("withRelated") == ["false"] else None
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(params=[4, 3])
def geonetwork(request):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_GeoNetwork, directory=str(EXPORT)))
    server.seen, server.version = [], request.param
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _path_without_jq(tmp_path: Path) -> str:
    """A PATH with the commands the script runs, but jq: it reads JSON with python3 then."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python3").symlink_to(sys.executable)
    for name in ("sh", "curl", "mktemp", "rm", "sed", "awk", "cat", "wc", "tr", "mkdir", "printf"):
        found = shutil.which(name)
        if found:
            (folder / name).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("reader", ["jq", "python3"])
def test_export_script_saves_the_folder_the_migration_reads(geonetwork, tmp_path, reader):
    if reader == "jq" and not shutil.which("jq"):
        pytest.skip("jq is not installed")
    url = f"http://127.0.0.1:{geonetwork.server_address[1]}/geonetwork"
    out = tmp_path / "export"
    env = {"PATH": _path_without_jq(tmp_path)} if reader == "python3" else None
    result = subprocess.run(["sh", str(SCRIPT), url, "admin", "secret", str(out)], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert _files(out) == _files(EXPORT)
    assert all(auth == "Basic YWRtaW46c2VjcmV0" for _, _, auth in geonetwork.seen)  # admin:secret
    assert "3 records" in result.stdout
    # the arguments: URL and OUT, or URL USER PASSWORD OUT; anything else is a usage error
    for args in ([], [url], [url, "admin", str(out)], [url, "a", "b", "c", "d"]):
        wrong = subprocess.run(["sh", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)
        assert wrong.returncode == 2 and "usage: export-geonetwork.sh URL [USER PASSWORD] OUT" in wrong.stderr
    unreachable = subprocess.run(["sh", str(SCRIPT), f"{url}/nowhere", str(tmp_path / "none")],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 1 and "/nowhere/srv/api/users" in unreachable.stderr


def test_export_script_is_clean_shell():
    assert subprocess.run(["sh", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    if shutil.which("shellcheck"):
        checked = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
