"""kartenn migrate geoserver, on both stores, with the GeoServer data directory of tests/data/migration (its README's
"Expected outcome" table is the target): data, French text, styles, the layer group, people, passwords and who sees
what, through the services and HTTP as clients see them; the report; dry runs; runs again; bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyogrio
import pytest

from conftest import AppServer, kartenn, kartenn_here, shared
from kartenn.domain.security import ANONYMOUS, OPERATOR
from kartenn.errors import Unauthorized
from kartenn.services import features, maps, styles, workflow
from kartenn.services.identity import authenticate_password, geoserver_digest_matches
from kartenn.services.migration import migrate_geoserver
from kartenn.services.migration.data import code_page

DATADIR = shared("migration/geoserver-datadir")
PASSWORDS = {"admin": "geoserver", "jdupont": "Brest2018!", "mlefevre": "Quimper#29", "rtanguy": "Morlaix-2019",
             "ancien_agent": "obsolete"}
LAYERS = {"countries", "populated_places", "departements", "regions", "dtm"}
PUBLIC = {"countries", "populated_places", "regions", "dtm"}


@pytest.fixture(scope="module")
def migrated(module_site, module_settings):
    """The fixture data directory migrated once per store; the report as JSON."""
    out = kartenn_here("migrate", "geoserver", str(DATADIR), "--data-dir", str(module_settings.data_dir), "--json",
                       settings=module_settings)
    return json.loads(out)


def _warnings(report: dict, source: str) -> list[str]:
    return [w["message"] for w in report["warnings"] if w["source"] == source]


def _visible(site, identity) -> set[str]:
    return {d.id for d in site.seen_by(identity).catalog.list_datasets()}


def test_layers_come_with_their_data_and_french_text(module_site, migrated):
    view = module_site.seen_by(OPERATOR)
    found = {d.id: d for d in view.catalog.list_datasets()}
    assert set(found) == LAYERS
    assert {k: found[k].count for k in LAYERS - {"dtm"}} == {"countries": 177, "populated_places": 243,
                                                            "departements": 96, "regions": 13}
    dtm = found["dtm"]
    assert (dtm.kind, dtm.raster["width"], dtm.raster["height"], dtm.srid) == ("raster", 283, 259, 26918)
    assert found["departements"].title == "Départements de France métropolitaine"
    assert found["regions"].title == "Régions françaises (2016)"
    assert found["dtm"].title == "Modèle numérique de terrain (lidar, 2 m)"
    assert found["countries"].title == "Pays du monde"
    record = view.catalog.get_record(found["departements"].record_id)
    assert record.abstract.startswith("Limites des 96 départements métropolitains")
    assert record.keywords == ["départements", "limites administratives", "France", "IGN"]
    created = {e["source"]: e["target"] for e in migrated["created"] if e["kind"] == "dataset"}
    assert created == {"ne:countries": "countries", "ne:populated_places": "populated_places", "sf:dtm": "dtm",
                       "topp:departements": "departements", "topp:regions": "regions"}


def test_unreachable_postgis_and_service_rules_are_reported(migrated):
    assert any("cannot reach PostGIS 127.0.0.1:5432/gis" in m and "sf:cadastre_pg" in m
               for m in _warnings(migrated, "sf:parcelles"))
    assert not any(e["source"] == "sf:parcelles" for s in ("created", "updated") for e in migrated[s])
    services = _warnings(migrated, "services.properties")
    assert any(m.startswith("wfs.Transaction=ROLE_EDITEUR,ADMIN") for m in services)
    assert any(m.startswith("wcs=ROLE_AGENT,ROLE_EDITEUR,ADMIN") for m in services)
    assert any("GROUP_ADMIN" in w["source"] for w in migrated["warnings"])
    # what the SLD import could not keep is reported, naming the style
    assert any("PERSONS" in m for m in _warnings(migrated, "style pophatch"))


def test_report_shape(migrated):
    assert set(migrated) == {"created", "updated", "skipped", "warnings"}
    for entry in migrated["created"]:
        assert set(entry) == {"source", "kind", "target", "detail"}
    sources = {e["source"] for e in migrated["created"]}
    assert {"user jdupont", "style ne:countries", "style point", "ne:world", "role ROLE_EDITEUR",
            "workspace topp"} <= sources
    assert all(set(w) == {"source", "message"} for w in migrated["warnings"])


def test_styles_default_and_alternates(module_site, migrated):
    view = module_site.seen_by(OPERATOR)

    def styles_of(dataset_id):
        ds = view.catalog.get_dataset(dataset_id)
        return styles.default_name(ds), sorted(styles.styles_of(view, ds))

    assert styles_of("countries") == ("countries", ["countries", "pophatch"])
    assert styles_of("populated_places") == ("populated_places", ["point", "populated_places"])
    assert styles_of("departements") == ("restricted", ["pophatch", "restricted"])
    assert styles_of("regions") == ("pophatch", ["pophatch"])
    assert styles_of("dtm") == ("dem", ["dem"])
    places = styles.style_for(view, view.catalog.get_dataset("populated_places"), "populated_places")
    assert len(places.rules) == 5 and sum(1 for r in places.rules if r.min_scale or r.max_scale) == 5
    # pophatch names attributes these layers lack (PERSONS, STATE_ABBR): as GeoServer, only its lines are drawn
    pophatch = styles.style_for(view, view.catalog.get_dataset("regions"), "pophatch")
    assert [(r.title, [s.kind for s in r.symbolizers]) for r in pophatch.rules] == [("Boundary", ["line"])]
    assert "a label of rule 'Boundary' left out: the data has no attribute STATE_ABBR (departements)" in \
           _warnings(migrated, "style pophatch")
    # countries.sld's label rules name attributes the fixture's data lacks (its columns are in lower case)
    assert {m for m in _warnings(migrated, "style ne:countries") if "left out: the data" in m} == {
        "rule #3 left out: the data has no attribute MIN_ZOOM, NAME_LEN (countries)",
        "rule #4 left out: the data has no attribute MIN_ZOOM (countries)",
        "rule #5 left out: the data has no attribute MIN_ZOOM (countries)",
        "a label of rule #6 left out: the data has no attribute NAME (countries)"}


def test_layer_group_is_a_saved_map(module_site, migrated):
    found = [m for m in maps.list_maps(module_site.seen_by(ANONYMOUS)) if m["title"] == "World Map"]
    assert len(found) == 1 and found[0]["public"] and found[0]["org"] == "ne"
    body = maps.get(module_site.seen_by(ANONYMOUS), found[0]["id"])["body"]
    assert [(layer["dataset"], layer["style"]) for layer in body["layers"]] == [
        ("countries", "countries"), ("populated_places", None)]


def test_people_roles_and_organisations(module_site, migrated):
    users = {u["id"]: u for u in module_site.accounts.list_users()}
    assert set(users) == set(PASSWORDS)
    assert users["admin"]["admin"] and not users["ancien_agent"]["active"]
    assert users["jdupont"]["roles"] == {"role_editeur": "member"}
    # ROLE_CADASTRE (direct) inherits ROLE_EDITEUR, which EDITEURS_SIG gives as well
    assert set(users["mlefevre"]["roles"]) == {"group_admin", "role_cadastre", "role_editeur"}
    assert users["rtanguy"]["roles"] == {"role_agent": "member"}
    assert module_site.accounts.get_user("mlefevre")["name"] == "Marie Lefèvre"
    orgs = {o["id"]: o["name"] for o in module_site.accounts.list_organisations()}
    assert orgs["role_agent"] == "Conseil départemental" and {"ne", "sf", "topp"} <= set(orgs)
    assert module_site.accounts.owner_of("dataset", "departements")["org_id"] == "topp"


def test_the_same_people_see_and_edit_the_same_layers(module_site, migrated):
    assert _visible(module_site, ANONYMOUS) == PUBLIC
    seen = {}
    for user in ("admin", "jdupont", "mlefevre", "rtanguy"):
        identity = authenticate_password(module_site, user, PASSWORDS[user])
        view = module_site.seen_by(identity)
        seen[user] = (_visible(module_site, identity), {d for d in LAYERS if view.may("edit", "dataset", d)})
    assert seen["admin"] == (LAYERS, LAYERS)
    assert seen["rtanguy"] == (LAYERS, set())  # ROLE_AGENT through LECTEURS_CADASTRE reads departements
    assert seen["jdupont"] == (LAYERS, set())  # ROLE_EDITEUR reads it; wfs.Transaction is a service rule
    assert seen["mlefevre"] == (LAYERS, LAYERS)  # GROUP_ADMIN writes everything (*.*.w)
    with pytest.raises(Unauthorized, match="disabled"):
        authenticate_password(module_site, "ancien_agent", PASSWORDS["ancien_agent"])
    with pytest.raises(Unauthorized):
        authenticate_password(module_site, "jdupont", "Brest2019!")
    # the kept GeoServer digest was replaced by an argon2id hash at the first login, which keeps working
    assert module_site.accounts.get_user("rtanguy")["password"].startswith("$argon2id$")
    assert authenticate_password(module_site, "rtanguy", PASSWORDS["rtanguy"]).user == "rtanguy"


def test_old_passwords_over_http(module_site, module_server, migrated):
    with module_server.client() as http:
        anonymous = {c["id"] for c in http.get("/ogc/collections", params={"f": "json"}).json()["collections"]}
        assert anonymous & LAYERS == PUBLIC
        assert http.get("/ogc/collections/departements", params={"f": "json"}).status_code == 404
        agent = http.get("/ogc/collections", params={"f": "json"}, auth=("rtanguy", PASSWORDS["rtanguy"]))
        assert agent.status_code == 200
        assert {c["id"] for c in agent.json()["collections"]} & LAYERS == LAYERS
        items = http.get("/ogc/collections/departements/items", params={"f": "json", "limit": 1},
                         auth=("jdupont", PASSWORDS["jdupont"]))
        assert items.status_code == 200 and items.json()["numberMatched"] == 96
        assert http.get("/ogc/collections", auth=("jdupont", "wrong password")).status_code == 401


def test_geoserver_digests():
    admin = "digest1:D9miJH/hVgfxZJscMafEtbtliG0ROxhLfsznyWfG38X2pda2JOSV4POi55PQI4tw"
    assert geoserver_digest_matches(admin, "geoserver")
    assert not geoserver_digest_matches(admin, "geoserver ")
    assert not geoserver_digest_matches("digest1:not base64!", "geoserver")
    assert (code_page("windows-1252"), code_page("Cp1252"), code_page("ISO-8859-1"), code_page("UTF-8")) == \
        ("1252", "1252", "88591", "UTF-8")


# runs of their own, on a copy of (part of) the data directory --------------------------------------------------


def _copy(tmp_path: Path, *workspaces: str) -> Path:
    """The data directory with only ``workspaces`` (and their data), its styles and security."""
    root = tmp_path / "geoserver"
    shutil.copytree(DATADIR, root)
    for folder in (root / "workspaces").iterdir():
        if folder.name not in workspaces:
            shutil.rmtree(folder)
    return root


def test_windows_1252_shapefile_without_cpg(site, tmp_path):
    root = _copy(tmp_path, "topp")
    folder = root / "data" / "admin_express"
    frame = pyogrio.read_dataframe(folder / "departements.shp")
    for path in folder.glob("departements.*"):
        path.unlink()
    pyogrio.write_dataframe(frame, folder / "departements.shp", encoding="cp1252")
    (folder / "departements.cpg").unlink(missing_ok=True)
    dbf = bytearray((folder / "departements.dbf").read_bytes())
    dbf[29] = 0  # no language driver either: only the store's charset says how to read the names
    (folder / "departements.dbf").write_bytes(bytes(dbf))
    assert "Finistère".encode("cp1252") in dbf
    store = root / "workspaces" / "topp" / "admin_express" / "datastore.xml"
    store.write_text(store.read_text().replace(">UTF-8<", ">windows-1252<"), encoding="utf-8")
    report = migrate_geoserver(site.seen_by(OPERATOR), root)
    assert {e["target"] for e in report.as_dict()["created"] if e["kind"] == "dataset"} == {"departements", "regions"}
    view = site.seen_by(OPERATOR)
    rows = features.page(view, view.catalog.get_dataset("departements"), features.ItemQuery(limit=200)).rows
    names = {row["properties"]["nom"] for row in rows}
    assert {"Finistère", "Côtes-d'Armor", "Ardèche"} <= names


def test_dry_run_changes_nothing(site, settings, tmp_path):
    result = kartenn("migrate", "geoserver", str(_copy(tmp_path, "topp")), "--data-dir", str(settings.data_dir),
                     "--dry-run", "--json", settings=settings, check=True)
    report = json.loads(result.stdout)
    assert {e["target"] for e in report["created"] if e["kind"] == "dataset"} == {"departements", "regions"}
    assert "user jdupont" in {e["source"] for e in report["created"]}
    assert site.catalog.list_datasets() == [] and site.accounts.list_users() == []
    assert site.accounts.list_organisations() == []
    text = kartenn("migrate", "geoserver", str(tmp_path / "geoserver"), "--data-dir", str(settings.data_dir),
                   "--dry-run", settings=settings, check=True).stdout
    assert "would create" in text and "Dry run: nothing changed" in text
    assert site.catalog.list_datasets() == []


def test_runs_again_update_what_changed(site, tmp_path):
    root = _copy(tmp_path, "topp")
    operator = site.seen_by(OPERATOR)
    migrate_geoserver(operator, root)
    again = migrate_geoserver(operator, root)
    assert again.created == [] and again.updated == []
    assert sorted(d.id for d in site.catalog.list_datasets()) == ["departements", "regions"]
    # a new title at the source comes across; the dataset keeps its id, its rights and its styles
    featuretype = root / "workspaces/topp/admin_express/regions/featuretype.xml"
    featuretype.write_text(featuretype.read_text().replace("Régions françaises (2016)", "Régions (2016)"))
    report = migrate_geoserver(operator, root)
    assert [(e.source, e.target) for e in report.updated if e.kind == "dataset"] == [("topp:regions", "regions")]
    assert site.catalog.get_dataset("regions").title == "Régions (2016)"
    assert sorted(d.id for d in site.catalog.list_datasets()) == ["departements", "regions"]
    assert _visible(site, ANONYMOUS) == {"regions"}
    # a dataset changed in Kartenn since is reported and kept, unless --overwrite
    record_id = site.catalog.get_dataset("departements").record_id
    workflow.edit(operator, record_id, fields={"abstract": "Revu dans Kartenn"})
    featuretype = root / "workspaces/topp/admin_express/departements/featuretype.xml"
    featuretype.write_text(featuretype.read_text().replace("France métropolitaine", "France"))
    kept = migrate_geoserver(operator, root)
    assert any(e.source == "topp:departements" and "changed in Kartenn" in e.detail for e in kept.skipped)
    assert site.catalog.get_dataset("departements").title == "Départements de France métropolitaine"
    replaced = migrate_geoserver(operator, root, overwrite=True)
    assert [e.target for e in replaced.updated if e.kind == "dataset"] == ["departements"]
    assert site.catalog.get_dataset("departements").title == "Départements de France"
    assert len(site.accounts.list_users()) == len(PASSWORDS)


def test_bad_input_is_reported_and_the_rest_goes_on(site, settings, tmp_path):
    root = _copy(tmp_path, "topp", "sf")
    (root / "workspaces/topp/admin_express/regions/featuretype.xml").write_text("<featureType><title>Régions")
    (root / "data/sf/dtm.tif").unlink()
    roles = "<!DOCTYPE r [<!ENTITY x 'y'>]><roleRegistry>&x;</roleRegistry>"
    (root / "security/role/default/roles.xml").write_text(roles)
    users = root / "security/usergroup/default/users.xml"
    users.write_text(users.read_text().replace("<users>", '<users><user enabled="true" name="stagiaire" '
                                               'password="plain:court"/><user name="invite" password="crypt1:x/Y"/>'))
    report = migrate_geoserver(site.seen_by(OPERATOR), root).as_dict()
    assert [d.id for d in site.catalog.list_datasets()] == ["departements"]
    messages = " | ".join(f"{w['source']}: {w['message']}" for w in report["warnings"])
    assert "topp:regions: workspaces/topp/admin_express/regions/featuretype.xml: malformed XML" in messages
    assert "sf:dtm: not migrated: its data file" in messages and "is missing" in messages
    assert "roles: security/role/default/roles.xml: XML with a DOCTYPE declaring entities is refused" in messages
    # a plain password is hashed (short as it is: not a new one); an encrypted one cannot come across
    assert authenticate_password(site, "stagiaire", "court").user == "stagiaire"
    assert site.accounts.get_user("invite")["password"] is None
    assert "log in through OpenID Connect or set a password" in " ".join(_warnings(report, "user invite"))
    result = kartenn("migrate", "geoserver", str(tmp_path / "nowhere"), "--data-dir", str(settings.data_dir),
                     settings=settings)
    assert result.returncode == 1 and "is not a GeoServer data directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_reachable_postgis_table_is_copied(site, tmp_path, pg_cluster):
    import psycopg

    database = f"gis_{tmp_path.name[-12:].replace('-', '_').lower()}"
    url = pg_cluster.create_database(database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE parcelles (id integer PRIMARY KEY, section text, surface numeric, "
                     "geom geometry(Polygon, 4326))")
        conn.execute("INSERT INTO parcelles VALUES "
                     "(1, 'AB', 120.5, 'SRID=4326;POLYGON((-4.5 48.4,-4.49 48.4,-4.49 48.41,-4.5 48.4))'), "
                     "(2, 'Ç', NULL, 'SRID=4326;POLYGON((-4.4 48.4,-4.39 48.4,-4.39 48.41,-4.4 48.4))')")
    root = _copy(tmp_path, "sf")
    store = root / "workspaces/sf/cadastre_pg/datastore.xml"
    text = store.read_text().replace('"port">5432<', f'"port">{pg_cluster.port}<')
    text = text.replace('"database">gis<', f'"database">{database}<').replace('"user">gis<', '"user">postgres<')
    store.write_text(text.replace('"passwd">gis<', '"passwd"><'))
    report = migrate_geoserver(site.seen_by(OPERATOR), root)
    said = [w.message for w in report.warnings if w.source == "sf:parcelles"]
    assert len(said) == 1 and said[0].startswith("GeoServer declares the bounding box -5.14026, 47.278")
    parcelles = site.catalog.get_dataset("parcelles")
    assert (parcelles.count, parcelles.srid, parcelles.title) == (2, 4326, "Parcelles cadastrales")
    assert styles.default_name(parcelles) == "restricted"
    rows = features.page(site.seen_by(OPERATOR), parcelles, features.ItemQuery()).rows
    assert {row["properties"]["section"] for row in rows} == {"AB", "Ç"}
    assert "parcelles" not in _visible(site, ANONYMOUS)
    marie = authenticate_password(site, "mlefevre", PASSWORDS["mlefevre"])  # ROLE_CADASTRE
    assert site.seen_by(marie).may("edit", "dataset", "parcelles")
    assert "parcelles" not in _visible(site, authenticate_password(site, "jdupont", PASSWORDS["jdupont"]))
    # a row more in the table: the dataset is published again, in place
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO parcelles VALUES "
                     "(3, 'ZK', 8, 'SRID=4326;POLYGON((-4.3 48.4,-4.29 48.4,-4.29 48.41,-4.3 48.4))')")
    again = migrate_geoserver(site.seen_by(OPERATOR), root)
    assert [e.target for e in again.updated if e.kind == "dataset"] == ["parcelles"]
    assert site.catalog.get_dataset("parcelles").count == 3


def test_old_layer_names_keep_working(module_server, migrated):
    """GeoServer's layer names (ws:layer) in WMS, WFS and WMTS requests, for the clients still set up with them;
    a restricted layer stays hidden under its old name too."""
    getmap = {"service": "WMS", "version": "1.3.0", "request": "GetMap", "styles": "", "crs": "EPSG:4326",
              "bbox": "41,-5,51,10", "width": 64, "height": 64, "format": "image/png"}
    with module_server.client() as http:
        r = http.get("/wms", params={**getmap, "layers": "ne:countries"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        hidden = http.get("/wms", params={**getmap, "layers": "topp:departements"})
        assert hidden.status_code == 400 and b"LayerNotDefined" in hidden.content
        agent = http.get("/wms", params={**getmap, "layers": "topp:departements"},
                         auth=("rtanguy", PASSWORDS["rtanguy"]))
        assert agent.status_code == 200 and agent.headers["content-type"] == "image/png"
        assert b"LayerNotDefined" in http.get("/wms", params={**getmap, "layers": "ne:nothing"}).content
        features = http.get("/wfs", params={"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                                            "typeNames": "topp:regions", "outputFormat": "application/json"})
        assert features.status_code == 200 and features.json()["numberMatched"] == 13
        tile = http.get("/wmts", params={"service": "WMTS", "version": "1.0.0", "request": "GetTile",
                                         "layer": "ne:countries", "style": "countries", "format": "image/png",
                                         "tilematrixset": "WebMercatorQuad", "tilematrix": "0", "tilerow": "0",
                                         "tilecol": "0"})
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/png", tile.text


def test_former_paths_answer_when_the_site_says_so(module_site, module_settings, migrated):
    """With former_paths = true, GeoServer's and GeoNetwork's service paths answer as Kartenn's own; a workspace's
    virtual service takes its layers' short names."""
    toml = module_settings.data_dir / "kartenn.toml"
    before = toml.read_text() if toml.exists() else None
    toml.write_text((before or "") + "\nformer_paths = true\n")
    served = AppServer(module_settings).start()
    try:
        getmap = {"service": "WMS", "version": "1.1.1", "request": "GetMap", "styles": "", "srs": "EPSG:4326",
                  "bbox": "-5,41,10,51", "width": 64, "height": 64, "format": "image/png"}
        with served.client() as http:
            assert http.get("/geoserver/wms", params={**getmap, "layers": "ne:countries"}).headers[
                "content-type"] == "image/png"
            assert http.get("/geoserver/ne/wms", params={**getmap, "layers": "countries"}).headers[
                "content-type"] == "image/png"
            caps = http.get("/geoserver/ows", params={"service": "WFS", "request": "GetCapabilities"})
            assert caps.status_code == 200 and b"WFS_Capabilities" in caps.content
            csw = http.get("/geonetwork/srv/eng/csw", params={"service": "CSW", "request": "GetCapabilities"})
            assert csw.status_code == 200 and b"Capabilities" in csw.content
            record = module_site.catalog.get_dataset("countries").record_id
            assert http.get(f"/geonetwork/srv/api/records/{record}").json()["id"] == record
            iso = http.get(f"/geonetwork/srv/api/records/{record}/formatters/xml")
            assert iso.status_code == 200 and b"MD_Metadata" in iso.content
            assert http.get("/geoserver/nothing").status_code == 404
    finally:
        served.stop()
        if before is None:
            toml.unlink()
        else:
            toml.write_text(before)
    plain = AppServer(module_settings).start()  # off by default
    try:
        with plain.client() as http:
            assert http.get("/geoserver/wms", params={"service": "WMS", "request": "GetCapabilities"}).status_code \
                == 404
    finally:
        plain.stop()


def test_a_dry_run_reports_what_the_real_run_does(site, tmp_path):
    """The same styles made, refused and warned about: a dry run reads each SLD against the attributes the
    layer's data has, as the real run does."""
    root = _copy(tmp_path, "ne", "topp", "sf")
    layer = root / "workspaces" / "topp" / "admin_express" / "regions" / "layer.xml"
    layer.write_text(layer.read_text().replace(  # a raster style as an alternate of a vector layer: refused
        "  <resource ", '  <styles class="linked-hash-set"><style><id>StyleInfoImpl--d1cb3e0:1565b545728:-7fca</id>'
        "</style></styles>\n  <resource "))
    operator = site.seen_by(OPERATOR)
    dry = migrate_geoserver(operator, root, dry_run=True).as_dict()
    assert site.catalog.list_datasets() == []
    real = migrate_geoserver(operator, root).as_dict()

    def styles_made(report):
        return sorted((e["source"], e["target"], e["detail"]) for e in report["created"] if e["kind"] == "style")

    def warnings(report):
        return sorted((w["source"], w["message"]) for w in report["warnings"])

    assert styles_made(dry) == styles_made(real)
    assert warnings(dry) == warnings(real)
    refused = [w for w in warnings(real) if "not used for" in w[1]]
    assert refused == [("style dem", "not used for regions: regions is vector data: give it a vector style (rules)")]
    assert len(styles_made(real)) == 8
    assert [(e["source"], e["kind"]) for e in dry["created"]] == [(e["source"], e["kind"]) for e in real["created"]]
