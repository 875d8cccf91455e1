"""Test inputs in formats the test data folder lacks, made by converting its real files with pyogrio.

Nothing here is invented data: every feature comes from tests/data, only the container changes.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import psycopg
import pyarrow as pa
import pyogrio
import shapely
from psycopg import sql
from pyproj import Transformer

from kartenn.site import Site

SHARED = Path(__file__).resolve().parent / "data"
REGIONS = SHARED / "france-admin-express-2018" / "regions.geojson"
DEPARTEMENTS = SHARED / "france-admin-express-2018" / "departements.geojson"
CITIES = SHARED / "geonames-cities1000" / "rg_cities1000.csv"


def convert(src: Path, dest: Path, driver: str, **options: object) -> Path:
    """Copy every feature of ``src`` into ``dest`` with another GDAL driver."""
    meta, table = pyogrio.read_arrow(src)
    pyogrio.write_arrow(table, dest, driver=driver, geometry_name=meta["geometry_name"] or "wkb_geometry",
                        crs=meta["crs"], geometry_type=options.pop("geometry_type", "Unknown"),
                        **options)  # type: ignore[arg-type]
    return dest


def zip_files(dest: Path, files: list[Path]) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(f, f.name)
    return dest


def make_all(folder: Path) -> dict[str, Path]:
    """Every converted input, by short name."""
    made: dict[str, Path] = {}
    made["fgb"] = convert(REGIONS, folder / "regions.fgb", "FlatGeobuf")
    made["geojsonseq"] = convert(REGIONS, folder / "regions.geojsonl", "GeoJSONSeq")
    made["kml"] = convert(REGIONS, folder / "regions.kml", "KML")
    made["gml"] = convert(REGIONS, folder / "regions.gml", "GML")
    made["kmz"] = convert(REGIONS, folder / "regions.kmz", "LIBKML")
    # Two layers in one GeoPackage.
    gpkg = folder / "admin.gpkg"
    convert(REGIONS, gpkg, "GPKG", layer="regions")
    convert(DEPARTEMENTS, gpkg, "GPKG", layer="departements")
    made["gpkg2"] = gpkg
    # A CP1252 Shapefile without .cpg and with no DBF language byte: only the content tells the encoding.
    shp_dir = folder / "cp1252"
    shp_dir.mkdir()
    convert(REGIONS, shp_dir / "regions.shp", "ESRI Shapefile", geometry_type="MultiPolygon",
            encoding="CP1252")
    (shp_dir / "regions.cpg").unlink(missing_ok=True)
    with open(shp_dir / "regions.dbf", "r+b") as f:
        f.seek(29)
        f.write(b"\x00")
    made["shp1252"] = zip_files(folder / "regions_cp1252.zip",
                                [shp_dir / f"regions.{s}" for s in ("shp", "shx", "dbf", "prj")])
    made["shp_noprj"] = zip_files(folder / "regions_noprj.zip",
                                  [shp_dir / f"regions.{s}" for s in ("shp", "shx", "dbf")])
    made["shp_nodbf"] = zip_files(folder / "regions_nodbf.zip",
                                  [shp_dir / f"regions.{s}" for s in ("shp", "shx", "prj")])
    made["shp_noshx"] = zip_files(folder / "regions_noshx.zip",
                                  [shp_dir / f"regions.{s}" for s in ("shp", "dbf", "prj")])
    # CSVs from the French places of geonames.
    with open(CITIES, encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["cc"] == "FR"]
    made["csv_fr_count"] = len(rows)  # type: ignore[assignment]
    with open(folder / "villes.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["nom", "région", "longitude", "latitude"])
        for r in rows:
            w.writerow([r["name"], r["admin1"], r["lon"].replace(".", ","), r["lat"].replace(".", ",")])
    made["csv_semicolon"] = folder / "villes.csv"
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    with open(folder / "villes_l93.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";")
        w.writerow(["nom", "X", "Y"])
        for r in rows:
            x, y = to_l93.transform(float(r["lon"]), float(r["lat"]))
            w.writerow([r["name"], f"{x:.2f}".replace(".", ","), f"{y:.2f}".replace(".", ",")])
    made["csv_l93"] = folder / "villes_l93.csv"
    made["csv_wkt"] = wkt_csv(REGIONS, folder / "regions_wkt.csv")
    made["csv_wkt_departements"] = wkt_csv(DEPARTEMENTS, folder / "departements_wkt.csv")
    # Départements 01 to 19: codes that look like numbers but are not.
    _, deps = pyogrio.read_arrow(DEPARTEMENTS)
    points = shapely.point_on_surface(shapely.from_wkb(deps.column("wkb_geometry").to_pylist()))
    with open(folder / "departements_01_19.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "nom", "lon", "lat"])
        for code, nom, p in zip(deps.column("code").to_pylist(), deps.column("nom").to_pylist(), points,
                                strict=True):
            if code < "20":
                w.writerow([code, nom, f"{p.x:.5f}", f"{p.y:.5f}"])
    made["csv_codes"] = folder / "departements_01_19.csv"
    # The same as a spreadsheet in France saves it: CP1252, ";" and decimal comma.
    text = made["csv_codes"].read_text(encoding="utf-8").splitlines()
    rows_1252 = [";".join(c.replace(".", ",") for c in next(csv.reader([line]))) for line in text]
    (folder / "departements_excel.csv").write_bytes("\r\n".join(rows_1252).encode("cp1252"))
    made["csv_1252"] = folder / "departements_excel.csv"
    # French places as GeoJSON lines, the first hundred with a height (z = 0), the others flat.
    with open(folder / "places_z.geojsonl", "w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            coordinates = [float(r["lon"]), float(r["lat"])] + ([0.0] if i < 100 else [])
            f.write(json.dumps({"type": "Feature", "properties": {"name": r["name"]},
                                "geometry": {"type": "Point", "coordinates": coordinates}}) + "\n")
    made["places_z"] = folder / "places_z.geojsonl"
    return made


def wkt_csv(src: Path, dest: Path) -> Path:
    _, table = pyogrio.read_arrow(src)
    wkts = shapely.to_wkt(shapely.from_wkb(table.column("wkb_geometry").to_pylist()), rounding_precision=6)
    with open(dest, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["code", "nom", "WKT"])
        for code, nom, wkt in zip(table.column("code").to_pylist(), table.column("nom").to_pylist(), wkts,
                                  strict=True):
            w.writerow([code, nom, wkt])
    return dest


def stored_rows(site: Site, storage: str) -> pa.Table:
    """The rows of a published vector dataset as its store holds them (geometry as WKB in ``geom``)."""
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url) as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT *, ST_AsBinary(geom) AS wkb, ST_IsValid(geom) AS valid FROM {}").format(
                sql.Identifier("kartenn_data", storage)))
            names = [d.name for d in cur.description]
            data = cur.fetchall()
        columns = {n: [row[i] for row in data] for i, n in enumerate(names) if n != "geom"}
        columns["geom"] = [bytes(b) for b in columns.pop("wkb")]
        return pa.table(columns)
    _, table = pyogrio.read_arrow(site.features.path(storage))  # type: ignore[attr-defined]
    geom = table.column("geom" if "geom" in table.column_names else "wkb_geometry")
    valid = shapely.is_valid(shapely.from_wkb(geom.to_pylist()))
    return table.append_column("valid", pa.array(valid))


def has_spatial_index(site: Site, storage: str) -> bool:
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url) as conn:
            found = conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'kartenn_data' "
                                 "AND tablename = %s", (storage,)).fetchall()
        return any("USING gist" in r[0] for r in found)
    import sqlite3

    with sqlite3.connect(site.features.path(storage)) as conn:  # type: ignore[attr-defined]
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    return "rtree_features_geom" in names


def store_state(site: Site) -> dict[str, object]:
    """Everything a publication may leave: catalogue rows, stored files, tables and staging content."""
    state: dict[str, object] = {
        "datasets": sorted((d.id, d.storage, d.record_id) for d in site.catalog.list_datasets()),
        "records": site.catalog.count_records(),
        "features": sorted(p.name for p in site.settings.features_dir.rglob("*")),
        "files": sorted(p.name for p in site.settings.files_dir.rglob("*")),
        "staging": sorted(p.name for p in site.settings.staging_dir.iterdir()),
    }
    if site.settings.uses_postgis:
        state["tables"] = sorted(site.features.tables())  # type: ignore[attr-defined]
    return state
