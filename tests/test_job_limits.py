"""One small upload cannot block ingest: declared sizes are refused before any work, a job that passes its
time, memory or disk limit fails cleanly in its own process, and one user's big job does not hold back
another user's small one. On both stores."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import LiveServer, shared, wait_job
from kartenn.config import Settings
from kartenn.errors import TooLarge
from kartenn.services.identity import create_token
from kartenn.services.jobs import JobRunner
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publishing import store_state

LAKES = "natural-earth/ne_110m_lakes.geojson"
CITIES = "geonames-cities1000/rg_cities1000.csv"


@pytest.fixture
def huge_tif(tmp_path: Path) -> Path:
    """A sparse GeoTIFF of about a megabyte declaring 100000 × 100000 pixels (10 GB uncompressed)."""
    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=100_000, height=100_000, count=1, dtype="uint8",
                       tiled=True, compress="deflate", sparse_ok=True, crs="EPSG:4326",
                       transform=from_origin(-180, 90, 0.0036, 0.0018)):
        pass
    assert path.stat().st_size < 2_000_000
    return path


def places(folder: Path, times: int) -> Path:
    """The geonames places written ``times`` over: 145,000 real places each time."""
    lines = shared(CITIES).read_text(encoding="utf-8").splitlines()
    path = folder / "places.csv"
    path.write_text(lines[0] + "\n" + ("\n".join(lines[1:]) + "\n") * times, encoding="utf-8")
    return path


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    """About 870,000 places: some seconds of work."""
    return places(tmp_path, 6)


def limited_site(tmp_path: Path, database_url: str | None, **limits: int) -> Iterator[Site]:
    site = Site.open(Settings.load(tmp_path / "limited", database_url=database_url, **limits), create=True)
    yield site
    site.close()


def run_job(site: Site, path: Path) -> dict:
    """Ingest ``path`` as an upload would: a copy in the uploads folder, a job, its end."""
    folder = site.settings.uploads_dir / "test"
    folder.mkdir()
    shutil.copy(path, folder / path.name)
    runner = JobRunner(site)
    try:
        job = runner.submit("ingest", {"path": str(folder / path.name), "filename": path.name})
        deadline = time.monotonic() + 180
        while (job := site.catalog.get_job(job.id)).state.value in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
    finally:
        runner.shutdown()
    return job.as_dict()


def assert_left_nothing(site: Site, before: dict) -> None:
    assert store_state(site) == before
    assert list(site.settings.staging_dir.iterdir()) == []
    assert [p for p in site.settings.uploads_dir.rglob("*")] == []


def test_sparse_huge_geotiff_refused_before_work(site: Site, huge_tif: Path) -> None:
    before = store_state(site)
    with pytest.raises(TooLarge) as info:
        publish_file(site, huge_tif)
    assert "huge.tif: declares 100000×100000 pixels × 1 band(s), 10000000000 bytes" in info.value.message
    assert str(huge_tif.parent) not in info.value.message
    assert_left_nothing(site, before)
    job = run_job(site, huge_tif)
    assert job["state"] == "failed" and "more than the 4294967296 allowed" in job["message"], job
    assert_left_nothing(site, before)


def test_raster_band_and_feature_counts(tmp_path: Path, database_url: str | None) -> None:
    for site in limited_site(tmp_path, database_url, raster_max_bands=2, ingest_max_features=3):
        before = store_state(site)
        with pytest.raises(TooLarge, match="RGB.byte.tif: 3 bands, more than the 2 allowed"):
            publish_file(site, shared("rasters/RGB.byte.tif"))
        # A Shapefile says how many features it holds; a CSV is counted as it is read.
        with pytest.raises(TooLarge, match="'nybb' declares 5 features, more than the 3 allowed"):
            publish_file(site, shared("nyc-boroughs/nybb_16a.zip"))
        outcome = publish_file(site, shared(CITIES))[0]
        assert outcome.error and "has more than the 3 features allowed" in outcome.error, outcome
        assert_left_nothing(site, before)


def test_job_over_its_time_limit_fails_cleanly(tmp_path: Path, database_url: str | None) -> None:
    # 2.2 million places take some 25 s: the job is stopped in the middle of its load.
    for site in limited_site(tmp_path, database_url, job_max_seconds=6):
        before = store_state(site)
        job = run_job(site, places(tmp_path, 15))
        assert job["state"] == "failed", job
        assert job["message"] == "stopped: over the job time limit of 6 s (job_max_seconds)"
        assert_left_nothing(site, before)


def test_job_over_its_disk_limit_fails_cleanly(tmp_path: Path, database_url: str | None) -> None:
    # The Shapefile's .shp alone unpacks to 3 MB.
    for site in limited_site(tmp_path, database_url, job_max_disk_mb=2):
        before = store_state(site)
        job = run_job(site, shared("boulder-buildings/boulder_buildings.zip"))
        assert job["state"] == "failed", job
        assert job["message"] == "stopped: over the job disk limit of 2 MB (job_max_disk_mb)"
        assert_left_nothing(site, before)


def test_job_over_its_memory_limit_fails_cleanly(tmp_path: Path, database_url: str | None) -> None:
    # A 53 MB GeoJSON (the départements 13 times over) is read whole by GDAL: it takes more than 800 MB of
    # address space beside the libraries, and is published within the default limit.
    data = json.loads(shared("france-admin-express-2018/departements-avec-outre-mer.geojson").read_text())
    data["features"] *= 13
    path = tmp_path / "departements.geojson"
    path.write_text(json.dumps(data))
    for site in limited_site(tmp_path, database_url, job_max_memory_mb=800, job_max_seconds=120):
        before = store_state(site)
        job = run_job(site, path)
        assert job["state"] == "failed", job
        assert job["message"].startswith("stopped: over the job memory limit of 800 MB (job_max_memory_mb)"), job
        assert_left_nothing(site, before)


def tus_meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def test_huge_raster_upload_answered_413(server: LiveServer, editor_token: str, huge_tif: Path) -> None:
    data = huge_tif.read_bytes()
    with server.client(editor_token) as http:
        r = http.post("/api/v1/uploads", files={"file": ("huge.tif", data)})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json", r.text
        assert "declares 100000×100000 pixels" in r.json()["detail"]
        tus = {"Tus-Resumable": "1.0.0"}
        r = http.post("/api/v1/uploads/resumable", headers={**tus, "Upload-Length": str(len(data)),
                                                             "Upload-Metadata": tus_meta(filename="huge.tif")})
        url = r.headers["Location"]
        r = http.patch(url, content=data, headers={**tus, "Content-Type": "application/offset+octet-stream",
                                                   "Upload-Offset": "0"})
        assert r.status_code == 413 and "declares 100000×100000 pixels" in r.json()["detail"], r.text
        r = http.patch(url, content=b"x", headers={**tus, "Content-Type": "application/offset+octet-stream",
                                                   "Upload-Offset": str(len(data))})
        assert r.status_code == 409
        assert http.get("/api/v1/jobs").json()["jobs"] == []
    settings = server.settings
    assert [p for p in settings.uploads_dir.rglob("*") if p.is_file() and p.name != "meta.json"] == []
    assert list(settings.staging_dir.iterdir()) == []


def test_another_users_small_job_runs_beside_a_big_one(site: Site, server: LiveServer, editor_token: str,
                                                       big_csv: Path) -> None:
    site.accounts.add_user("bob")
    site.accounts.set_membership("bob", "iuem", "editor")
    bob = create_token(site, "bob")
    with server.client(editor_token) as anne, server.client(bob) as other:
        big = []
        for _ in range(2):
            with open(big_csv, "rb") as f:
                big.append(anne.post("/api/v1/uploads", files={"file": ("places.csv", f)}).headers["Location"])
        with open(shared(LAKES), "rb") as f:
            small = other.post("/api/v1/uploads", files={"file": ("lakes.geojson", f)}).headers["Location"]
        job = wait_job(other, small)
        assert job["state"] == "succeeded", job
        # Anne's first job still runs; her second waits for it, as one user runs one job at a time.
        assert [anne.get(url).json()["state"] for url in big] == ["running", "queued"]
