"""Harvesting real servers: pycsw 2.6 (CSW 2.0.2 and OAI-PMH) loaded with real ISO records, another Kartenn;
each source is changed (a record added, edited, deleted) and the next run must follow. Safety: addresses of our
own network refused unless allowed, redirects checked at each hop, answers capped, garbage changes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from conftest import AppServer, LiveServer, kartenn_here, shared, wait_job
from kartenn.config import Settings
from kartenn.domain.security import OPERATOR
from kartenn.errors import Conflict
from kartenn.services import harvest
from kartenn.services.harvest import ogcapi
from kartenn.services.harvest.scheduler import run_due
from kartenn.services.records import import_paths
from kartenn.site import Site
from kartenn.stores import harvests
from pycsw_server import Pycsw

RECORDS = "iso-metadata-records/pycsw-apiso"
COUNT = 18  # ISO records in that folder, each with its own identifier
EDITED = "3e9a8c05"  # 3e9a8c05.xml, whose title the tests change at the source
DELETED = "366f6257-19eb-4f20-ba78-0698ac4aae77"
NEW = "955c3e47-411e-4969-b61b-3556d1b9f879"  # GeoBretagne's cadastre, added at the source


@pytest.fixture
def pycsw(tmp_path: Path) -> Iterator[Pycsw]:
    server = Pycsw(tmp_path / "pycsw", shared(RECORDS)).start()
    yield server
    server.stop()


@pytest.fixture
def operator(site: Site):  # type: ignore[no-untyped-def]
    site.settings.harvest_allow = ["127.0.0.1"]
    if not site.accounts.has_organisation("iuem"):
        site.accounts.add_organisation("iuem", "IUEM")
    return site.seen_by(OPERATOR)


def change_source(pycsw: Pycsw) -> None:
    """One record added, one edited, one deleted, as a publisher of the source would."""
    pycsw.insert(shared("iso-metadata-records/owslib-real-records/csw_geobretagne_mdmetadata.xml").read_bytes())
    edited = (shared(RECORDS) / "3e9a8c05.xml").read_bytes().replace(b"test Title", b"test Title, revised")
    pycsw.update(edited.replace(b"2011-04-18", b"2026-12-01"))
    pycsw.delete(DELETED)


def test_csw_harvest_follows_the_source(pycsw: Pycsw, operator) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("pycsw", "csw", pycsw.url, org="iuem"))
    first = harvest.run(operator, "pycsw")
    assert (first.status, first.added, first.updated, first.removed, first.failed) == ("succeeded", COUNT, 0, 0, 0)
    rec = operator.catalog.get_record(EDITED)
    assert rec.title == "test Title" and rec.xml and b"test Title" in rec.xml  # the original document is kept
    assert operator.accounts.owner_of("record", EDITED)["org_id"] == "iuem"
    assert harvest.origin(operator, EDITED)["source"] == "pycsw"

    change_source(pycsw)
    second = harvest.run(operator, "pycsw")
    assert (second.status, second.added, second.updated, second.removed) == ("succeeded", 1, 1, 1), second.details
    assert operator.catalog.get_record(EDITED).title == "test Title, revised"
    assert operator.catalog.get_record(NEW).title == "Cadastre 2018 en Bretagne"
    with pytest.raises(Exception, match="no record"):
        operator.catalog.get_record(DELETED)

    third = harvest.run(operator, "pycsw")
    assert (third.added, third.updated, third.removed) == (0, 0, 0)
    assert [r.added for r in harvest.history(operator, "pycsw")] == [0, 1, COUNT]


def test_csw_query_harvests_what_matches(pycsw: Pycsw, operator) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("ortho", "csw", pycsw.url, query="dc:title like '%ortho%'"))
    result = harvest.run(operator, "ortho")
    assert result.status == "succeeded" and result.added == 5
    assert all("ortho" in operator.catalog.get_record(i).title.lower() for i in source_ids(operator, "ortho"))


def test_oai_pmh_harvest_follows_the_source(pycsw: Pycsw, operator) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("oai", "oai-pmh", f"{pycsw.url}?mode=oaipmh", public=False,
                                                       org="iuem"))
    first = harvest.run(operator, "oai")
    assert (first.status, first.added) == ("succeeded", COUNT), first.message
    change_source(pycsw)
    second = harvest.run(operator, "oai")
    assert (second.added, second.updated, second.removed) == (1, 1, 1), second.message
    assert operator.catalog.get_record(EDITED).title == "test Title, revised"


def test_private_source_records_are_hidden_from_anonymous(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    from kartenn.domain.security import Identity
    from kartenn.services.records import RecordQuery, search_records

    harvest.add_source(operator, harvest.HarvestSource("oai", "oai-pmh", f"{pycsw.url}?mode=oaipmh", public=False,
                                                       org="iuem"))
    assert harvest.run(operator, "oai").added == COUNT
    assert search_records(site.seen_by(Identity()), RecordQuery(limit=100)).matched == 0
    member = Identity(user="anne", roles={"iuem": "member"})
    assert search_records(site.seen_by(member), RecordQuery(limit=100)).matched == COUNT


def test_one_identifier_from_two_sources_is_kept_once(pycsw: Pycsw, operator) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("first", "csw", pycsw.url))
    harvest.add_source(operator, harvest.HarvestSource("second", "oai-pmh", f"{pycsw.url}?mode=oaipmh"))
    assert harvest.run(operator, "first").added == COUNT
    second = harvest.run(operator, "second")
    assert (second.status, second.added) == ("succeeded", 0)
    assert len(second.details["duplicates"]) == COUNT
    assert second.details["duplicates"][0]["reason"] == "already harvested from first"
    assert harvest.origin(operator, EDITED)["source"] == "first"
    # the first source drops it: the second does not take it over in the same run, and keeps reporting it
    assert harvest.remove_source(operator, "first") == COUNT
    assert harvest.run(operator, "second").added == COUNT


def test_harvested_records_are_read_only(pycsw: Pycsw, operator, server: AppServer, site: Site) -> None:  # type: ignore[no-untyped-def]
    from kartenn.services.identity import create_token

    site.accounts.add_user("root", admin=True)
    token = create_token(site, "root", name="tests")
    harvest.add_source(operator, harvest.HarvestSource("pycsw", "csw", pycsw.url))
    harvest.run(operator, "pycsw")
    with server.client(token) as http:
        body = http.get(f"/api/v1/records/{EDITED}").json()
        assert body["harvest"]["source"] == "pycsw" and body["harvest"]["harvested"]
        page = http.get(f"/ogc/collections/catalog/items/{EDITED}?f=html&lang=en").text
        assert f"Harvested from pycsw ({pycsw.url})" in page and "read-only here" in page
        assert http.get(f"/api/v1/records/{EDITED}/iso19139.xml").content == \
            operator.catalog.get_record(EDITED).xml  # the source's document, served back as is
        edit = http.put(f"/api/v1/records/{EDITED}", json={"title": "changed here"})
        assert edit.status_code == 409 and "harvested from 'pycsw'" in edit.json()["detail"]
        delete = http.post("/csw", content=(
            '<csw:Transaction xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" xmlns:ogc="http://www.opengis.net/ogc"'
            ' service="CSW" version="2.0.2"><csw:Delete><csw:Constraint version="1.1.0"><ogc:Filter>'
            "<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:identifier</ogc:PropertyName>"
            f"<ogc:Literal>{EDITED}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter></csw:Constraint></csw:Delete>"
            "</csw:Transaction>").encode(), headers={"Content-Type": "application/xml"})
        assert 400 <= delete.status_code < 500 and "read-only" in delete.text
        again = http.post("/api/v1/records", content=(shared(RECORDS) / "3e9a8c05.xml").read_bytes(),
                          headers={"Content-Type": "application/xml"})
        assert again.status_code == 409
    assert operator.catalog.get_record(EDITED).title == "test Title"


def test_json_api_is_for_administrators(pycsw: Pycsw, operator, server: AppServer, site: Site,  # type: ignore[no-untyped-def]
                                        editor_token: str) -> None:
    from kartenn.services.identity import create_token

    site.accounts.add_user("root", admin=True)
    token = create_token(site, "root", name="tests")
    with server.client(editor_token) as http:
        assert http.get("/api/v1/harvests").status_code == 403
        assert http.post("/api/v1/harvests", json={"name": "x", "type": "csw", "url": pycsw.url}).status_code == 403
    with server.client() as http:
        assert http.get("/api/v1/harvests").status_code == 401
    with server.client(token) as http:
        assert http.post("/api/v1/harvests", json={"name": "p", "type": "ftp", "url": pycsw.url}).status_code == 400
        assert http.post("/api/v1/harvests", json={"name": "p", "type": "csw", "url": "file:///etc"}).status_code == 400
        added = http.post("/api/v1/harvests", json={"name": "p", "type": "csw", "url": pycsw.url, "every": "6h"})
        assert added.status_code == 201 and added.json()["every_seconds"] == 21600
        assert http.post("/api/v1/harvests", json={"name": "p", "type": "csw", "url": pycsw.url}).status_code == 409
        assert [s["name"] for s in http.get("/api/v1/harvests").json()["harvests"]] == ["p"]
        started = http.post("/api/v1/harvests/p/run")
        assert started.status_code == 202
        job = wait_job(http, started.json()["links"][0]["href"])
        # the server reads kartenn.toml, which does not allow 127.0.0.1: the run fails and says why
        assert job["state"] == "failed" and "harvest_allow" in job["message"]
        [run] = http.get("/api/v1/harvests/p/history").json()["runs"]
        assert run["status"] == "failed" and "harvest_allow" in run["message"] and run["added"] == 0
        assert http.post("/api/v1/harvests/nothing/run").status_code == 404
        admin_page = http.get("/admin?lang=en").text
        assert "Harvest sources" in admin_page and f"<td>p</td><td>csw</td><td>{pycsw.url}</td>" in admin_page
        assert "failed" in admin_page
        assert http.delete("/api/v1/harvests/p").status_code == 200
        assert http.get("/api/v1/harvests/p").status_code == 404


def test_cli(pycsw: Pycsw, settings: Settings, site: Site) -> None:
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + 'harvest_allow = ["127.0.0.1"]\n')
    data = ["--data-dir", str(settings.data_dir)]
    kartenn_here("harvest", "add", "pycsw", "--type", "csw", "--url", pycsw.url, "--every", "1d", *data,
                 settings=settings)
    assert "pycsw\tcsw" in kartenn_here("harvest", "list", *data, settings=settings)
    assert f"{COUNT} added, 0 updated, 0 removed" in kartenn_here("harvest", "run", "pycsw", *data, settings=settings)
    assert "succeeded" in kartenn_here("harvest", "history", "pycsw", *data, settings=settings)
    assert f"its {COUNT} records" in kartenn_here("harvest", "remove", "pycsw", *data, settings=settings)
    assert site.catalog.count_records() == 0


def test_scheduled_harvests_run_once(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("daily", "csw", pycsw.url, every_seconds=86400))
    harvest.add_source(operator, harvest.HarvestSource("by-hand", "csw", pycsw.url))
    with site.catalog.begin() as conn:  # another process holds the source: the scheduler leaves it
        assert harvests.claim(conn, "daily", "elsewhere", timedelta(hours=1))
        assert not harvests.claim(conn, "daily", "here", timedelta(hours=1))
    assert run_due(site) == []
    with pytest.raises(Conflict):
        harvest.run(operator, "daily")
    with site.catalog.begin() as conn:
        harvests.release(conn, "daily", "elsewhere", None)
    done = run_due(site)
    assert [(r.source, r.status, r.added) for r in done] == [("daily", "succeeded", COUNT)]
    assert run_due(site) == []  # its next run is a day later
    assert harvest.get_source(operator, "daily").next_run is not None
    assert harvest.history(operator, "by-hand") == []


def test_of_processes_claiming_at_once_one_wins(operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    harvest.add_source(operator, harvest.HarvestSource("daily", "csw", "https://example.org/csw", every_seconds=86400))
    start = threading.Barrier(6)

    def claim(i: int) -> bool:
        start.wait()
        with site.catalog.begin() as conn:  # each on its own connection, in its own transaction
            return harvests.claim(conn, "daily", f"process-{i}", timedelta(hours=1), due=True)

    with ThreadPoolExecutor(6) as pool:
        assert sorted(pool.map(claim, range(6))) == [False] * 5 + [True]


@pytest.mark.live
def test_a_run_through_the_api_is_a_job(pycsw: Pycsw, settings: Settings, site: Site) -> None:
    from kartenn.services.identity import create_token

    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + 'harvest_allow = ["127.0.0.1"]\n')
    site.accounts.add_user("root", admin=True)
    token = create_token(site, "root", name="tests")
    server = LiveServer(settings).start()
    try:
        with server.client(token) as http:
            added = http.post("/api/v1/harvests", json={"name": "p", "type": "csw", "url": pycsw.url})
            assert added.status_code == 201, added.text
            job = wait_job(http, http.post("/api/v1/harvests/p/run").json()["links"][0]["href"])
            assert job["state"] == "succeeded" and job["result"]["added"] == COUNT, job
            found = http.get("/api/v1/records", params={"q": "test"}).json()
            assert EDITED in {r["id"] for r in found["records"]}
    finally:
        server.stop()


@pytest.mark.live
def test_the_server_runs_due_harvests(pycsw: Pycsw, settings: Settings, site: Site) -> None:
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + 'harvest_allow = ["127.0.0.1"]\nharvest_check_seconds = 0.5\n')
    operator = Site.open(Settings.load(settings.data_dir, database_url=settings.database_url)).seen_by(OPERATOR)
    try:
        harvest.add_source(operator, harvest.HarvestSource("hourly", "csw", pycsw.url, every_seconds=3600))
        server = LiveServer(settings).start()
        try:
            for _ in range(600):  # nobody runs it: the server's scheduler does, once
                if harvest.history(operator, "hourly"):
                    break
                time.sleep(0.1)
            runs = harvest.history(operator, "hourly")
            assert [(r.status, r.added) for r in runs] == [("succeeded", COUNT)]
            jobs = [j for j in operator.catalog.list_jobs() if j.kind == "harvest"]  # run as a job, once
            assert [j.params["source"] for j in jobs] == ["hourly"]
        finally:
            server.stop()
        assert harvest.get_source(operator, "hourly").next_run > runs[0].ended
    finally:
        operator.close()


def test_another_kartenn(operator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ogcapi, "PAGE", 5)  # 4 pages of items
    other = Settings.load(tmp_path / "other")
    source = Site.open(other, create=True)
    try:
        import_paths(source.seen_by(OPERATOR), [shared(RECORDS)])
        from kartenn.services.publish import publish_file

        [lakes] = publish_file(source, shared("natural-earth/ne_110m_lakes.geojson"), title="Lakes")
        assert lakes.dataset is not None, lakes.error
    finally:
        source.close()
    live = LiveServer(other).start()
    try:
        harvest.add_source(operator, harvest.HarvestSource("other", "kartenn", live.url))
        first = harvest.run(operator, "other")
        assert (first.status, first.added) == ("succeeded", COUNT + 1), first.message  # and the lakes' record

        # its WMTS: the service and its one layer
        harvest.add_source(operator, harvest.HarvestSource("tiles", "wmts", f"{live.url}/wmts"))
        tiles = harvest.run(operator, "tiles")
        assert (tiles.status, tiles.added) == ("succeeded", 2), tiles.message
        assert sorted(titles(operator, "tiles").values())[-1] == "Lakes"
        assert {r["protocol"] for i in source_ids(operator, "tiles")
                for r in operator.catalog.get_record(i).links} == {"OGC:WMTS"}
        with live.client() as http:  # a record edited at the source
            token = _admin_token(other)
            xml = (shared(RECORDS) / "3e9a8c05.xml").read_bytes().replace(b"test Title", b"test Title, revised")
            answer = http.put(f"/api/v1/records/{EDITED}", content=xml, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
            assert answer.status_code == 200, answer.text
        second = harvest.run(operator, "other")
        assert (second.added, second.updated, second.removed) == (0, 1, 0), second.message
        assert operator.catalog.get_record(EDITED).title == "test Title, revised"

        # the same site through OGC API Records, paged by next links
        harvest.remove_source(operator, "other")
        harvest.add_source(operator, harvest.HarvestSource("records", "ogcapi-records",
                                                           f"{live.url}/ogc/collections/catalog"))
        first = harvest.run(operator, "records")
        assert (first.status, first.added) == ("succeeded", COUNT + 1), first.message
        rec = operator.catalog.get_record(EDITED)
        assert rec.title == "test Title, revised" and rec.extent_wgs84 is not None
        with live.client() as http:
            answer = http.put(f"/api/v1/records/{EDITED}", content=xml.replace(b"revised", b"revised twice"),
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"})
            assert answer.status_code == 200, answer.text
        second = harvest.run(operator, "records")
        assert (second.added, second.updated, second.removed) == (0, 1, 0), second.message
        assert operator.catalog.get_record(EDITED).title == "test Title, revised twice"

        # and through its DCAT-AP catalogue, in RDF/XML and JSON-LD, paged by Hydra links
        for name, form in (("dcat-rdf", "rdf"), ("dcat-jsonld", "jsonld")):
            harvest.add_source(operator, harvest.HarvestSource(name, "dcat", f"{live.url}/api/v1/catalog/dcat.{form}"
                                                                             "?limit=5"))
            result = harvest.run(operator, name)
            assert (result.status, result.added) == ("succeeded", 0), result.message  # kept from "records"
            assert len(result.details["duplicates"]) == COUNT + 1
        harvest.remove_source(operator, "records")
        result = harvest.run(operator, "dcat-rdf")
        assert (result.status, result.added) == ("succeeded", COUNT + 1), result.message
        rec = operator.catalog.get_record(EDITED)
        assert rec.title == "test Title, revised twice" and rec.extent_wgs84 is not None
    finally:
        live.stop()


def _admin_token(settings: Settings) -> str:
    from kartenn.services.identity import create_token

    s = Site.open(settings)
    try:
        s.accounts.add_user("root", admin=True)
        return create_token(s, "root", name="tests")
    finally:
        s.close()


# safety ------------------------------------------------------------------------------------------------------

class Canned(ThreadingHTTPServer):
    """A small HTTP server on ``host`` answering what ``answer(path)`` says: (status, headers, body)."""

    def __init__(self, host: str, answer, tls=None) -> None:  # type: ignore[no-untyped-def]
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__((host, 0), Handler)
        if tls is not None:  # an ssl.SSLContext with the server's certificate
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://{host}:{self.server_address[1]}/"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def __enter__(self) -> Canned:
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()


def test_loopback_is_refused_unless_allowed(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    operator.settings.harvest_allow = []
    harvest.add_source(operator, harvest.HarvestSource("pycsw", "csw", pycsw.url))
    result = harvest.run(operator, "pycsw")
    assert result.status == "failed" and "127.0.0.1" in result.message and "harvest_allow" in result.message
    assert site.catalog.count_records() == 0
    operator.settings.harvest_allow = ["127.0.0.0/8"]
    assert harvest.run(operator, "pycsw").added == COUNT


def test_a_redirect_to_a_private_address_is_refused(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    operator.settings.harvest_allow = ["127.0.0.2"]  # the redirecting server only, not pycsw on 127.0.0.1
    with Canned("127.0.0.2", lambda path: (302, {"Location": pycsw.url.rstrip("/") + path}, b"")) as redirecting:
        harvest.add_source(operator, harvest.HarvestSource("redirected", "csw", redirecting.url))
        result = harvest.run(operator, "redirected")
        assert result.status == "failed" and "127.0.0.1" in result.message, result.message
        assert site.catalog.count_records() == 0
        operator.settings.harvest_allow = ["127.0.0.2", "127.0.0.1"]  # allowed, the redirect is followed
        assert harvest.run(operator, "redirected").added == COUNT


def test_an_oversized_answer_is_refused(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    operator.settings.harvest_max_bytes = 2000
    harvest.add_source(operator, harvest.HarvestSource("pycsw", "csw", pycsw.url))
    result = harvest.run(operator, "pycsw")
    assert result.status == "failed" and "harvest_max_bytes" in result.message
    assert site.catalog.count_records() == 0
    operator.settings.harvest_max_bytes = 50 * 1024**2
    operator.settings.harvest_max_records = 10
    result = harvest.run(operator, "pycsw")
    assert result.status == "failed" and "harvest_max_records" in result.message
    operator.settings.harvest_max_records = 100
    operator.settings.harvest_max_seconds = -1  # a run over its time before it starts
    result = harvest.run(operator, "pycsw")
    assert result.status == "failed" and "harvest_max_seconds" in result.message
    assert site.catalog.count_records() == 0


def test_garbage_fails_the_run_and_changes_nothing(pycsw: Pycsw, operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    mode = {"now": "proxy"}

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if mode["now"] == "garbage" or (mode["now"] == "garbage-after-first-page" and "startPosition=1&" not in path):
            return 200, {"Content-Type": "text/html"}, b"<html><body>Service unavailable</body></html>"
        if mode["now"] == "not-xml":
            return 200, {"Content-Type": "application/xml"}, b"\x00\x01 not xml at all"
        got = httpx.get(pycsw.url.rstrip("/") + path)
        return got.status_code, {"Content-Type": "application/xml"}, got.content

    operator.settings.harvest_allow = ["127.0.0.1"]
    with Canned("127.0.0.1", answer) as source:
        harvest.add_source(operator, harvest.HarvestSource("flaky", "csw", source.url))
        assert harvest.run(operator, "flaky").added == COUNT
        for now, reason in (("garbage", "not a CSW 2.0.2 catalogue"), ("not-xml", "did not answer XML"),
                            ("garbage-after-first-page", "not a CSW 2.0.2 catalogue")):
            mode["now"] = now
            result = harvest.run(operator, "flaky")
            assert result.status == "failed" and reason in result.message, (now, result.message)
            assert (result.added, result.updated, result.removed) == (0, 0, 0)
            assert site.catalog.count_records() == COUNT  # a failed listing removes nothing
        assert [r.status for r in harvest.history(operator, "flaky")] == ["failed"] * 3 + ["succeeded"]


# OGC web services: MapServer ---------------------------------------------------------------------------------

MAPFILE = """MAP
  NAME "test"
  EXTENT -180 -90 180 90
  PROJECTION "init=epsg:4326" END
  WEB
    METADATA
      "ows_title" "Natural Earth test service"
      "ows_abstract" "Lakes and places"
      "ows_enable_request" "*"
      "ows_srs" "EPSG:4326"
      "ows_onlineresource" "http://127.0.0.1/"
    END
  END
{layers}
END
"""
LAYER = """  LAYER
    NAME "{name}"
    TYPE {kind}
    CONNECTIONTYPE OGR
    CONNECTION "{path}"
    METADATA "ows_title" "{title}" "gml_include_items" "all" END
    PROJECTION "init=epsg:4326" END
  END
"""


class MapServer:
    """MapServer's WMS and WFS over ``mapfile`` (read again at every request: rewrite it to change the service)."""

    def __init__(self, folder: Path) -> None:
        from kartenn.testing.postgres import free_port

        self.mapfile = folder / "test.map"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"

    def layers(self, **titles: str) -> None:
        files = {"lakes": ("POLYGON", "natural-earth/ne_110m_lakes.geojson"),
                 "places": ("POINT", "natural-earth/ne_110m_populated_places_simple.geojson")}
        self.mapfile.write_text(MAPFILE.format(layers="".join(
            LAYER.format(name=name, kind=files[name][0], path=shared(files[name][1]), title=title)
            for name, title in titles.items())))

    def start(self) -> MapServer:
        import subprocess
        import time

        script = Path(__file__).with_name("mapserver_wsgi.py")
        self.proc = subprocess.Popen(["/usr/bin/python3", str(script), str(self.port)],
                                     env={"MAPFILE": str(self.mapfile), "PATH": "/usr/bin:/bin"})
        for _ in range(300):
            try:
                httpx.get(self.url, params={"service": "WMS", "request": "GetCapabilities"}, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("MapServer did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


@pytest.fixture
def mapserver(tmp_path: Path) -> Iterator[MapServer]:
    server = MapServer(tmp_path)
    server.layers(lakes="Lakes")
    server.start()
    yield server
    server.stop()


def source_ids(operator, source: str) -> list[str]:  # type: ignore[no-untyped-def]
    with operator.catalog.engine.connect() as conn:
        return list(harvests.of_source(conn, source))


def titles(operator, source: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    ids = source_ids(operator, source)
    return {operator.catalog.get_record(i).links[0]["name"]: operator.catalog.get_record(i).title for i in ids}


def test_wms_and_wfs_capabilities(mapserver: MapServer, operator) -> None:  # type: ignore[no-untyped-def]
    harvest.add_source(operator, harvest.HarvestSource("wms", "wms", mapserver.url, org="iuem"))
    harvest.add_source(operator, harvest.HarvestSource("wfs", "wfs", mapserver.url))
    assert harvest.run(operator, "wms").added == 3  # the service, its root layer, the lakes
    assert titles(operator, "wms") == {"": "Natural Earth test service", "test": "Natural Earth test service",
                                       "lakes": "Lakes"}
    assert harvest.run(operator, "wfs").added == 2
    assert titles(operator, "wfs") == {"": "Natural Earth test service", "ms:lakes": "Lakes"}

    mapserver.layers(lakes="Lakes of the world", places="Populated places")
    second = harvest.run(operator, "wms")
    assert (second.added, second.updated, second.removed) == (1, 1, 0), second.message
    assert titles(operator, "wms")["lakes"] == "Lakes of the world"
    mapserver.layers(places="Populated places")
    third = harvest.run(operator, "wms")
    assert (third.added, third.updated, third.removed) == (0, 0, 1), third.message
    assert "lakes" not in titles(operator, "wms")
    service = next(r for r in map(operator.catalog.get_record, source_ids(operator, "wms")) if r.type == "service")
    assert service.links[0]["protocol"] == "OGC:WMS" and service.links[0]["url"] == mapserver.url


def test_dcat_json_ld_with_a_remote_context_is_refused(operator, site: Site) -> None:  # type: ignore[no-untyped-def]
    asked = []

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        asked.append(path)
        if path.startswith("/context"):
            return 200, {"Content-Type": "application/ld+json"}, b'{"@context": {"dcat": "http://www.w3.org/ns/dcat#"}}'
        return 200, {"Content-Type": "application/ld+json"}, (
            b'{"@context": "http://127.0.0.1:%d/context", "@id": "c", "@type": "dcat:Catalog"}' % source.server_port)

    with Canned("127.0.0.1", answer) as source:
        harvest.add_source(operator, harvest.HarvestSource("jsonld", "dcat", source.url))
        result = harvest.run(operator, "jsonld")
    assert result.status == "failed" and "remote @context" in result.message
    assert asked == ["/"]  # the context was not fetched
    assert site.catalog.count_records() == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/latest/meta-data",
                                 "http://10.1.2.3/", "http://192.168.0.1/", "http://[::ffff:127.0.0.1]/",
                                 "http://0.0.0.0/", "http://[fd00:ec2::254]/", "http://100.64.0.1/"])
def test_inner_addresses_are_refused(url: str) -> None:
    from kartenn.services.harvest.fetch import Fetcher, SourceError

    with Fetcher([], timeout=5, max_bytes=1000) as fetch:
        with pytest.raises(SourceError, match="harvest_allow"):
            fetch.get(url)  # refused before any connection
    with Fetcher(["0.0.0.0/0", "::/0"], timeout=5, max_bytes=1000) as fetch:
        assert fetch.checked_address(httpx.URL(url)) is not None  # listed: allowed


@pytest.mark.parametrize(("name", "kind"), [
    ("geoserver21-wmts-cap.xml", "wmts"), ("mapserver-wfs-cap.xml", "wfs"),
    ("wfs_CUZK_GetCapabilities_2_0_0.xml", "wfs"),
    ("wfs_dov_getcapabilities_200.xml", "wfs"), ("wfs_koeln_arcgis_getcapabilities_200.xml", "wfs"),
    ("wms_datageo_caps_130.xml", "wms"), ("wms_dov_getcapabilities_130.xml", "wms"), ("wms_geoserver-cap.xml", "wms")])
def test_capabilities_of_real_servers(name: str, kind: str, operator) -> None:  # type: ignore[no-untyped-def]
    """Capabilities documents that GeoServer, MapServer, ArcGIS and national services answered, served as they were."""
    document = shared(f"real-server-capabilities/{name}").read_bytes()
    with Canned("127.0.0.1", lambda path: (200, {"Content-Type": "application/xml"}, document)) as source:
        harvest.add_source(operator, harvest.HarvestSource("caps", kind, source.url))
        result = harvest.run(operator, "caps")
    assert result.status == "succeeded" and result.added >= 2 and result.failed == 0, result.message
    records = [operator.catalog.get_record(i) for i in source_ids(operator, "caps")]
    assert [r.type for r in records].count("service") == 1
    assert all(r.title and r.links[0]["protocol"] == f"OGC:{kind.upper()}" for r in records)


def test_geonetwork_is_read_through_its_csw(pycsw: Pycsw, operator) -> None:  # type: ignore[no-untyped-def]
    """A GeoNetwork's address stands for its CSW at /srv/eng/csw (here pycsw answers there, behind a proxy)."""
    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/geonetwork/srv/eng/csw?"):
            return 404, {}, b""
        got = httpx.get(pycsw.url + path.split("csw", 1)[1])
        return got.status_code, {"Content-Type": "application/xml"}, got.content

    with Canned("127.0.0.1", answer) as source:
        harvest.add_source(operator, harvest.HarvestSource("gn", "geonetwork", f"{source.url}geonetwork"))
        result = harvest.run(operator, "gn")
    assert (result.status, result.added) == ("succeeded", COUNT), result.message


def certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A certificate authority, and a certificate it signed for the host name localhost: (CA, cert, key) PEM files."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kartenn tests CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def test_https_goes_to_the_checked_address_with_the_host_name(pycsw: Pycsw, operator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The connection goes to the address that was checked, and TLS still checks the certificate against the host
    name of the URL (sent as the server name)."""
    import ssl

    ca, cert, key = certificates(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        got = httpx.get(pycsw.url.rstrip("/") + path)
        return got.status_code, {"Content-Type": "application/xml"}, got.content

    operator.settings.harvest_allow = ["localhost"]
    with Canned("127.0.0.1", answer, tls) as source:
        url = source.url.replace("127.0.0.1", "localhost")
        harvest.add_source(operator, harvest.HarvestSource("tls", "csw", url))
        refused = harvest.run(operator, "tls")  # an authority nobody trusts
        assert refused.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.message, refused.message
        operator.settings.harvest_ca_file = str(ca)
        result = harvest.run(operator, "tls")
        assert (result.status, result.added) == ("succeeded", COUNT), result.message
        harvest.add_source(operator, harvest.HarvestSource("by-address", "csw", source.url))
        operator.settings.harvest_allow = ["localhost", "127.0.0.1"]
        mismatch = harvest.run(operator, "by-address")  # the certificate names localhost, not 127.0.0.1
        assert mismatch.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in mismatch.message, mismatch.message
