"""The publish-then-serve path, end to end, on both stores."""

from __future__ import annotations

from conftest import kartenn, shared, wait_job


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
