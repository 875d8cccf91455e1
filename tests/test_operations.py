"""Operations: /readyz checks the store, /metrics in Prometheus' format for the allowed networks and administrators
only, JSON logs, and SIGTERM letting a request in flight finish."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import AppServer, LiveServer, cli_env
from kartenn import metrics
from kartenn.config import CONFIG_FILE, Settings
from kartenn.domain import Job, JobState
from kartenn.services.identity import create_token
from kartenn.site import Site
from kartenn.testing.postgres import free_port

CSW_CAPABILITIES = (b'<csw:GetCapabilities xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" service="CSW">'
                    b"</csw:GetCapabilities>")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by name and labels (the parser refuses what is not Prometheus' format)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def requests_of(found: dict, family: str, status: str) -> float:
    return found.get(("kartenn_http_requests_total", (("family", family), ("status", status))), 0.0)


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("/ows", b"service=WMS&request=GetMap", "wms"), ("/ows", b"SERVICE=wfs", "wfs"), ("/ows", b"", "ows"),
    ("/ows", b"SERVICE=nonsense", "ows"), ("/wmts", b"", "wmts"), ("/csw", b"", "csw"), ("/wcs", b"", "wcs"),
    ("/ogc/collections/roads/items/12", b"", "ogc-features"),
    ("/ogc/collections/roads/queryables", b"", "ogc-features"),
    ("/ogc/collections/roads/tiles/WebMercatorQuad/3/4/2", b"", "ogc-tiles"), ("/ogc/tileMatrixSets", b"", "ogc-tiles"),
    ("/ogc/collections/roads/map", b"", "ogc-maps"), ("/ogc/collections/catalog/items", b"", "ogc-records"),
    ("/ogc/collections/gauges/position", b"", "ogc-edr"), ("/ogc/conformance", b"", "ogc"),
    ("/api/v1/datasets", b"", "api"), ("/auth/login", b"", "auth"), ("/static/app.js", b"", "static"),
    ("/metrics", b"", "ops"), ("/", b"", "portal"), ("/datasets/roads", b"", "portal")])
def test_service_family_of_a_request(path, query, expected):
    assert metrics.family(path, query) == expected


def test_metrics_count_requests_by_family_and_jobs_by_state(server, site):
    client = server.client()
    before = samples(client.get("/metrics").text)
    assert client.get("/ows", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}).status_code == 200
    assert client.get("/ogc/collections/nowhere/items").status_code == 404
    assert client.post("/csw", content=CSW_CAPABILITIES).status_code == 200
    site.catalog.add_job(Job(id=uuid.uuid4().hex, kind="ingest", state=JobState.failed))
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = samples(response.text)
    assert requests_of(after, "wms", "2xx") - requests_of(before, "wms", "2xx") == 1
    assert requests_of(after, "ogc-features", "4xx") - requests_of(before, "ogc-features", "4xx") == 1
    assert requests_of(after, "csw", "2xx") - requests_of(before, "csw", "2xx") == 1
    count = ("kartenn_http_request_duration_seconds_count", (("family", "wms"),))
    assert after[count] - before.get(count, 0) == 1
    assert after[("kartenn_jobs", (("state", "failed"),))] == 1
    assert after[("kartenn_jobs", (("state", "running"),))] == 0


def test_metrics_only_for_allowed_networks_and_administrators(settings, site):
    (settings.data_dir / CONFIG_FILE).write_text('metrics_allow = "10.0.0.0/8, fd00::/8"\n')
    site.accounts.add_user("root", admin=True)
    site.accounts.add_user("someone")
    admin, user = create_token(site, "root", name="tests"), create_token(site, "someone", name="tests")
    server = AppServer(settings).start()  # from 127.0.0.1, outside the allowed networks
    try:
        refused = server.client().get("/metrics")
        assert refused.status_code == 403 and "kartenn_http_requests" not in refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert server.client(user).get("/metrics").status_code == 403
        allowed = server.client(admin).get("/metrics")
        assert allowed.status_code == 200 and "kartenn_http_requests_total" in allowed.text
        assert server.client("kt_not-a-token").get("/metrics").status_code == 401
    finally:
        server.stop()


def test_readyz_answers_when_the_store_answers(server):
    response = server.client().get("/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_readyz_is_503_while_the_database_refuses_connections(pg_cluster, tmp_path):
    name = f"ready{uuid.uuid4().hex[:8]}"
    settings = Settings.load(tmp_path / "site", database_url=pg_cluster.create_database(name))
    Site.open(settings, create=True).close()
    server = AppServer(settings).start()
    admin = psycopg.connect(pg_cluster.url(), autocommit=True)
    try:
        client = server.client()
        assert client.get("/readyz").status_code == 200
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        refused = client.get("/readyz")
        assert refused.status_code == 503 and refused.json() == {"status": "the store does not answer"}
        assert client.get("/healthz").status_code == 200  # alive: the process need not be restarted
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert client.get("/readyz").status_code == 200
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        server.stop()


def test_readyz_is_503_when_the_embedded_catalogue_is_unreadable(tmp_path):
    settings = Settings.load(tmp_path / "site")
    Site.open(settings, create=True).close()
    server = AppServer(settings).start()
    try:
        client = server.client()
        assert client.get("/readyz").status_code == 200
        catalogue = settings.data_dir / "catalog.sqlite"
        saved = catalogue.read_bytes()
        catalogue.write_bytes(b"not a database" * 1024)
        assert client.get("/readyz").status_code == 503
        catalogue.write_bytes(saved)
    finally:
        server.stop()


def embedded_site(tmp_path, config: str) -> Settings:
    settings = Settings.load(tmp_path / "site")
    Site.open(settings, create=True).close()
    (settings.data_dir / CONFIG_FILE).write_text(config)
    return settings


@pytest.mark.live
def test_json_logs_one_object_per_line_with_the_requests_fields(tmp_path):
    settings = embedded_site(tmp_path, 'log_format = "json"\n')
    server = LiveServer(settings).start()
    try:
        assert server.client().get("/ogc/collections/nowhere/items").status_code == 404
    finally:
        server.stop()
    lines = [line for line in (settings.data_dir / "server.log").read_text().splitlines()
             if not line.startswith("Serving ")]  # the command's own first line, before logging starts
    entries = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    access = [e for e in entries if e["logger"] == "kartenn.access" and e["path"] == "/ogc/collections/nowhere/items"]
    assert len(access) == 1
    assert access[0]["method"] == "GET" and access[0]["status"] == 404 and access[0]["duration"] >= 0
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]  # no second, duration-less line
    assert any(e["logger"] == "uvicorn.error" and "Application startup complete" in e["message"] for e in entries)


def wait_for_line(path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)


@pytest.mark.live
def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    """A request whose body is still arriving when SIGTERM comes is answered in full; then the process exits."""
    settings = embedded_site(tmp_path, "")
    server = LiveServer(settings).start()
    log = settings.data_dir / "server.log"
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    try:
        conn.sendall(b"POST /csw HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(CSW_CAPABILITIES))
        # uvicorn sends "100 Continue" when the application asks for the body: the request is in flight.
        assert conn.recv(64).startswith(b"HTTP/1.1 100")
        server.proc.send_signal(signal.SIGTERM)
        wait_for_line(log, "Waiting for connections to close")
        with pytest.raises(httpx.ConnectError):  # no new connection is taken meanwhile
            httpx.get(f"{server.url}/healthz", timeout=5)
        conn.sendall(CSW_CAPABILITIES)
        answer = b""
        while b"</csw:Capabilities>" not in answer:
            chunk = conn.recv(65536)
            assert chunk, answer[:300]
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        # uvicorn ends by raising the signal it caught again, once its shutdown is done
        assert server.proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        conn.close()
        server.stop()


@pytest.mark.live
def test_metrics_add_up_every_worker_process(tmp_path):
    """With --workers 2 each process counts in its own files; /metrics reports the sum of both."""
    settings = embedded_site(tmp_path, "")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kartenn.cli", "serve", "--data-dir", str(settings.data_dir),
                             "--port", str(port), "--workers", "2"], env=cli_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = 0
        while ready < 8:  # both processes answer (each new connection may reach either)
            assert time.monotonic() < deadline, "the server did not start"
            try:
                ready += httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        for _ in range(12):  # a new connection each: the kernel spreads them over both processes
            response = httpx.get(f"{url}/ows", params={"SERVICE": "WMS", "REQUEST": "GetCapabilities"}, timeout=60)
            assert response.status_code == 200
        found = samples(httpx.get(f"{url}/metrics", timeout=60).text)
        assert requests_of(found, "wms", "2xx") == 12  # one process alone counted fewer (all on one: 2 ** -11)
        assert requests_of(found, "ops", "2xx") >= 8
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0
