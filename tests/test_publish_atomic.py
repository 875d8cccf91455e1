"""Publication is all or nothing: a killed process or a late failure leaves the store as it was."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyogrio
import pytest
import shapely

from conftest import cli_env, shared
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publish_data import REGIONS, convert, store_state, stored_rows

CITIES = "geonames-cities1000/rg_cities1000.csv"


def cities() -> list[dict[str, str]]:
    with open(shared(CITIES), encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def seed(site: Site) -> None:
    outcomes = publish_file(site, REGIONS)
    assert outcomes[0].dataset is not None


def copy_running(site: Site) -> bool:
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url) as conn:
            rows = conn.execute("SELECT query FROM pg_stat_activity WHERE query ILIKE 'COPY %%' "
                                "AND pid <> pg_backend_pid()").fetchall()
        return bool(rows)
    return any(p.name.startswith("ingest-") for p in site.settings.staging_dir.iterdir())


def test_killed_ingest_leaves_nothing(site: Site, tmp_path: Path) -> None:
    seed(site)
    before = store_state(site)
    # About a million real places: the geonames file written seven times over.
    big = tmp_path / "places.csv"
    rows = cities()
    with open(big, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lat", "lon", "name", "admin1", "admin2", "cc"])
        for _ in range(7):
            w.writerows([r["lat"], r["lon"], r["name"], r["admin1"], r["admin2"], r["cc"]] for r in rows)
    cmd = [sys.executable, "-m", "kartenn.cli", "ingest", "--data-dir", str(site.settings.data_dir), str(big)]
    proc = subprocess.Popen(cmd, env=cli_env(site.settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not copy_running(site):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        time.sleep(1)
        assert proc.poll() is None, "the load finished before it could be interrupted"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    site.close()
    reopened = Site.open(site.settings)
    try:
        if reopened.settings.uses_postgis:
            # The server rolls back the killed client's transaction once it notices the closed socket.
            deadline = time.monotonic() + 30
            while copy_running(reopened) and time.monotonic() < deadline:
                time.sleep(0.1)
            reopened.reconcile()
        assert store_state(reopened) == before
        assert [d.id for d in reopened.catalog.list_datasets()] == ["regions"]
    finally:
        reopened.close()


def test_invalid_wkt_late_in_the_file(site: Site, tmp_path: Path) -> None:
    seed(site)
    before = store_state(site)
    path = tmp_path / "places_wkt.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "wkt"])
        for i, r in enumerate(cities()[:40_000]):
            w.writerow([r["name"], "POINT (oops" if i == 30_000 else f"POINT ({r['lon']} {r['lat']})"])
    outcomes = publish_file(site, path)
    assert outcomes[0].dataset is None
    assert outcomes[0].error == "places_wkt.csv: row 30001: 'POINT (oops' in column wkt is not valid WKT"
    assert store_state(site) == before


def test_text_among_coordinates_late_in_the_file(site: Site, tmp_path: Path) -> None:
    seed(site)
    before = store_state(site)
    lines = shared(CITIES).read_text(encoding="utf-8").splitlines()[:40_001]
    lines[30_001] = "north," + lines[30_001].split(",", 1)[1]
    path = tmp_path / "places.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcomes = publish_file(site, path)
    assert outcomes[0].dataset is None
    assert outcomes[0].error == "places.csv: In CSV column #0: CSV conversion error to double: invalid value 'north'"
    assert store_state(site) == before


def test_truncated_flatgeobuf(site: Site, tmp_path: Path) -> None:
    seed(site)
    before = store_state(site)
    full = convert(shared("france-admin-express-2018/departements.geojson"), tmp_path / "full.fgb", "FlatGeobuf")
    path = tmp_path / "departements.fgb"
    path.write_bytes(full.read_bytes()[: full.stat().st_size * 6 // 10])
    outcomes = publish_file(site, path)
    assert outcomes[0].dataset is None
    assert outcomes[0].error is not None
    assert outcomes[0].error.startswith("departements.fgb: cannot be read to the end (")
    assert str(tmp_path) not in outcomes[0].error
    assert store_state(site) == before


def test_polygon_late_in_a_point_layer(site: Site, tmp_path: Path) -> None:
    seed(site)
    before = store_state(site)
    _, regions = pyogrio.read_arrow(REGIONS)
    region = shapely.from_wkb(regions.column("wkb_geometry")[0].as_py())
    path = tmp_path / "places.geojsonl"
    with open(path, "w", encoding="utf-8") as f:
        for i, r in enumerate(cities()[:40_000]):
            geometry = region if i == 30_000 else shapely.Point(float(r["lon"]), float(r["lat"]))
            feature = {"type": "Feature", "properties": {"name": r["name"]},
                       "geometry": json.loads(shapely.to_geojson(geometry))}
            f.write(json.dumps(feature) + "\n")
    outcomes = publish_file(site, path)
    assert outcomes[0].dataset is None
    assert outcomes[0].error == f"feature 30001 is a {region.geom_type} in a Point layer"
    assert store_state(site) == before


def test_replace_keeps_identity(site: Site) -> None:
    first = publish_file(site, REGIONS)[0].dataset
    assert first is not None
    record = site.catalog.get_record(first.record_id)
    departements = shared("france-admin-express-2018/departements.geojson")
    outcome = publish_file(site, departements, replace=first.id)[0]
    assert outcome.error is None and outcome.dataset is not None
    after = site.catalog.get_dataset(first.id)
    assert (after.id, after.record_id, after.title) == (first.id, first.record_id, first.title)
    assert after.created == first.created
    assert after.count == 96 and after.storage != first.storage
    assert [d.id for d in site.catalog.list_datasets()] == [first.id]
    assert site.catalog.count_records() == 1
    new_record = site.catalog.get_record(first.record_id)
    assert new_record.id == record.id and "departements.geojson" in new_record.lineage
    assert "Ain" in stored_rows(site, after.storage).column("nom").to_pylist()
    state = store_state(site)
    if site.settings.uses_postgis:
        assert state["tables"] == [after.storage]
    else:
        assert state["features"] == [f"{after.storage}.gpkg"]
    assert state["staging"] == []


def test_replace_with_bad_file_keeps_old(site: Site, tmp_path: Path) -> None:
    first = publish_file(site, REGIONS)[0].dataset
    assert first is not None
    before = store_state(site)
    bad = tmp_path / "regions.csv"
    bad.write_text("name,population\nRennes,220000\n", encoding="utf-8")
    with pytest.raises(Exception, match="no coordinates found"):
        publish_file(site, bad, replace=first.id)
    assert store_state(site) == before
    assert site.catalog.get_dataset(first.id).count == 13


def test_replace_vector_by_raster(site: Site) -> None:
    first = publish_file(site, REGIONS)[0].dataset
    assert first is not None
    outcome = publish_file(site, shared("rasters/RGB.byte.tif"), replace=first.id)[0]
    assert outcome.dataset is not None and outcome.dataset.kind == "raster"
    after = site.catalog.get_dataset(first.id)
    assert (after.kind, after.record_id) == ("raster", first.record_id)
    state = store_state(site)
    assert state["files"] == [after.storage] and state["features"] == []
    assert state.get("tables", []) == []


def test_replace_keeps_what_people_wrote(site: Site) -> None:
    """A new version of the data refreshes what the data says (extent, attributes, lineage made here) and keeps the
    description people wrote; the record's dates and formats make the year and format facets count it."""
    from dataclasses import replace

    from kartenn.services.records import search_records
    from kartenn.stores.record_index import RecordQuery

    first = publish_file(site, REGIONS)[0].dataset
    assert first is not None
    record = site.catalog.get_record(first.record_id)
    today = record.dates["creation"]
    assert record.dates["revision"] == today and record.year == int(today[:4])
    assert "GeoPackage" in record.formats
    written = replace(record, abstract="Les régions.", keywords=["régions", "limites"], topics=["boundaries"],
                      lineage="Admin Express 2018, simplifié.", language="fre", constraints=["Licence Ouverte"])
    with site.catalog.engine.begin() as conn:
        site.catalog.put_record(conn, written)
    outcome = publish_file(site, shared("france-admin-express-2018/departements.geojson"), replace=first.id)[0]
    assert outcome.error is None
    after = site.catalog.get_record(first.record_id)
    assert (after.abstract, after.keywords, after.topics, after.lineage, after.constraints) == (
        "Les régions.", ["régions", "limites"], ["boundaries"], "Admin Express 2018, simplifié.", ["Licence Ouverte"])
    assert after.dates["creation"] == today and site.catalog.get_dataset(first.id).count == 96
    facets = search_records(site, RecordQuery(facets=True)).facets
    assert ("GeoPackage", 1) in facets["format"]
    assert facets["year"] == [(today[:4], 1)]
    assert ("régions", 1) in facets["keyword"]
