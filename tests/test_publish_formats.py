"""Publishing every accepted format, on both stores, and reading back what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rasterio
import shapely

from conftest import kartenn, shared
from kartenn.domain import Dataset
from kartenn.services.publish import publish_file
from kartenn.site import Site
from publish_data import has_spatial_index, make_all, stored_rows

REGION_NAMES = {"Île-de-France", "Provence-Alpes-Côte d'Azur", "Auvergne-Rhône-Alpes"}
FRANCE_WGS84 = (-5.2, 41.3, 9.6, 51.1)


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Formats absent from the test data, converted from its real files with pyogrio.
    return make_all(tmp_path_factory.mktemp("made"))


def publish_one(site: Site, path: Path, **kwargs: object) -> Dataset:
    outcomes = publish_file(site, path, **kwargs)  # type: ignore[arg-type]
    assert len(outcomes) == 1, outcomes
    assert outcomes[0].error is None, outcomes[0].error
    assert outcomes[0].dataset is not None
    return outcomes[0].dataset


def near(a: tuple[float, ...] | None, b: tuple[float, ...], tol: float) -> bool:
    return a is not None and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def check_regions(site: Site, ds: Dataset, *, fields: set[str] = frozenset({"code", "nom"})) -> None:  # type: ignore[assignment]
    assert ds.srid == 4326 and ds.crs == "EPSG:4326"
    assert ds.geometry_type == "MultiPolygon"
    assert ds.count == 13
    assert fields <= {f.name for f in ds.fields}
    assert {f.name: f.type for f in ds.fields}["nom"] == "string"
    assert near(ds.extent, FRANCE_WGS84, 0.2) and near(ds.extent_wgs84, FRANCE_WGS84, 0.2)
    assert ds.style["rules"][0]["symbolizers"][0]["kind"] == "fill"
    rows = stored_rows(site, ds.storage)
    assert rows.num_rows == 13
    assert REGION_NAMES <= set(rows.column("nom").to_pylist())
    geoms = shapely.from_wkb(rows.column("geom").to_pylist())
    assert set(shapely.get_type_id(geoms).tolist()) == {6}  # all MultiPolygon
    assert has_spatial_index(site, ds.storage)
    check_record(site, ds)


def check_record(site: Site, ds: Dataset) -> None:
    record = site.catalog.get_record(ds.record_id)
    assert record.dataset_id == ds.id
    assert record.title == ds.title
    assert record.crs == ds.crs
    assert record.extent_wgs84 == pytest.approx(ds.extent_wgs84)
    assert [a.name for a in record.attributes] == [f.name for f in ds.fields]
    today = datetime.now(UTC).date()  # the ingest may have begun before midnight
    assert record.lineage in {f"Ingested from {ds.source} on {day}" for day in (today, today - timedelta(1))}


def test_geojson(site: Site) -> None:
    ds = publish_one(site, shared("france-admin-express-2018/regions.geojson"))
    assert ds.id == "regions" and ds.title == "Regions"
    check_regions(site, ds)


@pytest.mark.parametrize("key", ["fgb", "geojsonseq", "gml", "kml", "kmz"])
def test_converted_formats(site: Site, made: dict[str, Path], key: str) -> None:
    ds = publish_one(site, made[key])
    check_regions(site, ds)


def test_geopackage_one_dataset_per_layer(site: Site, made: dict[str, Path]) -> None:
    outcomes = publish_file(site, made["gpkg2"])
    assert [o.error for o in outcomes] == [None, None]
    by_id = {o.dataset.id: o.dataset for o in outcomes if o.dataset}
    assert set(by_id) == {"regions", "departements"}
    check_regions(site, by_id["regions"])
    assert by_id["departements"].count == 96 and by_id["departements"].title == "Departements"
    assert "Côtes-d'Armor" in stored_rows(site, by_id["departements"].storage).column("nom").to_pylist()


def test_geopackage_points(site: Site) -> None:
    ds = publish_one(site, shared("osm-poi-portugal/poi_portugal.gpkg"))
    assert (ds.geometry_type, ds.count, ds.srid) == ("Point", 8107, 4326)
    assert {f.name: f.type for f in ds.fields} == {"gid": "integer", "osm_id": "integer", "fclass": "string",
                                                    "name": "string"}
    assert ds.style["rules"][0]["symbolizers"][0]["kind"] == "marker"
    assert stored_rows(site, ds.storage).num_rows == 8107
    assert has_spatial_index(site, ds.storage)


def test_zipped_shapefile_projected(site: Site) -> None:
    ds = publish_one(site, shared("dutch-addresses/dutch_addresses_shape_28992.zip"))
    assert ds.srid == 28992 and ds.geometry_type == "Point" and ds.count == 2481
    # Native extent in metres (RD New), WGS 84 extent in the Netherlands.
    assert ds.extent is not None and ds.extent[0] > 1000
    assert ds.extent_wgs84 is not None and 3 < ds.extent_wgs84[0] < 8 and 50 < ds.extent_wgs84[1] < 54
    assert stored_rows(site, ds.storage).num_rows == 2481
    check_record(site, ds)


def test_shapefile_cp1252_without_cpg(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["shp1252"])
    check_regions(site, ds)


def test_csv_semicolon_decimal_comma(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["csv_semicolon"])
    assert (ds.geometry_type, ds.srid, ds.count) == ("Point", 4326, made["csv_fr_count"])
    assert [f.name for f in ds.fields] == ["nom", "région"]
    assert near(ds.extent_wgs84, (-5.2, 41.3, 9.6, 51.1), 0.6)
    rows = stored_rows(site, ds.storage)
    assert rows.num_rows == made["csv_fr_count"]
    assert "Provence-Alpes-Cote d'Azur" in set(rows.column("région").to_pylist())  # geonames' ASCII names


def test_csv_lambert93_with_crs(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["csv_l93"], crs="EPSG:2154")
    assert ds.srid == 2154 and ds.count == made["csv_fr_count"]
    assert ds.extent is not None and 0 < ds.extent[0] < 300_000 and 6_000_000 < ds.extent[1] < 6_200_000
    assert near(ds.extent_wgs84, (-5.2, 41.3, 9.6, 51.1), 1.2)
    assert has_spatial_index(site, ds.storage)


def test_csv_wkt(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["csv_wkt"])
    check_regions(site, ds)


def test_csv_codes_keep_leading_zeros(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["csv_codes"])
    assert ds.count == 19 and {f.name: f.type for f in ds.fields}["code"] == "string"
    codes = stored_rows(site, ds.storage).column("code").to_pylist()
    assert {"01", "05", "10", "19"} <= set(codes)
    ds = publish_one(site, made["csv_wkt_departements"])
    assert ds.count == 96 and {"01", "2A", "95"} <= set(stored_rows(site, ds.storage).column("code").to_pylist())


def test_csv_cp1252_semicolon(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["csv_1252"])
    assert (ds.count, ds.srid, ds.geometry_type) == (19, 4326, "Point")
    names = stored_rows(site, ds.storage).column("nom").to_pylist()
    assert {"Ardèche", "Corrèze", "Bouches-du-Rhône"} <= set(names)


def test_mixed_2d_3d_points(site: Site, made: dict[str, Path]) -> None:
    ds = publish_one(site, made["places_z"])
    assert ds.geometry_type == "Point" and ds.count == made["csv_fr_count"]
    geoms = shapely.from_wkb(stored_rows(site, ds.storage).column("geom").to_pylist())
    assert shapely.has_z(geoms).all()


def test_csv_geonames_lat_lon(site: Site) -> None:
    ds = publish_one(site, shared("geonames-cities1000/rg_cities1000.csv"))
    assert (ds.geometry_type, ds.srid, ds.count) == ("Point", 4326, 144_563)
    assert [f.name for f in ds.fields] == ["name", "admin1", "admin2", "cc"]
    assert stored_rows(site, ds.storage).num_rows == 144_563


@pytest.mark.parametrize("name", ["RGB.byte.tif", "opengeos-dtm.tif"])
def test_geotiff_to_cog(site: Site, name: str) -> None:
    ds = publish_one(site, shared(f"rasters/{name}"))
    assert ds.kind == "raster" and ds.srid is not None
    assert ds.extent_wgs84 is not None and ds.raster["overviews"]
    path = site.files.path(ds.storage)
    with rasterio.open(path) as r:
        assert r.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert r.profile["tiled"] and r.overviews(1)
        assert r.crs.to_epsg() == ds.srid
        assert tuple(r.bounds) == pytest.approx(ds.extent)
    with rasterio.open(shared(f"rasters/{name}")) as original:
        assert (original.width, original.height, original.count) == (ds.raster["width"], ds.raster["height"],
                                                                     ds.raster["bands"])
    check_record(site, ds)


def test_cli_ingest(site: Site, made: dict[str, Path]) -> None:
    settings = site.settings
    kartenn("ingest", "--data-dir", str(settings.data_dir), str(made["fgb"]),
            str(shared("boulder-buildings/boulder_buildings.zip")), settings=settings, check=True)
    result = kartenn("ingest", "--data-dir", str(settings.data_dir), "--crs", "EPSG:2154", str(made["csv_l93"]),
                     settings=settings, check=True)
    assert "villes-l93" in result.stdout
    by_id = {d.id: d for d in site.catalog.list_datasets()}
    assert set(by_id) == {"regions", "boulder-buildings", "villes-l93"}
    check_regions(site, by_id["regions"])
    assert by_id["boulder-buildings"].count == 13_491 and by_id["villes-l93"].srid == 2154
