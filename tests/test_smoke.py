"""The publish-then-serve path, end to end, on both stores."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from conftest import cli_env, kartenn, shared, wait_job
from kartenn.testing.postgres import free_port


def test_cli_ingest_then_serve(site, settings, server, editor_token):
    result = kartenn("ingest", "--data-dir", str(settings.data_dir),
                     str(shared("osm-poi-portugal/poi_portugal.gpkg")), settings=settings, check=True)
    assert "poi-portugal" in result.stdout
    with server.client(editor_token) as http:
        collections = http.get("/ogc/collections").json()["collections"]
        ids = [c["id"] for c in collections]
        assert "poi-portugal" in ids
        poi = next(c for c in collections if c["id"] == "poi-portugal")
        minx, miny, maxx, maxy = poi["extent"]["spatial"]["bbox"][0]
        assert -32 < minx < maxx < -6 and 32 < miny < maxy < 43
        datasets = http.get("/api/v1/datasets").json()["datasets"]
        assert {d["id"]: d["count"] for d in datasets}["poi-portugal"] == 8107


def test_upload_publishes(server, editor_token):
    with server.client(editor_token) as http:
        with open(shared("natural-earth/ne_110m_lakes.geojson"), "rb") as f:
            r = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)}, data={"title": "Lakes"})
        assert r.status_code == 202, r.text
        job = wait_job(http, r.headers["Location"])
        assert job["state"] == "succeeded", job
        dataset = http.get(f"/api/v1/datasets/{job['result']['datasets'][0]}").json()
        assert dataset["title"] == "Lakes" and dataset["count"] == 25
        assert dataset["record"]["lineage"].startswith("Ingested from lakes.geojson on ")


def test_processes_create_the_postgres_schema_one_at_a_time(pg_cluster, tmp_path):
    """A server's worker processes open the site together: each takes the schema lock first, so one waits while
    another creates or upgrades the schema (running the same DDL at once fails)."""
    import threading

    import psycopg

    from kartenn.config import Settings
    from kartenn.site import Site
    from kartenn.stores.base import SCHEMA_LOCK

    url = pg_cluster.create_database("schema_lock")
    opened: list[Site] = []
    with psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))  # another process, mid-upgrade
        opener = threading.Thread(target=lambda: opened.append(
            Site.open(Settings.load(tmp_path / "site", database_url=url), create=True)))
        opener.start()
        opener.join(2)
        assert opener.is_alive() and not opened  # waiting for the lock
        holder.rollback()  # the other process is done
        opener.join(60)
    assert len(opened) == 1
    opened[0].close()


def _sockets_by_process(port: int, pids: list[int]) -> dict[int, dict[str, set[str]]]:
    """For each process, the inodes of its listening and established TCP sockets on ``port`` (from /proc)."""
    states = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                states[fields[9]] = {"0A": "listen", "01": "established"}.get(fields[3], "other")
    out = {}
    for pid in pids:
        found: dict[str, set[str]] = {"listen": set(), "established": set(), "other": set()}
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in states:
                found[states[target[8:-1]]].add(target[8:-1])
        out[pid] = found
    return out


def test_worker_processes_each_listen_and_share_the_connections(settings, site):
    """`kartenn serve --workers 2`: a listening socket per process, so a burst of new connections goes to both,
    not all to the first process that wakes; SIGTERM stops them all."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kartenn.cli", "serve", "--data-dir", str(settings.data_dir),
                             "--port", str(port), "--workers", "2"], env=cli_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = [int(c) for c in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
                        if b"spawn_main" in open(f"/proc/{c}/cmdline", "rb").read()]  # not the resource tracker
            found = _sockets_by_process(port, children) if len(children) == 2 else {}
            if found and all(f["listen"] for f in found.values()):
                break
            time.sleep(0.2)
        listening = [f["listen"] for f in _sockets_by_process(port, children).values()]
        assert len(children) == 2 and all(len(s) == 1 for s in listening) and listening[0] != listening[1]
        # A worker listens before its application has started: a first burst waits for both to answer.
        # Then a burst of 16 connections, as a proxy or a load of clients opens them, then a request on each.
        for burst in range(2):
            for c in clients:
                c.close()
            clients = [socket.create_connection(("127.0.0.1", port), timeout=120) for _ in range(16)]
            for c in clients:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert all(c.recv(64).startswith(b"HTTP/1.1 200") for c in clients), burst
        held = {pid: len(f["established"]) for pid, f in _sockets_by_process(port, children).items()}
        assert sum(held.values()) == 16 and all(held.values()), held  # both serve (all on one: 2 ** -15)
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    assert all(not os.path.exists(f"/proc/{pid}") for pid in children)


def test_worker_processes_refuse_a_port_in_use(settings, site):
    """Even a port held with SO_REUSEPORT (another server's workers) is refused before any worker starts."""
    port = free_port()
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        result = kartenn("serve", "--data-dir", str(settings.data_dir), "--port", str(port), "--workers", "2",
                         settings=settings, timeout=60)
    finally:
        holder.close()
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
