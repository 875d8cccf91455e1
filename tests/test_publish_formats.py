"""Each input format publishes on both stores, from the real files of ../shared/data.

Formats the shared folder lacks (FlatGeobuf, KML/KMZ, GML, GeoJSON sequences, a CP1252 Shapefile,
a two-layer GeoPackage, French CSVs) are made here from those real files with GDAL, unchanged in content.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pyogrio
import pytest
import rasterio
import shapely

from conftest import shared
from kartenn.errors import MissingCRS
from kartenn.services.publish import publish_file
from publishing import has_spatial_index, stored_rows

REGIONS = "france-admin-express-2018/regions.geojson"
ACCENTED = {"Île-de-France", "Provence-Alpes-Côte d'Azur", "Auvergne-Rhône-Alpes", "Bretagne"}


def publish_one(site, path: Path, **options):
    outcomes = publish_file(site, path, **options)
    errors = [o.error for o in outcomes if o.error]
    assert not errors, errors
    return [o.dataset for o in outcomes]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Files converted from real data with GDAL (pyogrio), one per format the shared folder lacks."""
    out = tmp_path_factory.mktemp("formats")
    regions = pyogrio.read_dataframe(shared(REGIONS))
    files: dict[str, Path] = {}
    for key, name, driver, options in [
        ("fgb", "regions.fgb", "FlatGeobuf", {}),
        ("kml", "regions.kml", "KML", {}),
        ("gml", "regions.gml", "GML", {}),
        ("geojsonseq", "regions.geojsonl", "GeoJSONSeq", {}),
    ]:
        files[key] = out / name
        pyogrio.write_dataframe(regions, files[key], driver=driver, **options)
    files["kmz"] = out / "regions.kmz"
    pyogrio.write_dataframe(regions, files["kmz"], driver="LIBKML")
    # A Shapefile in CP1252 with no .cpg, zipped: the encoding must be detected.
    shp_dir = out / "cp1252"
    shp_dir.mkdir()
    pyogrio.write_dataframe(regions, shp_dir / "régions.shp", encoding="cp1252")
    (shp_dir / "régions.cpg").unlink(missing_ok=True)
    files["cp1252"] = out / "regions_cp1252.zip"
    with zipfile.ZipFile(files["cp1252"], "w") as z:
        for part in shp_dir.iterdir():
            z.write(part, part.name)
    # Two layers in one GeoPackage.
    files["two_layers"] = out / "two_layers.gpkg"
    pyogrio.write_dataframe(regions, files["two_layers"], layer="regions")
    pyogrio.write_dataframe(pyogrio.read_dataframe(shared("natural-earth/ne_110m_lakes.geojson")),
                            files["two_layers"], layer="lakes", append=True)
    # French CSVs: `;` + decimal comma with "longitude;latitude", Lambert-93 X;Y, and a WKT column.
    cities = pyogrio.read_dataframe(shared("geonames-cities1000/rg_cities1000.csv"))
    fr = cities[cities["cc"] == "FR"].head(500)
    lines = ["nom;département;longitude;latitude"]
    lines += [f"{r['name']};{r['admin2']};{str(r['lon']).replace('.', ',')};{str(r['lat']).replace('.', ',')}"
              for _, r in fr.iterrows()]
    files["csv_fr"] = out / "villes.csv"
    files["csv_fr"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    pts = shapely.points(fr["lon"].astype(float), fr["lat"].astype(float))
    from pyproj import Transformer

    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True)
    xs, ys = to_l93.transform(fr["lon"].astype(float).to_numpy(), fr["lat"].astype(float).to_numpy())
    lines = ["nom;X;Y"] + [f"{n};{x:.2f};{y:.2f}" for n, x, y in zip(fr["name"], xs, ys, strict=True)]
    files["csv_l93"] = out / "villes_l93.csv"
    files["csv_l93"].write_text("\n".join(lines) + "\n", encoding="cp1252", errors="replace")
    lines = ["name,wkt"] + [f'"{n}","{shapely.to_wkt(p, rounding_precision=6)}"' for n, p in
                            zip(fr["name"], pts, strict=True)]
    files["csv_wkt"] = out / "cities_wkt.csv"
    files["csv_wkt"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def check_regions(site, ds, *, name_field: str = "nom") -> None:
    assert ds.kind == "vector" and ds.count == 13
    assert ds.srid == 4326 and ds.geometry_type == "MultiPolygon"
    minx, miny, maxx, maxy = ds.extent_wgs84
    assert -5.3 < minx < -4.5 and 41.3 < miny < 41.4 and 9.5 < maxx < 9.6 and 51.0 < maxy < 51.2
    assert ds.style["rules"][0]["symbolizers"][0]["kind"] == "fill"
    rows = stored_rows(site, ds)
    assert len(rows) == 13
    assert ACCENTED <= {r[name_field] for r in rows}
    assert all(r["geom"].is_valid and r["geom"].geom_type == "MultiPolygon" for r in rows)
    assert has_spatial_index(site, ds)
    record = site.catalog.get_record(ds.record_id)
    assert record.title == ds.title
    assert record.lineage.startswith(f"Ingested from {ds.source} on ")


@pytest.mark.parametrize("key", ["fgb", "kml", "kmz", "gml", "geojsonseq"])
def test_converted_vector_formats(site, made, key):
    (ds,) = publish_one(site, made[key])
    check_regions(site, ds)


def test_geojson(site):
    (ds,) = publish_one(site, shared(REGIONS))
    check_regions(site, ds)
    assert ds.id == "regions" and ds.title == "Regions"
    assert {f.name: f.type for f in ds.fields} == {"code": "string", "nom": "string"}


def test_shapefile_cp1252_without_cpg(site, made):
    (ds,) = publish_one(site, made["cp1252"])
    check_regions(site, ds)


def test_geopackage_one_dataset_per_layer(site, made):
    datasets = publish_one(site, made["two_layers"])
    assert sorted(d.id for d in datasets) == ["lakes", "regions"]
    lakes = next(d for d in datasets if d.id == "lakes")
    assert lakes.count == 25 and len(stored_rows(site, lakes)) == 25


def test_geopackage_points(site):
    (ds,) = publish_one(site, shared("osm-poi-portugal/poi_portugal.gpkg"))
    assert ds.count == 8107 and ds.geometry_type == "Point" and ds.srid == 4326
    assert has_spatial_index(site, ds)


@pytest.mark.parametrize("path, srid, count", [
    ("nyc-boroughs/nybb_16a.zip", 2263, 5),
    ("dutch-addresses/dutch_addresses_shape_28992.zip", 28992, 2481),
])
def test_zipped_shapefile_in_projected_crs(site, path, srid, count):
    (ds,) = publish_one(site, shared(path))
    assert ds.srid == srid and ds.count == count
    rows = stored_rows(site, ds)
    assert len(rows) == count
    # The native extent is in the projected CRS, the WGS 84 one in degrees.
    assert abs(ds.extent[0]) > 1000 and -180 < ds.extent_wgs84[0] < 180


def test_invalid_geometries_repaired_and_counted(site):
    (outcome,) = publish_file(site, shared("boulder-buildings/boulder_buildings.zip"))
    ds = outcome.dataset
    assert ds.count == 13491
    assert "10 invalid geometries repaired (make_valid)" in outcome.log
    rows = stored_rows(site, ds)
    assert len(rows) == 13491 and all(r["geom"].is_valid for r in rows)


def test_csv_lat_lon(site):
    (ds,) = publish_one(site, shared("geonames-cities1000/rg_cities1000.csv"))
    assert ds.count == 144563 and ds.srid == 4326 and ds.geometry_type == "Point"
    assert {f.name for f in ds.fields} == {"name", "admin1", "admin2", "cc"}


def test_csv_french_semicolon_decimal_comma(site, made):
    (ds,) = publish_one(site, made["csv_fr"])
    assert ds.count == 500 and ds.srid == 4326
    rows = stored_rows(site, ds)
    assert "département" in rows[0]
    assert all(-6 < r["geom"].x < 10 and 41 < r["geom"].y < 52 for r in rows)


def test_csv_lambert93_needs_and_takes_a_crs(site, made):
    with pytest.raises(MissingCRS, match="--crs EPSG:XXXX"):
        publish_file(site, made["csv_l93"])
    (ds,) = publish_one(site, made["csv_l93"], crs="EPSG:2154")
    assert ds.srid == 2154 and ds.count == 500
    assert -6 < ds.extent_wgs84[0] < ds.extent_wgs84[2] < 11


def test_csv_wkt_column(site, made):
    (ds,) = publish_one(site, made["csv_wkt"])
    assert ds.count == 500 and ds.geometry_type == "Point" and ds.srid == 4326


@pytest.mark.parametrize("path, bands", [("rasters/RGB.byte.tif", 3), ("rasters/opengeos-dtm.tif", 1)])
def test_geotiff_becomes_cog(site, path, bands):
    (ds,) = publish_one(site, shared(path))
    assert ds.kind == "raster" and ds.raster["bands"] == bands
    with rasterio.open(site.files.path(ds.storage)) as cog:
        assert cog.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert cog.profile["tiled"] and cog.overviews(1)
    assert ds.style["kind"] == ("rgb" if bands == 3 else "ramp")
    record = site.catalog.get_record(ds.record_id)
    assert record.lineage.startswith("Ingested from ")
