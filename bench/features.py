"""Feature-serving benchmark: Kartenn's OGC API Features and WFS against tipg and pygeoapi, same data, same run.

Input: GeoNames cities1000 (144,563 real points, CC BY 4.0) plus an offset copy of its first rows, ~200,000
points with 5 attributes, published by `kartenn ingest` into both stores (GeoPackage and PostGIS). The peers
read the very same table (tipg and pygeoapi's PostgreSQL provider: `kartenn_data.<storage>`) and the very same
GeoPackage (pygeoapi's SQLiteGPKG provider: `features/<storage>.gpkg`, layer `features`).

Every server runs on 127.0.0.1 with the same number of worker processes; the load generator
(bench/load.py) fetches the same list of URLs from each, at concurrency 1 and 8. Before timing,
a sample of URLs is fetched from every peer and the feature counts compared with Kartenn's: a peer that answers
differently (or 404) is not timed for that case. Figures go to bench/results/features.{json,md}.

    python bench/features.py [--seconds 10] [--cases bbox,page,filter,wfs] [--peers kartenn-gpkg,tipg,…]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyogrio
import shapely

from kartenn.config import Settings
from kartenn.site import Site
from kartenn.testing.postgres import TemporaryCluster, free_port
from kartenn.xml import parse_xml

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
# Every peer's processes get a listening socket each, as Kartenn's do (bench/peers/reuseport.py).
REUSEPORT = ROOT / "bench" / "peers" / "reuseport.py"
RESULTS = ROOT / "bench" / "results"
CITIES = ROOT / "tests" / "data" / "geonames-cities1000" / "rg_cities1000.csv"
# The French communes (35,357 polygons), zipped GeoJSON: bench/data/README.md gives source and licence.
COMMUNES = ROOT / "bench" / "data" / "france-admin-express-2018" / "communes.geojson.zip"
LOAD = ROOT / "bench" / "load.py"  # the closed-loop load generator every peer is measured with
KARTENN = [sys.executable, "-m", "kartenn.cli"]

TIPG = "tipg==1.6.1"
PYGEOAPI = "pygeoapi==0.21.0"
# pygeoapi's SQLiteGPKG provider loads mod_spatialite: it needs a Python whose sqlite3 allows extensions.
SYSTEM_PYTHON = "/usr/bin/python3"

PEERS = ["kartenn-gpkg", "kartenn-postgis", "tipg", "pygeoapi-postgis", "pygeoapi-gpkg"]
CASES = {
    "bbox": "items limit=100 & random small bbox",
    "page": "items limit=1000 (offsets 0…19000)",
    "filter": "items limit=100 & CQL2 text filter cc='XX'",
    "wfs": "WFS 2.0 GetFeature count=1000 (startIndex 0…19000)",
}
# Which peer each ratio compares, per store.
RATIOS = [("kartenn-postgis", "tipg"), ("kartenn-postgis", "pygeoapi-postgis"), ("kartenn-gpkg", "pygeoapi-gpkg")]


@dataclass
class Server:
    name: str
    base: str  # URL up to the collection, or the service root for WFS
    process: subprocess.Popen | None = None
    collection: str = ""
    extra: dict = field(default_factory=dict)


# Data ------------------------------------------------------------------------------------------------------


def make_points(total: int) -> Path:
    """cities1000, then offset copies (longitude +0.37° per copy, wrapped) of its first rows, up to ``total``."""
    target = WORK / f"cities_{total}.gpkg"
    if target.exists():
        return target
    WORK.mkdir(parents=True, exist_ok=True)
    table = pacsv.read_csv(CITIES)
    lon, lat = table["lon"].to_numpy(), table["lat"].to_numpy()
    tmp = target.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    done, copy = 0, 0
    while done < total:
        n = min(len(lon), total - done)
        x = (lon[:n] + 180 + copy * 0.37) % 360 - 180
        batch = pa.table({**{k: table[k].slice(0, n) for k in ("name", "admin1", "admin2", "cc")},
                          "copy": pa.array(np.full(n, copy, dtype=np.int32)),
                          "geom": pa.array(shapely.to_wkb(shapely.points(x, lat[:n])), type=pa.binary())})
        pyogrio.write_arrow(batch, tmp, layer="cities", driver="GPKG", geometry_name="geom",
                            geometry_type="Point", crs="EPSG:4326", append=copy > 0)
        done, copy = done + n, copy + 1
    tmp.rename(target)
    return target


def publish(source: Path, data_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    """`kartenn init` + `kartenn ingest`; the (dataset id, storage name) of the published layer."""
    shutil.rmtree(data_dir, ignore_errors=True)
    for cmd in (["init", str(data_dir)], ["ingest", "--data-dir", str(data_dir), str(source)]):
        result = subprocess.run([*KARTENN, *cmd], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"kartenn {cmd[0]} failed:\n{result.stdout}\n{result.stderr}")
    site = Site.open(Settings.load(data_dir, database_url=env.get("KARTENN_DATABASE_URL")))
    try:
        (dataset,) = site.catalog.list_datasets()
        return dataset.id, dataset.storage
    finally:
        site.close()


# Peers -----------------------------------------------------------------------------------------------------


def venv(name: str, packages: list[str], python: str = sys.executable, system_site_packages: bool = False) -> Path:
    """A virtualenv under bench/work with ``packages``, made once."""
    root = WORK / f"venv-{name}"
    marker = root / ".installed"
    wanted = " ".join(packages)
    if not marker.exists() or marker.read_text() != wanted:
        shutil.rmtree(root, ignore_errors=True)
        system = ["--system-site-packages"] if system_site_packages else []
        subprocess.run([python, "-m", "venv", *system, str(root)], check=True)
        result = subprocess.run([str(root / "bin" / "pip"), "install", "-q", *packages], capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise RuntimeError(f"pip install {wanted} failed:\n{result.stderr[-3000:]}")
        marker.write_text(wanted)
    return root / "bin"


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        # Own process group: stopping the server also stops its worker processes.
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=WORK,
                                start_new_session=True)


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def wait_ready(server: Server, url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KARTENN_", "TIPG_", "PYGEOAPI_"))}
    env.pop("DATABASE_URL", None)
    return {**env, **extra}


def start_kartenn(name: str, data_dir: Path, dataset_id: str, workers: int, env: dict[str, str]) -> Server:
    port = free_port()
    log = WORK / f"{name}.log"
    server = Server(name, f"http://127.0.0.1:{port}/ogc/collections/{dataset_id}", collection=dataset_id,
                    extra={"root": f"http://127.0.0.1:{port}"})
    server.process = start([*KARTENN, "serve", "--data-dir", str(data_dir), "--port", str(port),
                            "--workers", str(workers)], env, log)
    wait_ready(server, server.base, log)
    return server


def start_tipg(db_url: str, storage: str, workers: int, max_features: int = 10000) -> Server:
    bin_ = venv("tipg", [TIPG, "uvicorn[standard]"])
    port = free_port()
    log = WORK / "tipg.log"
    collection = f"kartenn_data.{storage}"
    server = Server("tipg", f"http://127.0.0.1:{port}/collections/{collection}", collection=collection)
    env = clean_env(DATABASE_URL=db_url, TIPG_DB_SCHEMAS='["kartenn_data"]',
                    TIPG_MAX_FEATURES_PER_QUERY=str(max_features), TIPG_MAX_FEATURES_PER_TILE=str(max_features))
    server.process = start([str(bin_ / "python"), str(REUSEPORT), "tipg.main:app", "--port", str(port),
                            "--workers", str(workers)], env, log)
    wait_ready(server, server.base, log)
    return server


PYGEOAPI_EXTENT = {"spatial": {"bbox": [-180, -90, 180, 90], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}


def pygeoapi_document(port: int, resources: dict) -> dict:
    """A pygeoapi configuration serving ``resources`` on ``port``: no pretty printing, errors-only logging."""
    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "pretty_print": False, "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": "none", "url": "http://127.0.0.1"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench"},
        },
        "resources": resources,
    }


def pygeoapi_config(port: int, pg_port: int, storage: str, gpkg: Path) -> dict:
    def collection(title: str, provider: dict) -> dict:
        return {"type": "collection", "title": title, "description": title, "keywords": ["cities"],
                "extents": PYGEOAPI_EXTENT, "providers": [{"type": "feature", **provider}]}

    return pygeoapi_document(port, {
        "cities_pg": collection("cities (PostGIS)", {
            "name": "PostgreSQL", "id_field": "fid", "table": storage, "geom_field": "geom",
            "data": {"host": "127.0.0.1", "port": pg_port, "dbname": "kartenn", "user": "postgres",
                     "password": "", "search_path": ["kartenn_data", "public"]}}),
        "cities_gpkg": collection("cities (GeoPackage)", {
            "name": "SQLiteGPKG", "id_field": "fid", "table": "features", "data": str(gpkg)}),
    })


def serve_pygeoapi(bin_: Path, name: str, document: dict, port: int, workers: int) -> tuple[subprocess.Popen, Path]:
    """pygeoapi of virtualenv ``bin_`` serving ``document`` (its configuration) on ``port``, as its docs run it:
    OpenAPI generated first, the Starlette app under N uvicorn processes; (the process, its log)."""
    config, openapi, log = WORK / f"{name}.yml", WORK / f"{name}-openapi.yml", WORK / f"{name}.log"
    config.write_text(json.dumps(document, indent=1))  # JSON is YAML: no YAML writer needed
    env = clean_env(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    result = subprocess.run([str(bin_ / "pygeoapi"), "openapi", "generate", str(config), "--output-file",
                             str(openapi)], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    process = start([str(bin_ / "python"), str(REUSEPORT), "pygeoapi.starlette_app:APP", "--port", str(port),
                     "--workers", str(workers)], env, log)
    return process, log


def start_pygeoapi(pg_port: int, storage: str, gpkg: Path, workers: int) -> tuple[Server, Server]:
    packages = [PYGEOAPI, "uvicorn[standard]", "starlette", "psycopg2-binary", "GeoAlchemy2"]  # its provider extras
    bin_ = venv("pygeoapi", packages, python=SYSTEM_PYTHON)
    port = free_port()
    process, log = serve_pygeoapi(bin_, "pygeoapi", pygeoapi_config(port, pg_port, storage, gpkg), port, workers)
    pg = Server("pygeoapi-postgis", f"http://127.0.0.1:{port}/collections/cities_pg", process, "cities_pg")
    gp = Server("pygeoapi-gpkg", f"http://127.0.0.1:{port}/collections/cities_gpkg", None, "cities_gpkg")
    wait_ready(pg, pg.base, log)
    return pg, gp


# URLs ------------------------------------------------------------------------------------------------------


def url_paths(source: Path, n: int, seed: int) -> dict[str, list[str]]:
    """Per case, the query part of ``n`` URLs, identical for every peer (only the prefix differs)."""
    rng = random.Random(seed)
    meta, table = pyogrio.read_arrow(source, columns=["cc"])
    points = shapely.from_wkb(table[meta["geometry_name"] or "wkb_geometry"].to_numpy(zero_copy_only=False))
    xs, ys = shapely.get_x(points), shapely.get_y(points)
    boxes = []
    for _ in range(n):
        i = rng.randrange(len(xs))
        half = rng.uniform(0.1, 1.0)  # 0.2° to 2° wide around a real place: small, but rarely empty
        x0, y0 = max(-180.0, xs[i] - half), max(-90.0, ys[i] - half)
        x1, y1 = min(180.0, xs[i] + half), min(90.0, ys[i] + half)
        boxes.append(f"{x0:.4f},{y0:.4f},{x1:.4f},{y1:.4f}")
    countries = [cc for cc, _ in Counter(table["cc"].to_pylist()).most_common(60)]
    offsets = [1000 * k for k in range(20)]
    return {
        "bbox": [f"items?{urlencode({'limit': 100, 'bbox': b})}" for b in boxes],
        "page": [f"items?limit=1000&offset={o}" for o in offsets],
        # No filter-lang: CQL2 text is every peer's default (pygeoapi rejects the value "cql2-text").
        "filter": ["items?limit=100&filter=" + quote(f"cc='{cc}'") for cc in countries],
        "wfs": [f"SERVICE=WFS&VERSION=2.0.0&REQUEST=GetFeature&TYPENAMES={{typename}}&COUNT=1000&STARTINDEX={o}"
                for o in offsets],
    }


def full_urls(server: Server, case: str, paths: list[str]) -> list[str]:
    if case == "wfs":
        if not server.name.startswith("kartenn"):
            return []
        return [f"{server.extra['root']}/wfs?{p.format(typename=server.collection)}" for p in paths]
    return [f"{server.base}/{p}" for p in paths]


# Checks and load -------------------------------------------------------------------------------------------


def counts(url: str, case: str) -> tuple[int | None, int | None, int, bool]:
    """(numberMatched, number of features returned, HTTP status, whether every feature fits the query)."""
    r = httpx.get(url, timeout=120)
    if r.status_code >= 400:
        return None, None, r.status_code, False
    if case == "wfs":
        root = parse_xml(r.content)
        matched = root.get("numberMatched")
        return (int(matched) if matched and matched.isdigit() else None), int(root.get("numberReturned", -1)), 200, True
    body = r.json()
    features = body.get("features", [])
    return body.get("numberMatched"), len(features), r.status_code, all(fits(case, url, f) for f in features)


def fits(case: str, url: str, feature: dict) -> bool:
    """Whether a returned feature satisfies the query: inside the bbox, or of the filtered country."""
    query = parse_qs(urlsplit(url).query)
    if case == "bbox":
        x0, y0, x1, y1 = map(float, query["bbox"][0].split(","))
        x, y = feature["geometry"]["coordinates"][:2]
        return x0 <= x <= x1 and y0 <= y <= y1
    if case == "filter":
        return f"cc='{feature['properties']['cc']}'" == query["filter"][0]
    return True


def sanity(servers: list[Server], case: str, paths: list[str], sample: int) -> dict[str, dict]:
    """Compare each peer's counts with the first Kartenn server's on ``sample`` URLs spread over the list."""
    picks = paths[:: max(1, len(paths) // sample)][:sample]
    seen: dict[str, list] = {}
    for server in servers:
        urls = full_urls(server, case, picks)
        seen[server.name] = [counts(u, case) for u in urls] if urls else []
    reference = next((seen[s.name] for s in servers if s.name.startswith("kartenn") and seen[s.name]
                      and all(c[2] == 200 for c in seen[s.name])), None)
    verdict = {}
    for server in servers:
        got = seen[server.name]
        if not got:
            verdict[server.name] = {"status": "n/a", "why": "no such endpoint in this server"}
        elif any(c[2] == 404 for c in got):
            verdict[server.name] = {"status": "n/a", "why": "404"}
        elif any(c[2] != 200 for c in got):
            verdict[server.name] = {"status": "n/a", "why": f"HTTP {[c[2] for c in got if c[2] != 200][0]}"}
        elif reference is None:
            verdict[server.name] = {"status": "ok", "why": "no reference"}
        else:
            returned_ok = [g[1] == r[1] for g, r in zip(got, reference, strict=True)]
            matched_ok = [g[0] is None or g[0] == r[0] for g, r in zip(got, reference, strict=True)]
            ok = all(returned_ok) and all(matched_ok)
            why = "" if ok else "different feature counts from Kartenn's"
            if not all(c[3] for c in got):
                ok, why = False, "returns features that do not satisfy the query"
            verdict[server.name] = {"status": "ok" if ok else "n/a", "why": why}
        verdict[server.name]["samples"] = [{"numberMatched": c[0], "returned": c[1], "status": c[2]} for c in got]
    return verdict


def load(urls: list[str], concurrency: int, seconds: float, name: str) -> dict:
    urls_file = WORK / f"urls-{name}.txt"
    urls_file.write_text("\n".join(urls) + "\n")
    result = subprocess.run([sys.executable, str(LOAD), "--concurrency", str(concurrency), "--seconds",
                             str(seconds), "--urls-file", str(urls_file)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"load.py failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# Run -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    peers = [p for p in args.peers.split(",") if p]
    cases = [c for c in args.cases.split(",") if c]
    unknown = [p for p in peers if p not in PEERS] + [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown peer or case: {unknown}")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    source = make_points(args.features)
    count = pyogrio.read_info(source)["features"]
    paths = url_paths(source, args.urls, args.seed)
    servers: list[Server] = []
    figures: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    with TemporaryCluster() as pg:
        try:
            db_url = pg.create_database("kartenn")
            embedded_dir, postgis_dir = WORK / "site-features", WORK / "site-features-pg"
            env_embedded, env_pg = clean_env(), clean_env(KARTENN_DATABASE_URL=db_url)
            print(f"publishing {count} points into both stores…", flush=True)
            gpkg_id, gpkg_storage = publish(source, embedded_dir, env_embedded)
            pg_id, pg_storage = publish(source, postgis_dir, env_pg)
            gpkg = embedded_dir / "features" / f"{gpkg_storage}.gpkg"
            if "kartenn-gpkg" in peers:
                servers.append(start_kartenn("kartenn-gpkg", embedded_dir, gpkg_id, args.workers, env_embedded))
            if "kartenn-postgis" in peers:
                servers.append(start_kartenn("kartenn-postgis", postgis_dir, pg_id, args.workers, env_pg))
            if "tipg" in peers:
                servers.append(start_tipg(db_url, pg_storage, args.workers))
            if {"pygeoapi-postgis", "pygeoapi-gpkg"} & set(peers):
                pyg_pg, pyg_gpkg = start_pygeoapi(pg.port, pg_storage, gpkg, args.workers)
                servers += [s for s in (pyg_pg, pyg_gpkg) if s.name in peers]
            print("servers: " + ", ".join(f"{s.name} {s.base}" for s in servers), flush=True)
            for case in cases:
                checks[case] = sanity(servers, case, paths[case], args.sample)
                print(f"{case}: " + ", ".join(f"{k} {v['status']} {v['why']}".strip() for k, v in
                                              checks[case].items()), flush=True)
                for server in servers:  # untimed: first requests pay imports, parser set-up and cold caches
                    if args.warmup > 0 and checks[case][server.name]["status"] == "ok":
                        load(full_urls(server, case, paths[case]), args.workers, args.warmup, f"warmup-{server.name}")
                for concurrency in concurrencies:
                    for server in servers:  # peers interleaved within a case: drift hits them alike
                        key = f"{case}/c{concurrency}/{server.name}"
                        if checks[case][server.name]["status"] != "ok":
                            figures[key] = {"n/a": checks[case][server.name]["why"]}
                            continue
                        figures[key] = load(full_urls(server, case, paths[case]), concurrency, args.seconds,
                                            f"{case}-{server.name}")
                        f = figures[key]
                        print(f"  {key}: {f['req_per_s']} req/s, p95 {f['p95_ms']} ms, errors {f['errors']}",
                              flush=True)
        finally:
            for server in servers:
                stop(server.process)
    ratios = {}
    for case in cases:
        for concurrency in concurrencies:
            for ours, theirs in RATIOS:
                a = figures.get(f"{case}/c{concurrency}/{ours}", {})
                b = figures.get(f"{case}/c{concurrency}/{theirs}", {})
                if "req_per_s" in a and "req_per_s" in b and b["req_per_s"] > 0:
                    ratios[f"{case}/c{concurrency}/{ours}:{theirs}"] = round(a["req_per_s"] / b["req_per_s"], 2)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                    * os.sysconf("SC_PHYS_PAGES") / 1024**3), "python": platform.python_version()},
        "input": f"GeoNames cities1000 (144,563 points) plus an offset copy of its first rows: {count} points, "
                 "5 attributes (name, admin1, admin2, cc, copy), EPSG:4326",
        "peers": {"tipg": TIPG, "pygeoapi": f"{PYGEOAPI} (starlette app under uvicorn; SQLiteGPKG provider "
                  "with mod_spatialite for the GeoPackage)"},
        "workers": args.workers,
        "warmup": args.warmup, "seconds": args.seconds, "concurrency": concurrencies,
        "cases": {c: CASES[c] for c in cases}, "urls_per_case": {c: len(paths[c]) for c in cases},
        "configuration": configuration(args.workers),
        "sanity": checks, "results": figures, "ratios": ratios,
    }


def configuration(workers: int) -> list[dict]:
    """How each peer runs: the fairness choices, said once for the results file."""
    spread = f"{workers} processes, a SO_REUSEPORT socket each"
    loop = "uvicorn, uvloop + httptools"
    return [
        {"peer": "kartenn-gpkg", "server": f"`kartenn serve --workers {workers}`", "processes": spread, "loop": loop,
         "back end": "GeoPackage file (R-tree), SQLite read-only connections", "settings": "defaults"},
        {"peer": "kartenn-postgis", "server": f"`kartenn serve --workers {workers}`", "processes": spread,
         "loop": loop, "back end": "PostGIS table (GiST), psycopg 3 through a SQLAlchemy pool", "settings": "defaults"},
        {"peer": "tipg", "server": f"{TIPG} `tipg.main:app` (bench/peers/reuseport.py)", "processes": spread,
         "loop": loop, "back end": "the same PostGIS table, asyncpg pool",
         "settings": "TIPG_DB_SCHEMAS=kartenn_data; max features per query 10,000"},
        {"peer": "pygeoapi-postgis", "server": f"{PYGEOAPI} `pygeoapi.starlette_app:APP` (bench/peers/reuseport.py)",
         "processes": spread, "loop": loop, "back end": "the same PostGIS table, PostgreSQL provider (SQLAlchemy)",
         "settings": "pretty_print off, logging ERROR, max_items 10,000"},
        {"peer": "pygeoapi-gpkg", "server": "the same pygeoapi processes", "processes": spread, "loop": loop,
         "back end": "the same GeoPackage file, SQLiteGPKG provider (mod_spatialite)", "settings": "as above"},
    ]


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "features.json").write_text(json.dumps(report, indent=2) + "\n")
    peers = sorted({k.split("/")[2] for k in report["results"]}, key=PEERS.index)
    lines = [
        "# Serving features: Kartenn vs tipg and pygeoapi", "",
        f"{report['date']} · {report['machine']['cores']} cores, {report['machine']['memory_gb']} GB · "
        f"Python {report['machine']['python']} · every server with {report['workers']} worker processes · "
        f"{report['seconds']} s per run after {report['warmup']} s of warm-up per case · "
        "client: bench/load.py (httpx, closed loop)", "",
        f"Input: {report['input']}.", "",
        f"Peers: {report['peers']['tipg']}; {report['peers']['pygeoapi']}.", "",
        "## Configuration and fairness", "",
        "Every server on 127.0.0.1, with the same processes, the same way of spreading connections and the same "
        "event loop; one load generator, the same URL list for every peer, peers interleaved within a case.", "",
        "| peer | server | processes | event loop | back end | settings |",
        "| --- | --- | --- | --- | --- | --- |",
        *[f"| {c['peer']} | {c['server']} | {c['processes']} | {c['loop']} | {c['back end']} | {c['settings']} |"
          for c in report.get("configuration", [])], "",
        "## Figures", "",
        "Cases: " + "; ".join(f"**{k}** {v} ({report['urls_per_case'][k]} different URLs)"
                              for k, v in report["cases"].items()) + ".", "",
        "req/s (p95 ms) counts successful answers only; errors are answers ≥ 400 or failed requests; "
        "n/a = endpoint missing, or answers that differ from Kartenn's or do not satisfy the query "
        "(see the sanity check).", "",
        "| case | conc. | " + " | ".join(peers) + " |",
        "| --- | --- |" + " --- |" * len(peers),
    ]
    for case in report["cases"]:
        for c in report["concurrency"]:
            cells = []
            for p in peers:
                f = report["results"].get(f"{case}/c{c}/{p}", {})
                errors = f" · {f['errors']} errors" if f.get("errors") else ""
                cells.append(f"{f['req_per_s']} ({f['p95_ms']}){errors}" if "req_per_s" in f else "n/a")
            lines.append(f"| {case} | {c} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios of req/s (above 1: Kartenn serves more):", "",
              "| case | conc. | " + " | ".join(f"{a} / {b}" for a, b in RATIOS) + " |",
              "| --- | --- |" + " --- |" * len(RATIOS)]
    for case in report["cases"]:
        for c in report["concurrency"]:
            cells = [str(report["ratios"].get(f"{case}/c{c}/{a}:{b}", "n/a")) for a, b in RATIOS]
            lines.append(f"| {case} | {c} | " + " | ".join(cells) + " |")
    lines += ["", "Sanity check before timing (numberMatched / features returned on sample URLs):", ""]
    for case, verdicts in report["sanity"].items():
        for peer, v in verdicts.items():
            sample = ", ".join(f"{s['numberMatched']}/{s['returned']}" if s["status"] == 200 else f"HTTP {s['status']}"
                               for s in v["samples"]) or "—"
            lines.append(f"- {case} · {peer}: **{v['status']}** {v['why']} — {sample}")
    (RESULTS / "features.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each timed run")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, among {','.join(CASES)}")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, among {','.join(PEERS)}")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client concurrencies")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every server")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds of load per server and case")
    parser.add_argument("--features", type=int, default=200_000, help="points to publish")
    parser.add_argument("--urls", type=int, default=200, help="different bboxes in the bbox case")
    parser.add_argument("--sample", type=int, default=5, help="URLs per case compared across peers")
    parser.add_argument("--seed", type=int, default=1)
    report = run(parser.parse_args())
    write(report)
    print((RESULTS / "features.md").read_text())
