"""Ingestion benchmark: `kartenn ingest` against `ogr2ogr`, into GeoPackage and into PostGIS, same run.

Input: GeoNames cities1000 (144,563 real points, CC BY 4.0) written 7 times with offset coordinates
into one GeoPackage: 1,011,941 points. Each tool runs interleaved with the other, REPEAT times;
wall time and peak resident memory come from /usr/bin/time. Figures go to bench/results/ingest.{json,md}.

    python bench/ingest.py [--repeat 3] [--copies 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import shapely

from kartenn.testing.postgres import TemporaryCluster

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
CITIES = ROOT / "tests" / "data" / "geonames-cities1000" / "rg_cities1000.csv"
KARTENN = [sys.executable, "-m", "kartenn.cli"]
# ogr2ogr with the speed options its drivers' documentation gives: every feature in one transaction (as Kartenn
# publishes), no fsync in the GeoPackage (SQLite's synchronous=OFF) and a larger page cache; COPY into PostgreSQL.
OGR_GPKG = ["-f", "GPKG", "-nln", "features", "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=YES",
            "-gt", "unlimited", "--config", "OGR_SQLITE_SYNCHRONOUS", "OFF", "--config", "OGR_SQLITE_CACHE", "512"]
OGR_PG = ["-f", "PostgreSQL", "-nln", "features", "-lco", "GEOMETRY_NAME=geom", "-lco", "SPATIAL_INDEX=GIST",
          "-lco", "FID=fid", "-gt", "unlimited", "--config", "PG_USE_COPY", "YES"]


def make_points(copies: int) -> Path:
    target = WORK / f"cities_x{copies}.gpkg"
    if target.exists():
        return target
    WORK.mkdir(parents=True, exist_ok=True)
    table = pacsv.read_csv(CITIES)
    lon = table["lon"].to_numpy()
    lat = table["lat"].to_numpy()
    attrs = {name: table[name] for name in ("name", "admin1", "admin2", "cc")}
    tmp = target.with_suffix(".tmp.gpkg")
    for i in range(copies):
        # Offset copies stay inside lon/lat bounds: shift longitude, wrap around.
        x = (lon + 180 + i * 0.37) % 360 - 180
        geoms = shapely.to_wkb(shapely.points(x, lat))
        batch = pa.table({**attrs, "copy": pa.array(np.full(len(x), i, dtype=np.int32)),
                          "geom": pa.array(geoms, type=pa.binary())})
        pyogrio.write_arrow(batch, tmp, layer="cities", driver="GPKG", geometry_name="geom",
                            geometry_type="Point", crs="EPSG:4326", append=i > 0)
    tmp.rename(target)
    return target


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a command, from /usr/bin/time."""
    out = WORK / "time.txt"
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(out), *cmd], env=env,
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    peak_kb = int(out.read_text().strip().splitlines()[-1])
    return wall, peak_kb / 1024


def run(args: argparse.Namespace) -> dict:
    source = make_points(args.copies)
    count = pyogrio.read_info(source)["features"]
    figures: dict[str, list[tuple[float, float]]] = {}
    with TemporaryCluster() as pg:
        for rep in range(args.repeat):
            # GeoPackage: kartenn embedded vs ogr2ogr -f GPKG
            site = WORK / "site"
            shutil.rmtree(site, ignore_errors=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("KARTENN_")}
            subprocess.run([*KARTENN, "init", str(site)], env=env, check=True, capture_output=True)
            figures.setdefault("kartenn_gpkg", []).append(
                timed([*KARTENN, "ingest", "--data-dir", str(site), str(source)], env))
            out = WORK / "ogr.gpkg"
            out.unlink(missing_ok=True)
            figures.setdefault("ogr2ogr_gpkg", []).append(timed(["ogr2ogr", *OGR_GPKG, str(out), str(source)]))
            # PostGIS: kartenn with KARTENN_DATABASE_URL vs ogr2ogr -f PostgreSQL (COPY, GIST index)
            url = pg.create_database(f"k{rep}")
            site_pg = WORK / "site_pg"
            shutil.rmtree(site_pg, ignore_errors=True)
            env_pg = {**env, "KARTENN_DATABASE_URL": url}
            subprocess.run([*KARTENN, "init", str(site_pg)], env=env_pg, check=True, capture_output=True)
            figures.setdefault("kartenn_postgis", []).append(
                timed([*KARTENN, "ingest", "--data-dir", str(site_pg), str(source)], env_pg))
            pg.create_database(f"o{rep}")
            dsn = f"PG:host=127.0.0.1 port={pg.port} user=postgres dbname=o{rep}"
            figures.setdefault("ogr2ogr_postgis", []).append(timed(["ogr2ogr", *OGR_PG, dsn, str(source)]))
            print(f"repetition {rep + 1}: " + ", ".join(f"{k} {v[-1][0]:.1f}s" for k, v in figures.items()),
                  flush=True)
        # Memory must not grow with the input: the same ingest on twice as many points.
        double = make_points(args.copies * 2)
        site = WORK / "site"
        shutil.rmtree(site, ignore_errors=True)
        subprocess.run([*KARTENN, "init", str(site)], env=env, check=True, capture_output=True)
        scaling = timed([*KARTENN, "ingest", "--data-dir", str(site), str(double)], env)
        scaling_count = pyogrio.read_info(double)["features"]
    summary: dict = {}
    for name, runs in figures.items():
        summary[name] = {"wall_s_median": round(statistics.median(w for w, _ in runs), 2),
                         "wall_s_runs": [round(w, 2) for w, _ in runs],
                         "peak_rss_mb_max": round(max(m for _, m in runs), 1)}
    for store in ("gpkg", "postgis"):
        summary[f"ratio_{store}"] = round(summary[f"kartenn_{store}"]["wall_s_median"]
                                          / summary[f"ogr2ogr_{store}"]["wall_s_median"], 2)
    gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                    * os.sysconf("SC_PHYS_PAGES") / 1024**3), "python": platform.python_version()},
        "input": f"GeoNames cities1000 ×{args.copies} (offset copies) in one GeoPackage: {count} points, "
                 "5 attributes",
        "ogr2ogr": gdal,
        "repeat": args.repeat,
        "results": summary,
        "scaling": {"features": scaling_count, "kartenn_gpkg_wall_s": round(scaling[0], 2),
                    "kartenn_gpkg_peak_rss_mb": round(scaling[1], 1)},
    }


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(report, indent=2) + "\n")
    r = report["results"]
    lines = [
        "# Ingestion: kartenn ingest vs ogr2ogr", "",
        f"{report['date']} · {report['machine']['cores']} cores, {report['machine']['memory_gb']} GB · "
        f"{report['ogr2ogr']} · {report['repeat']} interleaved runs each, median wall time", "",
        f"Input: {report['input']}.", "",
        "| store | kartenn (s) | ogr2ogr (s) | ratio | kartenn peak RSS (MB) | ogr2ogr peak RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for store, label in (("gpkg", "GeoPackage"), ("postgis", "PostGIS")):
        k, o = r[f"kartenn_{store}"], r[f"ogr2ogr_{store}"]
        lines.append(f"| {label} | {k['wall_s_median']} | {o['wall_s_median']} | {r[f'ratio_{store}']} | "
                     f"{k['peak_rss_mb_max']} | {o['peak_rss_mb_max']} |")
    sc = report["scaling"]
    lines += ["", f"Memory against input size: the embedded ingest of {sc['features']} points (twice the input) "
              f"peaked at {sc['kartenn_gpkg_peak_rss_mb']} MB in {sc['kartenn_gpkg_wall_s']} s."]
    lines += ["", "## Configuration and fairness", "",
              "| tool | command | transactions | durability |", "| --- | --- | --- | --- |",
              "| kartenn ingest | `kartenn ingest --data-dir D FILE` (KARTENN_DATABASE_URL for PostGIS) | one per "
              "dataset | SQLite defaults (synchronous=FULL); PostgreSQL defaults |",
              f"| ogr2ogr GeoPackage | `ogr2ogr {' '.join(OGR_GPKG)}` | one | synchronous=OFF |",
              f"| ogr2ogr PostGIS | `ogr2ogr {' '.join(OGR_PG)}` | one (COPY) | PostgreSQL defaults |",
              "", "Each tool runs as a fresh process, interleaved with the other, into an empty target; both build "
              "the spatial index.", ""]
    lines += ["", "kartenn's time includes the Python start-up, validity checks and repair of every geometry,",
              "extent and WGS 84 extent, the catalogue record and the default style."]
    (RESULTS / "ingest.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=7)
    report = run(parser.parse_args())
    write(report)
    print((RESULTS / "ingest.md").read_text())
