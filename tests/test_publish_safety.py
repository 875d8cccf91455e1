"""Invalid geometries are repaired; bad or unsafe inputs fail with a clear message and leave nothing behind."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import shapely

from conftest import kartenn, shared
from kartenn.config import Settings
from kartenn.errors import InvalidInput, MissingCRS, UnsafeArchive, UnsupportedFormat
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publish_data import make_all, store_state, stored_rows


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Formats absent from the test data, converted from its real files with pyogrio.
    return make_all(tmp_path_factory.mktemp("made"))


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_invalid_polygons_repaired(site: Site) -> None:
    source = shared("boulder-buildings/boulder_buildings.zip")
    outcomes = publish_file(site, source)
    assert outcomes[0].error is None
    ds = outcomes[0].dataset
    assert ds is not None and ds.count == 13_491 and ds.geometry_type == "MultiPolygon"
    assert "10 invalid geometries repaired (make_valid)" in outcomes[0].log
    rows = stored_rows(site, ds.storage)
    assert rows.num_rows == 13_491
    assert all(rows.column("valid").to_pylist())
    geoms = shapely.from_wkb(rows.column("geom").to_pylist())
    assert not shapely.is_empty(geoms).any()


def fails(site: Site, path: Path, kind: type[Exception], *parts: str, **kwargs: object) -> str:
    before = store_state(site)
    with pytest.raises(kind) as info:
        publish_file(site, path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert str(path.parent) not in message  # no server path in what the user sees
    assert store_state(site) == before
    return message


def test_zip_slip(site: Site, tmp_path: Path) -> None:
    for member in ("../x.shp", "/abs.shp"):
        path = zip_of(tmp_path / "slip.zip", {member: b"x", "ok.txt": b"y"})
        fails(site, path, UnsafeArchive, f"member {member!r} would be written outside the archive")
    assert not (tmp_path / "x.shp").exists() and not Path("/abs.shp").exists()


def test_zip_bomb_ratio(site: Site, tmp_path: Path) -> None:
    path = zip_of(tmp_path / "bomb.zip", {"cities.csv": b"0" * 50_000_000})
    fails(site, path, UnsafeArchive, "compression ratio", "above 200:1")


def test_zip_over_size_cap(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings.load(tmp_path / "small", database_url=database_url, archive_max_bytes=1_000_000)
    site = Site.open(settings, create=True)
    try:
        fails(site, shared("boulder-buildings/boulder_buildings.zip"), UnsafeArchive,
              "more than the 1000000 allowed")
    finally:
        site.close()


def test_nested_archive(site: Site, tmp_path: Path) -> None:
    inner = shared("boulder-buildings/boulder_buildings.zip").read_bytes()
    path = zip_of(tmp_path / "nested.zip", {"data/boulder_buildings.zip": inner})
    fails(site, path, UnsafeArchive, "nested archive 'data/boulder_buildings.zip'")


@pytest.mark.parametrize(("key", "lacks"), [("shp_nodbf", ".dbf"), ("shp_noshx", ".shx")])
def test_shapefile_missing_part(site: Site, made: dict[str, Path], key: str, lacks: str) -> None:
    fails(site, made[key], InvalidInput, f"Shapefile 'regions' lacks {lacks}")


def test_shapefile_missing_prj(site: Site, made: dict[str, Path]) -> None:
    fails(site, made["shp_noprj"], MissingCRS, "no coordinate reference system", ".prj is missing",
          "--crs EPSG:")
    outcomes = publish_file(site, made["shp_noprj"], crs="EPSG:4326")
    assert outcomes[0].dataset is not None and outcomes[0].dataset.srid == 4326
    assert outcomes[0].dataset.count == 13


def test_not_a_zip(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "regions.zip"
    path.write_text("not a zip")
    fails(site, path, UnsafeArchive, "regions.zip: not a readable zip archive")


def test_empty_file(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "regions.geojson"
    path.write_bytes(b"")
    fails(site, path, InvalidInput, "regions.geojson: the file is empty")


def test_unknown_format(site: Site) -> None:
    message = fails(site, shared("README.md"), UnsupportedFormat, "README.md: not a format Kartenn can read")
    assert "/work" not in message


def test_csv_without_coordinates(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_text("name,population\nRennes,220000\n", encoding="utf-8")
    fails(site, path, InvalidInput, "towns.csv: no coordinates found", "lon/lat")


def test_csv_projected_without_crs(site: Site, made: dict[str, Path]) -> None:
    fails(site, made["csv_l93"], MissingCRS, "not longitude/latitude", "--crs EPSG:")


def test_vrt_refused(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "cities.vrt"
    path.write_text(f"<OGRVRTDataSource><OGRVRTLayer name='c'><SrcDataSource>"
                    f"{shared('geonames-cities1000/rg_cities1000.csv')}</SrcDataSource></OGRVRTLayer>"
                    "</OGRVRTDataSource>")
    fails(site, path, UnsupportedFormat, "VRT files are not accepted")


def test_unknown_crs(site: Site, made: dict[str, Path]) -> None:
    fails(site, made["csv_l93"], InvalidInput, "unknown coordinate reference system 'EPSG:99999'", crs="EPSG:99999")


def test_cli_one_bad_input(site: Site, made: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "towns.csv"
    bad.write_text("name,population\nRennes,220000\n", encoding="utf-8")
    result = kartenn("ingest", "--data-dir", str(site.settings.data_dir), str(made["fgb"]), str(bad),
                     str(shared("osm-poi-portugal/poi_portugal.gpkg")), settings=site.settings)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: towns.csv: no coordinates found; name the columns x/y, lon/lat, "
                      "longitude/latitude (or a WKT column named wkt or geometry)"]
    assert "Traceback" not in result.stderr
    assert {d.id for d in site.catalog.list_datasets()} == {"regions", "poi-portugal"}


def test_no_features(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "regions.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    before = store_state(site)
    outcomes = publish_file(site, path)
    assert [(o.dataset, o.error) for o in outcomes] == [(None, "regions.geojson: 'regions' has no features to publish")]
    assert store_state(site) == before
