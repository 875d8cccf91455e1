"""A site records its store when it is made: no command opens it with another one, and clean-up loses nothing.

Run through the real command line (and server) against a real PostgreSQL cluster.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import LiveServer, cli_env, kartenn, shared
from kartenn.config import Settings
from kartenn.testing.postgres import TemporaryCluster
from publish_data import REGIONS

DEM = "rasters/opengeos-dtm.tif"


def with_url(data_dir: Path, url: str | None) -> Settings:
    """What a command run with (or without) KARTENN_DATABASE_URL=url sees."""
    return Settings(data_dir=data_dir, database_url=url)


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def rasters(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "files").glob("*.tif"))


def test_postgis_site_opens_only_with_its_database(pg_cluster: TemporaryCluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database("bound_site")
    secret_url = url.replace("postgres@", "postgres:s3cret-pw@")  # trust authentication: the password is not checked
    root = tmp_path / "site"
    pg = with_url(root, secret_url)
    kartenn("init", str(root), settings=pg, check=True)
    kartenn("ingest", "--data-dir", str(root), str(shared(DEM)), str(REGIONS), settings=pg, check=True)
    [raster] = rasters(root)

    recorded = (root / "store.toml").read_text(encoding="utf-8")
    assert "postgis" in recorded and "bound_site" in recorded and "s3cret" not in recorded
    assert (root / "kartenn.toml").stat().st_mode & 0o077 == 0

    without = with_url(root, None)
    refused(kartenn("datasets", "--data-dir", str(root), settings=without), "PostGIS", "KARTENN_DATABASE_URL",
            "bound_site")
    refused(kartenn("init", str(root), settings=without), "PostGIS")
    with pytest.raises(RuntimeError, match="keeps its catalogue and features in PostGIS"):
        LiveServer(without).start()
    assert raster.exists() and not (root / "catalog.sqlite").exists()

    empty = pg_cluster.create_database("another_db")
    refused(kartenn("datasets", "--data-dir", str(root), settings=with_url(root, empty)), "another_db",
            "not the one")
    refused(kartenn("init", str(root), settings=with_url(root, empty)), "another_db")
    other_site = tmp_path / "other"
    kartenn("init", str(other_site), settings=with_url(other_site, empty), check=True)
    refused(kartenn("datasets", "--data-dir", str(root), settings=with_url(root, empty)), "another Kartenn site")
    assert raster.exists()

    listed = kartenn("datasets", "--data-dir", str(root), settings=with_url(root, url), check=True)
    assert "opengeos-dtm" in listed.stdout and "regions" in listed.stdout
    assert raster.exists()


def test_embedded_site_refuses_a_database_url(pg_cluster: TemporaryCluster, tmp_path: Path) -> None:
    root = tmp_path / "site"
    embedded = with_url(root, None)
    kartenn("init", str(root), settings=embedded, check=True)
    kartenn("ingest", "--data-dir", str(root), str(shared(DEM)), str(REGIONS), settings=embedded, check=True)
    before = sorted(p.name for p in [*rasters(root), *(root / "features").glob("*.gpkg")])
    assert len(before) == 2

    url = pg_cluster.create_database("not_this_site")
    refused(kartenn("datasets", "--data-dir", str(root), settings=with_url(root, url)), "embedded",
            "unset KARTENN_DATABASE_URL")
    refused(kartenn("init", str(root), "--database-url", url, settings=embedded), "embedded")
    with psycopg.connect(url) as conn:  # nothing was made in the database
        assert conn.execute("SELECT to_regclass('kartenn.datasets')").fetchone() == (None,)
    assert sorted(p.name for p in [*rasters(root), *(root / "features").glob("*.gpkg")]) == before
    assert "opengeos-dtm" in kartenn("datasets", "--data-dir", str(root), settings=embedded, check=True).stdout


def test_site_made_before_stores_were_recorded(settings: Settings, store: str) -> None:
    """An older site has no store.toml and no id in its catalogue: it is refused until init records its store,
    and init does not take a PostGIS site's directory for an empty embedded site."""
    root = settings.data_dir
    kartenn("init", str(root), settings=settings, check=True)
    kartenn("ingest", "--data-dir", str(root), str(shared(DEM)), settings=settings, check=True)
    [raster] = rasters(root)
    (root / "store.toml").unlink()
    if settings.database_url:
        with psycopg.connect(settings.database_url) as conn:
            conn.execute("DROP TABLE kartenn.site")
    else:
        with sqlite3.connect(root / "catalog.sqlite") as conn:
            conn.execute("DROP TABLE site")

    refused(kartenn("datasets", "--data-dir", str(root), settings=settings), "does not record", "kartenn init")
    if store == "postgis":
        without = with_url(root, None)
        refused(kartenn("datasets", "--data-dir", str(root), settings=without), "does not record")
        refused(kartenn("init", str(root), settings=without), "1 data file", "lists no dataset")
        assert not (root / "store.toml").exists()
        kartenn("init", str(root), "--database-url", settings.database_url, settings=without, check=True)
        refused(kartenn("datasets", "--data-dir", str(root), settings=without), "PostGIS")
    else:
        kartenn("init", str(root), settings=settings, check=True)
    assert raster.exists()
    assert "opengeos-dtm" in kartenn("datasets", "--data-dir", str(root), settings=settings, check=True).stdout


def _hold_catalogue(settings: Settings):  # type: ignore[no-untyped-def]
    """Another writer holding the catalogue: a publication waits for it after its data is in place."""
    if settings.database_url:
        conn = psycopg.connect(settings.database_url)
        conn.execute("LOCK TABLE kartenn.datasets IN EXCLUSIVE MODE")
        return conn
    conn = sqlite3.connect(settings.data_dir / "catalog.sqlite", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _settle(settings: Settings) -> None:
    """Wait until PostgreSQL has rolled back the killed client's transaction."""
    if not settings.database_url:
        return
    deadline = time.monotonic() + 30
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        while time.monotonic() < deadline and conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
                "pg_backend_pid() AND state <> 'idle'").fetchone()[0]:
            time.sleep(0.1)


def test_interrupted_publication_is_cleaned(settings: Settings) -> None:
    """A raster whose publication was killed after its file was in place is removed at the next opening, even
    from an empty catalogue; a file nobody was publishing is kept beside an empty catalogue."""
    root = settings.data_dir
    kartenn("init", str(root), settings=settings, check=True)
    stray = root / "files" / "kept.tif"
    stray.write_bytes(shared(DEM).read_bytes())
    cmd = [sys.executable, "-m", "kartenn.cli", "ingest", "--data-dir", str(root), str(shared("rasters/RGB.byte.tif"))]
    proc = subprocess.Popen(cmd, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    holder = None
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith("ingest-") for p in (root / "staging").iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.005)
        holder = _hold_catalogue(settings)
        while not [p for p in rasters(root) if p != stray]:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.5)
        assert proc.poll() is None, "the publication finished before it could be interrupted"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if holder is not None:
            holder.close()
    [leftover] = [p for p in rasters(root) if p != stray]
    _settle(settings)
    listed = kartenn("datasets", "--data-dir", str(root), settings=settings, check=True)
    assert "No dataset yet" in listed.stdout
    assert not leftover.exists() and stray.exists()
    assert not list((root / "staging").iterdir())
