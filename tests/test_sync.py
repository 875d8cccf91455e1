"""kartenn sync between two sites on 127.0.0.1: the source a real ``kartenn serve`` process over an embedded site
(one for the module), the target a site on each store; the command runs as a user runs it, and what it did is read
back through the target's services."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
import shapely
from pyproj import CRS

from conftest import LiveServer, kartenn, shared
from kartenn.config import Settings
from kartenn.domain import Dataset
from kartenn.domain.security import ANONYMOUS, OPERATOR, Sharing
from kartenn.errors import NotFound
from kartenn.services import features, grants, styles, workflow
from kartenn.services.features import ItemQuery
from kartenn.services.identity import create_token
from kartenn.services.publish import publish_file
from kartenn.services.records import RecordQuery, import_bytes, search_records
from kartenn.site import Site
from kartenn.testing.postgres import free_port
from kartenn.xml import parse_xml, to_bytes

CLASSES = {"title": "By borough", "rules": [
    {"name": "manhattan", "filter": {"op": "=", "property": "BoroName", "value": "Manhattan"},
     "symbolizers": [{"kind": "fill", "color": "#d7301f", "opacity": 0.6}]},
    {"name": "others", "symbolizers": [{"kind": "fill", "color": "#fdbb84", "opacity": 0.6}]}]}
RELIEF = {"title": "Relief", "kind": "ramp", "ramp": "viridis", "min": 0, "max": 120}
THIN = {"title": "Thin outline", "rules": [{"name": "all", "symbolizers": [{"kind": "line", "color": "#222222",
                                                                            "width": 0.5}]}]}


@dataclass
class Source:
    site: Site
    server: LiveServer
    token: str
    boroughs: str  # public, organisation iuem, an imported ISO 19139 record, a named style as its default
    lakes: str  # private to organisation ubo, the record publish made; granted to organisation labo, users
    # editor and visitor (who has no account on the target sites)
    dem: str  # raster, a colour ramp as its default style


def _record_document(path: str, identifier: str) -> bytes:
    """A real ISO 19139 record, given ``identifier``: imported, it becomes the record of that dataset."""
    root = parse_xml(shared(path).read_bytes())
    root.find("{*}fileIdentifier/{*}CharacterString").text = identifier
    return to_bytes(root)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    settings = Settings.load(tmp_path_factory.mktemp("source") / "site")
    site = Site.open(settings, create=True)
    view = site.seen_by(OPERATOR)
    for org in ("iuem", "ubo", "labo"):
        site.accounts.add_organisation(org, org.upper())
    site.accounts.add_user("visitor")
    site.accounts.add_user("editor")  # as the editor_token fixture makes it, in both organisations
    site.accounts.set_membership("editor", "iuem", "editor")
    site.accounts.set_membership("editor", "ubo", "editor")
    token = create_token(site, "editor", name="tests")
    boroughs = publish_file(view, shared("nyc-boroughs/nybb_16a.zip"), sharing=Sharing(org="iuem"))[0].dataset
    lakes = publish_file(view, shared("natural-earth/ne_110m_lakes.geojson"),
                         sharing=Sharing(org="ubo", public=False))[0].dataset
    dem = publish_file(view, shared("rasters/opengeos-dtm.tif"), sharing=Sharing(org="iuem"))[0].dataset
    import_bytes(view, _record_document("iso-metadata-records/pycsw-apiso/pacioos-NS06agg.xml", boroughs.record_id))
    style, _ = styles.read_style(boroughs, "classes", json.dumps(CLASSES).encode(), "application/json")
    styles.put_style(view, boroughs, style, make_default=True)
    style, _ = styles.read_style(dem, "relief", json.dumps(RELIEF).encode(), "application/json")
    styles.put_style(view, dem, style, make_default=True)
    for principal, who, action in (("org", "labo", "download"), ("user", "editor", "edit"),
                                   ("user", "visitor", "view")):
        grants.change_grant(view, lakes.id, principal, who, action)
    server = LiveServer(settings).start()
    yield Source(site, server, token, boroughs.id, lakes.id, dem.id)
    server.stop()
    site.close()


def run_sync(settings: Settings, source: Source, *args: str, url: str | None = None,
             token: str | None = None) -> subprocess.CompletedProcess:
    return kartenn("sync", "--from", url or source.server.url, "--token", token or source.token, "--data-dir",
                   str(settings.data_dir), *args, settings=settings)


def report_of(result: subprocess.CompletedProcess) -> dict[str, list[dict[str, Any]]]:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def ids(entries: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(e["id"] for e in entries)


def rows(site: Site, dataset: Dataset) -> list[tuple[str, bytes]]:
    """Every feature's properties and geometry, in the dataset's own CRS, in a stable order."""
    query = ItemQuery(limit=None, crs=CRS.from_user_input(dataset.crs), xy=True)
    found = [(json.dumps(r["properties"], sort_keys=True), shapely.to_wkb(r["geometry"]))
             for chunk in features.stream(site, dataset, query) for r in chunk]
    return sorted(found)


def style_models(site: Site, dataset_id: str) -> tuple[str, dict[str, Any]]:
    dataset = site.catalog.get_dataset(dataset_id)
    return styles.default_name(dataset), {n: s.model_dump() for n, s in styles.styles_of(site, dataset).items()}


def state(site: Site) -> tuple[Any, ...]:
    """What a sync could change on a site."""
    return (sorted((d.id, d.updated) for d in site.catalog.list_datasets()), site.catalog.count_records(),
            site.accounts.list_organisations(), len(site.accounts.audit_log(limit=10_000)))


def grants_here(site: Site, dataset_id: str) -> list[tuple[str, str, str]]:
    return sorted((g["principal"], g["principal_id"], g["action"]) for g in site.accounts.grants_of("dataset",
                                                                                                     dataset_id))


def pixels(site: Site, dataset: Dataset) -> Any:
    import rasterio

    with rasterio.open(site.files.path(dataset.storage)) as src:
        return src.read(), src.transform, src.crs


def test_sync_copies_data_records_styles_and_sharing_once(site, settings, source):
    site.accounts.add_organisation("labo", "Laboratoire")  # the same organisation and user as at the source
    site.accounts.add_user("editor")
    result = run_sync(settings, source, "--json")
    assert result.returncode == 0, result.stderr
    report = report_of(result)
    assert ids(report["created"]) == sorted([source.boroughs, source.lakes, source.dem])
    assert report["skipped"] == report["deleted"] == []
    lakes = next(e for e in report["created"] if e["id"] == source.lakes)
    assert (lakes["organisation"], lakes["public"], lakes["organisation_created"]) == ("ubo", False, True)
    assert report["warnings"] == [{"id": source.lakes, "message": "grants not copied, no such organisation or "
                                   "user here: view to user visitor"}]
    assert grants_here(site, source.lakes) == [("org", "labo", "download"), ("user", "editor", "edit")]
    assert grants_here(site, source.dem) == grants_here(source.site, source.dem) == \
           [("public", "", "download"), ("public", "", "view")]

    dem, their_dem = site.catalog.get_dataset(source.dem), source.site.catalog.get_dataset(source.dem)
    assert (dem.kind, dem.crs, dem.raster, dem.record_id) == ("raster", their_dem.crs, their_dem.raster,
                                                              their_dem.record_id)
    ours, theirs = pixels(site, dem), pixels(source.site, their_dem)
    assert (ours[0] == theirs[0]).all() and ours[1:] == theirs[1:]
    assert style_models(site, source.dem) == style_models(source.site, source.dem)
    assert style_models(site, source.dem)[0] == "relief"
    assert site.catalog.get_record(dem.record_id).dataset_id == source.dem
    assert site.accounts.owner_of("dataset", source.dem)["org_id"] == "iuem"

    for dataset_id in (source.boroughs, source.lakes):
        ours, theirs = site.catalog.get_dataset(dataset_id), source.site.catalog.get_dataset(dataset_id)
        assert (ours.crs, ours.count, ours.geometry_type, ours.fields, ours.record_id) == \
               (theirs.crs, theirs.count, theirs.geometry_type, theirs.fields, theirs.record_id)
        assert rows(site, ours) == rows(source.site, theirs)
        assert style_models(site, dataset_id) == style_models(source.site, dataset_id)
    assert style_models(site, source.boroughs)[0] == "classes"

    view = site.seen_by(OPERATOR)
    boroughs = site.catalog.get_dataset(source.boroughs)
    found = search_records(view, RecordQuery(q="Pohnpei"))
    assert [r.id for r in found.records] == [boroughs.record_id]
    record = site.catalog.get_record(boroughs.record_id)
    assert (record.dataset_id, record.title) == (source.boroughs, "PacIOOS Nearshore Sensor 06: Pohnpei, Micronesia")
    lakes_record = site.catalog.get_record(site.catalog.get_dataset(source.lakes).record_id)
    assert lakes_record.dataset_id == source.lakes
    assert not [link for link in lakes_record.links if link["url"].startswith(source.server.url)]

    assert site.accounts.has_organisation("ubo") and site.accounts.has_organisation("iuem")
    assert site.accounts.owner_of("dataset", source.lakes)["org_id"] == "ubo"
    assert site.accounts.owner_of("dataset", source.boroughs)["org_id"] == "iuem"
    anonymous = site.seen_by(ANONYMOUS)
    anonymous.catalog.get_dataset(source.boroughs)
    with pytest.raises(NotFound):
        anonymous.catalog.get_dataset(source.lakes)

    before = state(site)
    again = run_sync(settings, source, "--json")
    assert again.returncode == 0, again.stderr
    report = report_of(again)
    assert report["created"] == report["updated"] == []
    assert ids(e for e in report["skipped"] if "unchanged" in e["reason"]) == \
           sorted([source.boroughs, source.lakes, source.dem])
    assert state(site)[:3] == before[:3]


def test_dry_run_changes_nothing(site, settings, source):
    before = state(site)
    result = run_sync(settings, source, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    report = report_of(result)
    assert ids(report["created"]) == sorted([source.boroughs, source.lakes, source.dem])
    assert state(site) == before
    text = run_sync(settings, source, "--dry-run", source.lakes)
    assert text.returncode == 0 and f"would create   {source.lakes}" in text.stdout, text.stdout + text.stderr
    assert "organisation ubo (new here), private" in text.stdout
    assert state(site) == before


def test_a_second_run_updates_what_changed_at_the_source_and_keeps_what_changed_here(site, settings, source):
    assert run_sync(settings, source).returncode == 0
    datasets, records = len(site.catalog.list_datasets()), site.catalog.count_records()
    new = f"thin-{uuid4().hex[:8]}"  # the source serves the whole module: a name no other test gave
    with source.server.client(source.token) as http:  # at the source: a new style, through its API
        r = http.put(f"/api/v1/datasets/{source.boroughs}/styles/{new}", json=THIN)
        assert r.status_code in (200, 201), r.text
    theirs = source.site.catalog.get_dataset(source.boroughs)
    workflow.edit(source.site.seen_by(OPERATOR), theirs.record_id, fields={"abstract": "Changed at the source."})
    here = site.seen_by(OPERATOR)  # here: another style on the lakes, and the public may see them
    lakes = site.catalog.get_dataset(source.lakes)
    style, _ = styles.read_style(lakes, "local", json.dumps(THIN).encode(), "application/json")
    styles.put_style(here, lakes, style)
    grants.change_grant(here, source.lakes, "public", "", "view")

    dry = report_of(run_sync(settings, source, "--json", "--dry-run"))
    assert ids(dry["updated"]) == [source.boroughs]
    assert new not in style_models(site, source.boroughs)[1]

    result = run_sync(settings, source, "--json")
    assert result.returncode == 0, result.stderr
    report = report_of(result)
    assert ids(report["updated"]) == [source.boroughs] and report["created"] == []
    assert [e["reason"] for e in report["skipped"] if e["id"] == source.lakes][0].startswith("changed here")
    assert style_models(site, source.boroughs) == style_models(source.site, source.boroughs)
    assert new in style_models(site, source.boroughs)[1]
    assert site.catalog.get_record(theirs.record_id).abstract == "Changed at the source."
    assert "local" in style_models(site, source.lakes)[1]

    result = run_sync(settings, source, "--json", "--overwrite", source.lakes)
    assert result.returncode == 0, result.stderr
    assert ids(report_of(result)["updated"]) == [source.lakes]
    assert style_models(site, source.lakes) == style_models(source.site, source.lakes)
    with pytest.raises(NotFound):  # private again, as at the source
        site.seen_by(ANONYMOUS).catalog.get_dataset(source.lakes)
    assert (len(site.catalog.list_datasets()), site.catalog.count_records()) == (datasets, records)


def test_datasets_deleted_at_the_source_are_reported_and_deleted_here_only_when_asked(site, settings, source):
    from kartenn.services.publish import delete_dataset

    view = source.site.seen_by(OPERATOR)
    gone = [publish_file(view, shared("natural-earth/ne_110m_lakes.geojson"),
                         dataset_id=f"gone-{uuid4().hex[:8]}")[0].dataset for _ in range(2)]
    try:
        assert run_sync(settings, source, *[d.id for d in gone]).returncode == 0
    finally:
        for dataset in gone:
            delete_dataset(view, dataset.id)
    kept, changed = (site.catalog.get_dataset(d.id) for d in gone)
    grants.change_grant(site.seen_by(OPERATOR), changed.id, "user", "someone", "edit")  # a change made here
    reason = "deleted at the source (or no longer visible to the token) since the last sync"

    report = report_of(run_sync(settings, source, "--json"))  # reported, kept
    assert {e["id"]: e["reason"] for e in report["skipped"] if e["id"] in (kept.id, changed.id)} == \
           {kept.id: f"{reason}: kept (--delete removes it)", changed.id: f"{reason}: kept (--delete removes it)"}
    assert report["deleted"] == []
    before = state(site)
    dry = report_of(run_sync(settings, source, "--json", "--delete", "--dry-run"))
    assert dry["deleted"] == [{"id": kept.id, "record": kept.record_id, "reason": reason}]
    assert state(site) == before

    result = run_sync(settings, source, "--json", "--delete")
    assert result.returncode == 0, result.stderr
    report = report_of(result)
    assert report["deleted"] == [{"id": kept.id, "record": kept.record_id, "reason": reason}]
    assert [e["reason"] for e in report["skipped"] if e["id"] == changed.id] == \
           [f"{reason}, and changed here since: kept (--overwrite with --delete removes it)"]
    with pytest.raises(NotFound):
        site.catalog.get_dataset(kept.id)
    with pytest.raises(NotFound):
        site.catalog.get_record(kept.record_id)
    site.catalog.get_dataset(changed.id)

    text = run_sync(settings, source, "--delete", "--overwrite", changed.id)
    assert text.returncode == 0 and f"deleted        {changed.id}" in text.stdout, text.stdout + text.stderr
    with pytest.raises(NotFound):
        site.catalog.get_dataset(changed.id)
    report = report_of(run_sync(settings, source, "--json", "--delete"))  # nothing more to say about them
    assert report["deleted"] == [] and not [e for e in report["skipped"] if e["id"] in (kept.id, changed.id)]


def test_a_dataset_over_the_size_limit_fails_alone_and_leaves_nothing(site, settings, source):
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + "upload_max_bytes = 400000\n")  # the lakes fit, the boroughs do not
    result = run_sync(settings, source, "--json", source.boroughs, source.lakes)
    assert result.returncode == 1
    report = report_of(result)
    assert ids(report["created"]) == [source.lakes]
    assert [(e["id"], "400000 bytes" in e["error"]) for e in report["skipped"] if "error" in e] == \
           [(source.boroughs, True)]
    assert [d.id for d in site.catalog.list_datasets()] == [source.lakes]
    assert not [p for p in settings.staging_dir.rglob("*") if p.is_file()]


def test_a_dataset_failing_after_its_data_was_published_is_removed_again(site, settings, source):
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + "style_max_rules = 1\n")  # the boroughs' default style has two
    result = run_sync(settings, source, "--json", source.boroughs, source.lakes)
    assert result.returncode == 1
    report = report_of(result)
    assert ids(report["created"]) == [source.lakes]
    assert [e["id"] for e in report["skipped"] if "error" in e] == [source.boroughs]
    assert [w for w in report["warnings"] if w["id"] == source.boroughs] == \
           [{"id": source.boroughs, "message": "organisation iuem was created here; the dataset was not"}]
    assert [d.id for d in site.catalog.list_datasets()] == [source.lakes]
    assert site.catalog.count_records() == 1
    assert site.features.unreferenced(site.catalog.storages()) == []  # the boroughs' data went with them


def test_source_errors_are_one_clear_line(site, settings, source):
    before = state(site)
    cases = [({"token": "kt_not-a-token"}, "refused the token (401"),
             ({"url": f"{source.server.url}/ogc"}, "is not a Kartenn site"),
             ({"url": f"http://127.0.0.1:{free_port()}"}, "cannot read http://127.0.0.1"),
             ({"url": "ftp://example.org"}, "http:// or https://")]
    for given, message in cases:
        result = run_sync(settings, source, **given)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and message in lines[0], (given, result.stderr)
    result = run_sync(settings, source, "no-such-dataset", "--json")
    assert result.returncode == 1 and "no-such-dataset: no dataset" in result.stderr
    assert report_of(result)["skipped"][0]["id"] == "no-such-dataset"
    assert state(site)[:3] == before[:3]


def test_a_source_that_is_not_kartenn_or_does_not_answer_is_one_error():
    import http.server
    import socket
    import threading

    import httpx

    from kartenn.services.sync_source import SourceError, SourceSite

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>It works!</body></html>")

        def log_message(self, *_: object) -> None:
            pass

    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    silent = socket.socket()  # accepts connections (the backlog does), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        with SourceSite(f"http://127.0.0.1:{web.server_port}", "kt_x") as other:
            with pytest.raises(SourceError, match="is not a Kartenn site: /api/v1/datasets did not answer JSON"):
                other.datasets()
        with SourceSite(f"http://127.0.0.1:{silent.getsockname()[1]}", "kt_x",
                        timeout=httpx.Timeout(0.5)) as slow:
            with pytest.raises(SourceError, match="did not answer in time"):
                slow.datasets()
    finally:
        web.shutdown()
        web.server_close()
        silent.close()


def test_time_stacks_and_station_series_are_reported_not_copied_in_part(site, settings, tmp_path):
    """Their download holds one time step, or the stations without their measurements: copying it would lose the
    rest, so they are skipped with the reason (a later version may copy them whole)."""
    other = Settings.load(tmp_path / "other")
    origin = Site.open(other, create=True)
    view = origin.seen_by(OPERATOR)
    origin.accounts.add_user("editor")
    token = create_token(origin, "editor", name="tests")
    (stack,) = publish_file(view, shared("rasters/coads_sst.nc"), variable="SST")
    (gauge,) = publish_file(view, shared("timeseries/portland-8418150-msl-long.csv"), series="auto")
    assert stack.error is None and gauge.error is None
    server = LiveServer(other).start()
    try:
        result = kartenn("sync", "--from", server.url, "--token", token, "--data-dir", str(settings.data_dir),
                         "--json", settings=settings)
    finally:
        server.stop()
        origin.close()
    report = report_of(result)
    assert report["created"] == [] and site.catalog.list_datasets() == []
    reasons = {e["id"]: e["reason"] for e in report["skipped"]}
    assert "raster time stack of 12 times" in reasons[stack.dataset.id]
    assert "stations with measurements" in reasons[gauge.dataset.id]
