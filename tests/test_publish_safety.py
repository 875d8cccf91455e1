"""Bad archives and files: each gets a clear error, nothing is published, the others still are."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import kartenn, shared
from kartenn.config import Settings
from kartenn.errors import InvalidInput
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publishing import store_state

BOROUGHS = "nyc-boroughs/nybb_16a.zip"


def shapefile_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(shared(BOROUGHS)) as z:
        return {n: z.read(n) for n in z.namelist()}


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def refused(site: Site, path: Path, message: str, **options) -> None:
    before = store_state(site)
    with pytest.raises(InvalidInput, match=message) as info:
        publish_file(site, path, **options)
    assert str(site.settings.data_dir) not in info.value.message
    assert store_state(site) == before


def test_zip_slip(site, tmp_path):
    parts = shapefile_parts()
    refused(site, make_zip(tmp_path / "slip.zip", {f"../{n}": d for n, d in parts.items()}),
            "would be written outside the archive")
    refused(site, make_zip(tmp_path / "abs.zip", {f"/tmp/{n}": d for n, d in parts.items()}),
            "would be written outside the archive")
    assert not (tmp_path.parent / "nybb.shp").exists()


def test_zip_bomb_ratio(site, tmp_path):
    refused(site, make_zip(tmp_path / "bomb.zip", {"zeros.geojson": b"\0" * (64 << 20)}), "compression ratio")


def test_archive_size_cap(tmp_path, database_url):
    settings = Settings.load(tmp_path / "capped", database_url=database_url, archive_max_bytes=100_000)
    site = Site.open(settings, create=True)
    try:
        refused(site, shared(BOROUGHS), "unpacks to .* more than the 100000 allowed")
    finally:
        site.close()


def test_nested_archive(site, tmp_path):
    inner = io.BytesIO(shared(BOROUGHS).read_bytes())
    refused(site, make_zip(tmp_path / "nested.zip", {"inner.zip": inner.getvalue()}), "nested archive")


@pytest.mark.parametrize("missing", [".dbf", ".shx", ".shp"])
def test_shapefile_missing_part(site, tmp_path, missing):
    parts = {n: d for n, d in shapefile_parts().items() if not n.endswith(missing)}
    refused(site, make_zip(tmp_path / "partial.zip", parts), "a Shapefile needs its .shp, .shx and .dbf")


def test_missing_prj_says_how_to_give_a_crs(site, tmp_path):
    parts = {n: d for n, d in shapefile_parts().items() if not n.endswith(".prj")}
    path = make_zip(tmp_path / "noprj.zip", parts)
    refused(site, path, r"no coordinate reference system .*--crs EPSG:XXXX")
    (outcome,) = publish_file(site, path, crs="EPSG:2263")
    assert outcome.dataset.srid == 2263 and outcome.dataset.count == 5


@pytest.mark.parametrize("name, content, message", [
    ("broken.zip", b"PK\x03\x04 not really a zip", "not a readable zip archive"),
    ("empty.geojson", b"", "the file is empty"),
    ("notes.md", b"# not geodata\n", "not a format Kartenn can read"),
    ("nocoords.csv", b"name,population\nBrest,139000\n", "no coordinates found"),
    ("projected.csv", b"x,y\n150000,6830000\n160000,6840000\n", "--crs EPSG:XXXX"),
    ("layer.vrt", b"<OGRVRTDataSource/>", "VRT files are not accepted"),
    ("data.tar.gz", b"\x1f\x8b\x08\x00", "archives are not supported"),
])
def test_bad_files(site, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    refused(site, path, message)


def test_unknown_crs(site):
    refused(site, shared("natural-earth/ne_110m_lakes.geojson"), "unknown coordinate reference system",
            crs="EPSG:999999")


def test_cli_reports_each_failure_and_publishes_the_rest(site, settings, tmp_path):
    bad = tmp_path / "notes.md"
    bad.write_text("# not geodata\n")
    good1 = shared("natural-earth/ne_110m_lakes.geojson")
    good2 = tmp_path / "boroughs.zip"
    shutil.copy(shared(BOROUGHS), good2)
    result = kartenn("ingest", "--data-dir", str(settings.data_dir), str(good1), str(bad), str(good2),
                     settings=settings)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: notes.md: not a format Kartenn can read ('notes.md' not recognized as being in a "
                      "supported file format.)"], result.stderr
    assert sorted(d.id for d in site.catalog.list_datasets()) == ["ne-110m-lakes", "nybb"]
    assert "ne-110m-lakes" in result.stdout and "nybb" in result.stdout
