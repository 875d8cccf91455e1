"""Publication is atomic: a killed process or a failure midway leaves the store exactly as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import cli_env, shared
from kartenn.errors import NotFound
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publishing import store_state, stored_rows

CITIES = "geonames-cities1000/rg_cities1000.csv"


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """About 870,000 real GeoNames rows (the file six times): long enough to kill mid-load."""
    lines = shared(CITIES).read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("big") / "cities_x6.csv"
    with open(path, "w", encoding="utf-8") as out:
        out.write(lines[0] + "\n")
        for _ in range(6):
            out.write("\n".join(lines[1:]) + "\n")
    return path


def loading(site: Site) -> bool:
    """True once features are being written: a staged GeoPackage, or a COPY running in PostgreSQL."""
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY%%'").fetchone()
        return bool(row and row[0])
    return any(site.settings.staging_dir.glob("*/data.gpkg"))


def test_killed_ingest_leaves_nothing(site, settings, big_csv):
    publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))
    before = store_state(site)
    cmd = [sys.executable, "-m", "kartenn.cli", "ingest", "--data-dir", str(settings.data_dir), str(big_csv)]
    proc = subprocess.Popen(cmd, env=cli_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not loading(site):
            assert proc.poll() is None, "ingest ended before it could be killed"
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        time.sleep(0.5)
        assert proc.poll() is None, "ingest ended before it could be killed"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    if not settings.uses_postgis:
        assert list(settings.staging_dir.iterdir()), "a killed load should have left its staging folder"
    reopened = Site.open(settings)
    try:
        assert store_state(reopened) == before
    finally:
        reopened.close()


def failing_csv(path: Path, bad_line: str) -> Path:
    rows = ["name,wkt"] + [f"p{i},POINT ({i % 180} {i % 80})" for i in range(30_000)] + [bad_line]
    rows += [f"q{i},POINT (1 1)" for i in range(100)]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("bad_line, message", [
    ("broken,POINT (1 ", "not valid WKT"),
    ('late,"POLYGON ((0 0, 1 0, 1 1, 0 0))"', "feature 30001 is a Polygon in a Point layer"),
])
def test_failure_late_in_the_stream_leaves_nothing(site, tmp_path, bad_line, message):
    publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))
    before = store_state(site)
    (outcome,) = publish_file(site, failing_csv(tmp_path / "late.csv", bad_line))
    assert outcome.dataset is None and message in (outcome.error or "")
    assert store_state(site) == before


def test_replace_keeps_id_and_record(site):
    (first,) = [o.dataset for o in publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"))]
    (second,) = [o.dataset for o in publish_file(site, shared("france-admin-express-2018/regions.geojson"),
                                                   replace=first.id)]
    assert (second.id, second.record_id, second.created) == (first.id, first.record_id, first.created)
    assert second.count == 13 and second.storage != first.storage
    assert len(stored_rows(site, second)) == 13
    assert [d.id for d in site.catalog.list_datasets()] == [first.id]
    assert site.catalog.get_record(first.record_id).title == first.title
    state = store_state(site)
    assert not any(first.storage in name for name in state["files"] + state.get("tables", []))


def test_replace_unknown_dataset(site):
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        publish_file(site, shared("natural-earth/ne_110m_lakes.geojson"), replace="nope")
