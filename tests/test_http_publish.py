"""Publishing over HTTP against a real server, on both stores: uploads, resumable uploads, jobs, restarts."""

from __future__ import annotations

import base64
import os
import signal
import time

import httpx
import pytest

from conftest import LiveServer, shared, wait_job
from kartenn.site import Site
from publishing import store_state

LAKES = "natural-earth/ne_110m_lakes.geojson"


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def test_multipart_upload_of_several_formats(server, editor_token):
    with server.client(editor_token) as http:
        jobs = []
        for path in ("boulder-buildings/boulder_buildings.zip", "rasters/opengeos-dtm.tif",
                     "geonames-cities1000/rg_cities1000.csv"):
            with open(shared(path), "rb") as f:
                r = http.post("/api/v1/uploads", files={"file": (shared(path).name, f)})
            assert r.status_code == 202, r.text
            jobs.append(r.headers["Location"])
        results = [wait_job(http, url) for url in jobs]
        assert [j["state"] for j in results] == ["succeeded"] * 3, results
        assert all(j["progress"] == 1.0 and j["log"] for j in results)
        repaired = "boulder_buildings.zip/boulder_buildings.shp: 10 invalid geometries repaired (make_valid)"
        assert repaired in results[0]["log"]
        assert "path" not in results[0]["params"]
        collections = {c["id"]: c for c in http.get("/ogc/collections").json()["collections"]}
        assert {"boulder-buildings", "opengeos-dtm", "rg-cities1000"} <= set(collections)
        minx, miny, maxx, maxy = collections["boulder-buildings"]["extent"]["spatial"]["bbox"][0]
        assert -105.3 < minx < maxx < -105.2 and 39.9 < miny < maxy < 40.1


def test_upload_options_and_replace(server, editor_token):
    with server.client(editor_token) as http:
        with open(shared(LAKES), "rb") as f:
            r = http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)}, data={"title": "Lacs"})
        dataset_id = wait_job(http, r.headers["Location"])["result"]["datasets"][0]
        with open(shared("france-admin-express-2018/regions.geojson"), "rb") as f:
            r = http.post("/api/v1/uploads", files={"file": ("regions.geojson", f)}, data={"replace": dataset_id})
        job = wait_job(http, r.headers["Location"])
        assert job["state"] == "succeeded" and job["result"]["datasets"] == [dataset_id]
        dataset = http.get(f"/api/v1/datasets/{dataset_id}").json()
        assert dataset["title"] == "Lacs" and dataset["count"] == 13


def test_bad_uploads(server, editor_token):
    with server.client(editor_token) as http:
        r = http.post("/api/v1/uploads", data={"title": "no file"})
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        r = http.post("/api/v1/uploads", files={"file": ("notes.md", b"# not geodata\n")})
        job = wait_job(http, r.headers["Location"])
        assert job["state"] == "failed"
        assert job["message"].startswith("notes.md: not a format Kartenn can read")
        assert str(server.settings.data_dir) not in str(job)
        assert http.get("/api/v1/datasets").json()["datasets"] == []
        for url in ("/api/v1/datasets/nope", "/api/v1/jobs/nope", "/ogc/collections/nope"):
            r = http.get(url)
            assert r.status_code == 404 and r.json()["status"] == 404
        for query in ("limit=-1", "limit=1000000000", "offset=-3"):
            r = http.get(f"/api/v1/datasets?{query}")
            assert r.status_code == 400 and "Traceback" not in r.text


def test_upload_size_cap(site, settings, editor_token):
    config = settings.data_dir / "kartenn.toml"
    config.write_text(config.read_text() + "upload_max_bytes = 100000\n")
    server = LiveServer(settings).start()
    try:
        with server.client(editor_token) as http:
            with open(shared("boulder-buildings/boulder_buildings.zip"), "rb") as f:
                r = http.post("/api/v1/uploads", files={"file": ("b.zip", f)})
            assert r.status_code == 413 and r.json()["title"] == "PayloadTooLarge"
            r = http.post("/api/v1/uploads/resumable", headers={"Tus-Resumable": "1.0.0",
                                                                 "Upload-Length": "200000"})
            assert r.status_code == 413
        assert [p for p in settings.uploads_dir.rglob("*") if p.is_file()] == []
    finally:
        server.stop()


def test_resumable_upload_survives_an_interruption(server, editor_token):
    data = shared("boulder-buildings/boulder_buildings.zip").read_bytes()
    tus = {"Tus-Resumable": "1.0.0"}
    with server.client(editor_token) as http:
        r = http.options("/api/v1/uploads/resumable")
        assert r.headers["Tus-Version"] == "1.0.0" and "creation" in r.headers["Tus-Extension"]
        r = http.post("/api/v1/uploads/resumable", headers={
            **tus, "Upload-Length": str(len(data)), "Upload-Metadata": meta(filename="boulder.zip", title="Bâti")})
        assert r.status_code == 201
        url = r.headers["Location"]
        chunk = {**tus, "Content-Type": "application/offset+octet-stream"}
        # A first part, then the client "goes away" and asks where to resume.
        r = http.patch(url, content=data[:300_000], headers={**chunk, "Upload-Offset": "0"})
        assert r.status_code == 204 and r.headers["Upload-Offset"] == "300000"
        offset = int(http.head(url, headers=tus).headers["Upload-Offset"])
        assert offset == 300_000
        r = http.patch(url, content=data[:10], headers={**chunk, "Upload-Offset": "0"})
        assert r.status_code == 409 and r.headers["Upload-Offset"] == "300000"
        r = http.patch(url, content=data[offset:], headers={**tus, "Content-Type": "text/plain",
                                                            "Upload-Offset": str(offset)})
        assert r.status_code == 415
        while offset < len(data):
            part = data[offset:offset + 400_000]
            r = http.patch(url, content=part, headers={**chunk, "Upload-Offset": str(offset)})
            assert r.status_code == 204
            offset = int(r.headers["Upload-Offset"])
        job = wait_job(http, r.headers["Kartenn-Job"])
        assert job["state"] == "succeeded", job
        dataset = http.get(f"/api/v1/datasets/{job['result']['datasets'][0]}").json()
        assert dataset["title"] == "Bâti" and dataset["count"] == 13491
        assert http.head(url.rsplit("/", 1)[0] + "/0123456789abcdef", headers=tus).status_code == 404


@pytest.fixture
def big_csv(tmp_path):
    lines = shared("geonames-cities1000/rg_cities1000.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "cities_x6.csv"
    path.write_text(lines[0] + "\n" + ("\n".join(lines[1:]) + "\n") * 6, encoding="utf-8")
    return path


def test_restart_fails_the_running_job_and_runs_the_queued_one(site, settings, big_csv, editor_token):
    before = store_state(site)
    server = LiveServer(settings).start()
    try:
        with server.client(editor_token) as http:
            with open(big_csv, "rb") as f:
                running = httpx.URL(http.post("/api/v1/uploads", files={"file": ("cities.csv", f)})
                                    .headers["Location"]).path
            with open(shared(LAKES), "rb") as f:
                queued = httpx.URL(http.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)})
                                   .headers["Location"]).path
            deadline = time.monotonic() + 60
            while http.get(running).json()["state"] != "running":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)
            assert http.get(queued).json()["state"] == "queued"
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    finally:
        server.stop()
    server = LiveServer(settings).start()
    try:
        with server.client(editor_token) as http:
            job = http.get(running).json()
            assert job["state"] == "failed" and "interrupted" in job["message"]
            assert wait_job(http, queued)["state"] == "succeeded"
            ids = [d["id"] for d in http.get("/api/v1/datasets").json()["datasets"]]
            assert ids == ["lakes"]
    finally:
        server.stop()
    reopened = Site.open(settings)
    try:
        after = store_state(reopened)
        assert [d[0] for d in after["datasets"]] == ["lakes"]
        assert after["staging"] == before["staging"] == []
        assert not any("cities" in name for name in after["files"] + after.get("tables", []))
    finally:
        reopened.close()


def test_healthz(server):
    with server.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
