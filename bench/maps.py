"""Map and tile benchmark: Kartenn's WMS GetMap against MapServer, its MVT tiles against tipg and raw ST_AsMVT.

Input: the 35,357 French communes of Admin Express 2018 (polygons, Licence Ouverte IGN/INSEE) plus offset
copies of them (a grid of copies shifted by whole degrees east and south), ~212,000 polygons in EPSG:4326,
published by `kartenn ingest` into both stores (GeoPackage and PostGIS). The peers read the very same data:
MapServer 8 (Debian, mapscript under gunicorn) over the PostGIS table and, through OGR, over the GeoPackage,
drawing from Kartenn's generalised levels at the scales Kartenn draws them and writing PNG as Kartenn does;
tipg and a bare ST_AsMVT ASGI app (bench/peers/mvt_floor.py) over the PostGIS table.

Every server runs on 127.0.0.1 with the same number of worker processes; the load generator
(bench/load.py) fetches the same list of URLs (bboxes, tiles) from each, at concurrency 1 and 8.
Before timing, sample URLs are checked on every peer (PNG decodes at the asked size with something drawn, and
MapServer's where Kartenn's is; MVT decodes with features). Figures go to bench/results/maps.{json,md}, with a
table of each peer's configuration.

    python bench/maps.py [--seconds 10] [--cases wms256,wms1024,mvt6,mvt10,mvt14,cold14] [--peers …]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import mapbox_vector_tile
import numpy as np
import pyarrow as pa
import pyogrio
import shapely
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import (  # noqa: E402 - the feature benchmark's peers and helpers, shared
    COMMUNES,
    TIPG,
    WORK,
    Server,
    clean_env,
    free_port,
    load,
    publish,
    start,
    start_kartenn,
    start_tipg,
    stop,
    venv,
    wait_ready,
)

from kartenn.config import Settings  # noqa: E402
from kartenn.site import Site  # noqa: E402
from kartenn.stores import display  # noqa: E402
from kartenn.stores.geopackage import LAYER as GPKG_LAYER  # noqa: E402
from kartenn.stores.postgis_reads import SCHEMA as PG_SCHEMA  # noqa: E402
from kartenn.testing.postgres import TemporaryCluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PEERS_DIR = ROOT / "bench" / "peers"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-mapscript is built for it
GUNICORN = "gunicorn==23.0.0"
FLOOR = ["uvicorn[standard]==0.34.0", "psycopg[binary]==3.2.9", "psycopg-pool==3.2.6"]
# Copies of the communes on a 3 × 2 grid of whole-degree offsets (France spans ~15° × 10°).
OFFSETS = [(dx, dy) for dy in (0, -11) for dx in (0, 16, 32)]

PEERS = ["kartenn-gpkg", "kartenn-postgis", "mapserver-gpkg", "mapserver-postgis", "tipg", "st_asmvt"]
CASES = {
    "wms256": "WMS 1.1.1 GetMap 256×256 PNG, EPSG:3857, bbox 2–300 km wide",
    "wms1024": "WMS 1.1.1 GetMap 1024×1024 PNG, EPSG:3857, bbox 8–1200 km wide",
    "mvt6": "MVT tile, WebMercatorQuad zoom 6",
    "mvt10": "MVT tile, WebMercatorQuad zoom 10",
    "mvt14": "MVT tile, WebMercatorQuad zoom 14",
    "cold14": "MVT tile at zoom 14 never asked before (concurrency 1, every URL once)",
}
KARTENN_SERVER = ("`kartenn serve --workers N`: a listening socket per process (SO_REUSEPORT); tipg and the bare "
                  "ST_AsMVT app the same way (bench/peers/reuseport.py: N uvicorn processes with uvloop and "
                  "httptools, a socket each)")
WMS_PEERS = {"kartenn-gpkg", "kartenn-postgis", "mapserver-gpkg", "mapserver-postgis"}
MVT_PEERS = {"kartenn-gpkg", "kartenn-postgis", "tipg", "st_asmvt"}
RATIOS = {"wms": [("kartenn-postgis", "mapserver-postgis"), ("kartenn-gpkg", "mapserver-gpkg"),
                  ("kartenn-gpkg", "mapserver-postgis")],
          "mvt": [("kartenn-postgis", "tipg"), ("kartenn-postgis", "st_asmvt"), ("kartenn-gpkg", "tipg"),
                  ("kartenn-gpkg", "st_asmvt")]}
WEB_MERCATOR_HALF = 20037508.342789244
# Each MapServer peer's images against Kartenn's on the same store: the share of pixels drawn (or not) by both,
# at least AGREEMENT in every sample (outlines are antialiased differently; a shifted or empty map is not).
SAME_STORE = {"mapserver-postgis": "kartenn-postgis", "mapserver-gpkg": "kartenn-gpkg"}
AGREEMENT = 0.95


# Data ------------------------------------------------------------------------------------------------------


def make_polygons() -> Path:
    """The communes, then one offset copy per entry of OFFSETS after the first; a GeoPackage under bench/work."""
    target = WORK / f"communes_x{len(OFFSETS)}.gpkg"
    if target.exists():
        return target
    WORK.mkdir(parents=True, exist_ok=True)
    _, table = pyogrio.read_arrow(f"/vsizip/{COMMUNES}/communes.geojson")
    geoms = shapely.from_wkb(table["wkb_geometry"].to_numpy(zero_copy_only=False))
    # One geometry type for the layer: Polygon → MultiPolygon (Arrow writes have no promote_to_multi).
    single = shapely.get_type_id(geoms) == 3
    geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    tmp = target.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    for copy, (dx, dy) in enumerate(OFFSETS):
        moved = shapely.transform(geoms, lambda xy, dx=dx, dy=dy: xy + np.array([dx, dy]))
        batch = pa.table({"code": table["code"], "nom": table["nom"],
                          "copy": pa.array(np.full(len(geoms), copy, dtype=np.int32)),
                          "geom": pa.array(shapely.to_wkb(moved), type=pa.binary())})
        pyogrio.write_arrow(batch, tmp, layer="communes", driver="GPKG", geometry_name="geom",
                            geometry_type="MultiPolygon", crs="EPSG:4326", append=copy > 0)
    tmp.rename(target)
    return target


def anchors(source: Path, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` points inside random polygons (lon/lat): bboxes and tiles are centred on real data."""
    rng = random.Random(seed)
    meta, table = pyogrio.read_arrow(source, columns=[])
    geoms = shapely.from_wkb(table[meta["geometry_name"] or "wkb_geometry"].to_numpy(zero_copy_only=False))
    points = shapely.point_on_surface(geoms[[rng.randrange(len(geoms)) for _ in range(n)]])
    return list(zip(shapely.get_x(points).tolist(), shapely.get_y(points).tolist(), strict=True))


def mercator(lon: float, lat: float) -> tuple[float, float]:
    x = lon * WEB_MERCATOR_HALF / 180
    y = math.log(math.tan((90 + lat) * math.pi / 360)) * WEB_MERCATOR_HALF / math.pi
    return x, y


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def url_specs(source: Path, n: int, cold: int, seed: int) -> dict[str, list[dict]]:
    """Per case, peer-neutral descriptions of ``n`` requests (bboxes or tiles), identical for every peer."""
    rng = random.Random(seed)
    points = anchors(source, 2 * n + cold + 1, seed)
    specs: dict[str, list[dict]] = {}
    for case, size, low, high in (("wms256", 256, 2e3, 3e5), ("wms1024", 1024, 8e3, 1.2e6)):
        boxes = []
        for lon, lat in points[:n]:
            x, y = mercator(lon, lat)
            half = math.exp(rng.uniform(math.log(low), math.log(high))) / 2  # log-uniform: every scale
            boxes.append({"bbox": (x - half, y - half, x + half, y + half), "size": size})
        specs[case] = boxes
    for z in (6, 10, 14):
        seen: dict[tuple, None] = {}
        for lon, lat in points[:2 * n]:
            seen.setdefault(tile_of(lon, lat, z))
        specs[f"mvt{z}"] = [{"tile": t} for t in list(seen)[:n]]
    # Tiles never asked before: away from the zoom-14 list, each once; the first is load.py's untimed warm-up.
    used = {s["tile"] for s in specs["mvt14"]}
    fresh: dict[tuple, None] = {}
    for lon, lat in points[2 * n:]:
        t = tile_of(lon, lat, 14)
        if t not in used:
            fresh.setdefault(t)
    specs["cold14"] = [{"tile": t} for t in fresh]
    return specs


# Peers -----------------------------------------------------------------------------------------------------


# MapServer's scale denominator: the map's pixel in metres × 72 dpi × 39.3701 inches per metre (mapscale.c).
METRE_SCALE = 72 * 39.3701


def latitude_of(y: float) -> float:
    return math.degrees(math.atan(math.sinh(y * math.pi / WEB_MERCATOR_HALF)))


def maps_latitude(specs: dict[str, list[dict]]) -> float:
    """The median latitude of the GetMap bboxes' centres."""
    ys = [(s["bbox"][1] + s["bbox"][3]) / 2 for case in ("wms256", "wms1024") for s in specs[case]]
    return latitude_of(statistics.median(ys))


def level_scales(tolerances: tuple[float, ...], latitude: float) -> list[float]:
    """The scale denominator from which MapServer draws each generalised level, where Kartenn switches to it:
    a tolerance at most half the map's pixel in degrees (stores/display.py), the smaller one, of latitude; a
    Web Mercator metre spans cos(latitude) × 180 / WEB_MERCATOR_HALF degrees of it."""
    degrees_per_metre = math.cos(math.radians(latitude)) * 180 / WEB_MERCATOR_HALF
    return [2 * t / degrees_per_metre * METRE_SCALE for t in tolerances]


def store_levels(data_dir: Path, env: dict[str, str], storage: str) -> tuple[float, ...]:
    """The tolerances of a published dataset's generalised levels, as Kartenn's store reads them."""
    site = Site.open(Settings.load(data_dir, database_url=env.get("KARTENN_DATABASE_URL")))
    try:
        return site.features.levels(storage).tolerances
    finally:
        site.close()


def level_sources(pg_port: int, storage: str, gpkg: Path, pg_levels: tuple[float, ...],
                  gpkg_levels: tuple[float, ...]) -> dict[str, list[str]]:
    """Per WMS layer, the data source of each level (0: the originals): Kartenn's own tables and columns, read
    with the query Kartenn gives Mapnik (the originals' index finds the features, no exact intersection test)."""
    connection = f"host=127.0.0.1 port={pg_port} dbname=kartenn user=postgres"
    pg_sources = [
        f'CONNECTIONTYPE POSTGIS\n    CONNECTION "{connection}"\n'
        f"    DATA 'display_geom from (select fid, {display.column(k)} as display_geom from "
        f"{PG_SCHEMA}.{storage} where geom && !BOX!) as t using unique fid using srid=4326'\n"
        '    PROCESSING "CLOSE_CONNECTION=DEFER"' for k in range(len(pg_levels) + 1)]
    gpkg_sources = [
        f'CONNECTIONTYPE OGR\n    CONNECTION "{gpkg}"\n    DATA "{display.table(GPKG_LAYER, k)}"\n'
        '    PROCESSING "CLOSE_CONNECTION=DEFER"' for k in range(len(gpkg_levels) + 1)]
    return {"communes_pg": pg_sources, "communes_gpkg": gpkg_sources}


def scale_range(k: int, scales: list[float]) -> str:
    """MINSCALEDENOM / MAXSCALEDENOM of level ``k``: drawn above its own scale, up to the next level's."""
    bounds = ([f"MINSCALEDENOM {scales[k - 1]:.1f}"] if k else []) + (
        [f"MAXSCALEDENOM {scales[k]:.1f}"] if k < len(scales) else [])
    return "".join(f"    {b}\n" for b in bounds)


def mapfile(path: Path, port: int, sources: dict[str, list[str]], scales: dict[str, list[float]],
            extent: tuple[float, ...]) -> None:
    """Per WMS layer, a GROUP of one LAYER per generalised level, each drawn at the scales Kartenn draws it, with
    Kartenn's default polygon style (fill + outline), in EPSG:4326 reprojected as Kartenn's maps are. PNG as
    Kartenn writes it: RGBA, zlib level 1."""
    style = ("    CLASS\n      STYLE COLOR 47 126 188 OPACITY 45 END\n"
             "      STYLE OUTLINECOLOR 22 66 91 WIDTH 1 END\n    END\n")
    box = " ".join(f"{v!r}" for v in extent)
    layers = ""
    for group, levels in sources.items():
        for k, source in enumerate(levels):
            layers += (f'  LAYER\n    NAME "{group}_{k}"\n    GROUP "{group}"\n    TYPE POLYGON\n    STATUS ON\n'
                       f'    {source}\n    EXTENT {box}\n{scale_range(k, scales[group])}'
                       f'    PROJECTION "init=epsg:4326" END\n    METADATA "wms_title" "{group}" END\n{style}  END\n')
    path.write_text(
        'MAP\n  NAME "bench"\n  EXTENT -180 -90 180 90\n  SIZE 256 256\n  MAXSIZE 4096\n  UNITS DD\n'
        '  PROJECTION "init=epsg:4326" END\n  IMAGETYPE "png"\n'
        '  OUTPUTFORMAT\n    NAME "png"\n    DRIVER AGG/PNG\n    MIMETYPE "image/png"\n    IMAGEMODE RGBA\n'
        '    EXTENSION "png"\n    TRANSPARENT ON\n    FORMATOPTION "COMPRESSION=1"\n  END\n'
        '  WEB\n    METADATA\n      "wms_title" "bench"\n'
        f'      "wms_onlineresource" "http://127.0.0.1:{port}/?"\n'
        '      "wms_srs" "EPSG:4326 EPSG:3857"\n      "wms_enable_request" "*"\n    END\n  END\n'
        + layers + "END\n")


def start_mapserver(sources: dict[str, list[str]], scales: dict[str, list[float]], extent: tuple[float, ...],
                    workers: int) -> tuple[Server, Server]:
    # --system-site-packages: mapscript comes from Debian's python3-mapscript (bench/setup.sh).
    bin_ = venv("mapserver", [GUNICORN], python=SYSTEM_PYTHON, system_site_packages=True)
    port = free_port()
    path, log = WORK / "bench.map", WORK / "mapserver.log"
    mapfile(path, port, sources, scales, extent)
    env = clean_env(MAPFILE=str(path), PYTHONPATH=str(PEERS_DIR))
    process = start([str(bin_ / "python"), str(PEERS_DIR / "mapscript_wsgi.py"), "--port", str(port),
                     "--workers", str(workers)], env, log)
    root = f"http://127.0.0.1:{port}/"
    pg = Server("mapserver-postgis", root, process, "communes_pg")
    gp = Server("mapserver-gpkg", root, None, "communes_gpkg")
    wait_ready(pg, root + "?SERVICE=WMS&REQUEST=GetCapabilities", log)
    return pg, gp


def start_floor(db_url: str, storage: str, workers: int) -> Server:
    bin_ = venv("mvtfloor", FLOOR)
    port = free_port()
    log = WORK / "mvtfloor.log"
    env = clean_env(DATABASE_URL=db_url, MVT_TABLE=f"kartenn_data.{storage}", MVT_FIELDS="code,nom,copy",
                    PYTHONPATH=str(PEERS_DIR))
    server = Server("st_asmvt", f"http://127.0.0.1:{port}")
    server.process = start([str(bin_ / "python"), str(PEERS_DIR / "reuseport.py"), "mvt_floor:app", "--port",
                            str(port), "--workers", str(workers)], env, log)
    wait_ready(server, f"{server.base}/tiles/0/0/0", log)
    return server


def url_for(server: Server, case: str, spec: dict) -> str | None:
    """The URL of ``spec`` on ``server``; None when the server has no such service."""
    name = server.name
    if case.startswith("wms"):
        if name not in WMS_PEERS:
            return None
        x0, y0, x1, y1 = spec["bbox"]
        params = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": server.collection,
                  "STYLES": "", "SRS": "EPSG:3857", "BBOX": f"{x0:.2f},{y0:.2f},{x1:.2f},{y1:.2f}",
                  "WIDTH": spec["size"], "HEIGHT": spec["size"], "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
        prefix = f"{server.extra['root']}/wms?" if name.startswith("kartenn") else server.base + "?"
        return prefix + urlencode(params)
    if name not in MVT_PEERS:
        return None
    z, x, y = spec["tile"]
    if name.startswith("kartenn"):
        return f"{server.base}/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt"
    if name == "tipg":
        return f"{server.base}/tiles/WebMercatorQuad/{z}/{x}/{y}"
    return f"{server.base}/tiles/{z}/{x}/{y}"


# Checks ----------------------------------------------------------------------------------------------------


def inspect(url: str, case: str, size: int | None) -> dict:
    """What one answer holds: a PNG's size and share of drawn pixels, or an MVT's number of features."""
    r = httpx.get(url, timeout=120)
    out: dict = {"status": r.status_code, "bytes": len(r.content)}
    if r.status_code >= 400:
        out["error"] = r.text[:200]
        return out
    try:
        if case.startswith("wms"):
            image = Image.open(io.BytesIO(r.content))
            image.load()
            alpha = np.asarray(image.convert("RGBA"))[:, :, 3]
            out.update(format=image.format, size=list(image.size), drawn=round(float((alpha > 0).mean()), 3),
                       covered=alpha > 0)
            out["ok"] = image.format == "PNG" and image.size == (size, size)
        else:
            layers = mapbox_vector_tile.decode(r.content) if r.content else {}
            out["features"] = sum(len(layer["features"]) for layer in layers.values())
            out["ok"] = True
    except Exception as exc:  # an undecodable answer fails the check, with the reason
        out.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
    return out


def sanity(servers: list[Server], case: str, specs: list[dict], sample: int) -> dict[str, dict]:
    """Every peer on ``sample`` specs spread over the list: decodable answers, and something in most of them;
    MapServer's images drawn where Kartenn's, on the same store, are."""
    picks = specs[1:: max(1, len(specs) // sample)][:sample]
    verdict, covers = {}, {}
    for server in servers:
        urls = [url_for(server, case, s) for s in picks]
        if any(u is None for u in urls):
            continue
        seen = [inspect(u, case, s.get("size")) for u, s in zip(urls, picks, strict=True)]
        covers[server.name] = [s.pop("covered", None) for s in seen]
        bad = [s for s in seen if s["status"] >= 400 or not s.get("ok")]
        content = [s.get("drawn", s.get("features", 0)) for s in seen if s.get("ok")]
        if bad:
            verdict[server.name] = {"status": "n/a", "why": f"bad answer: {bad[0]}"}
        elif sum(1 for c in content if c) < len(content) / 2:
            verdict[server.name] = {"status": "n/a", "why": "mostly empty answers"}
        else:
            verdict[server.name] = {"status": "ok", "why": ""}
        verdict[server.name]["samples"] = [s.get("drawn", s.get("features")) for s in seen]
    for peer, ref in SAME_STORE.items():
        if verdict.get(peer, {}).get("status") == "ok" and ref in covers:
            agrees = [round(float((a == b).mean()), 3) if a is not None and b is not None and a.shape == b.shape
                      else 0.0 for a, b in zip(covers[peer], covers[ref], strict=True)]
            verdict[peer]["agrees"] = agrees
            if min(agrees) < AGREEMENT:
                verdict[peer].update(status="n/a", why=f"draws other pixels than {ref}")
    return verdict


# Run -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    peers = [p for p in args.peers.split(",") if p]
    cases = [c for c in args.cases.split(",") if c]
    unknown = [p for p in peers if p not in PEERS] + [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown peer or case: {unknown}")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    source = make_polygons()
    info = pyogrio.read_info(source)
    count, extent = info["features"], tuple(float(v) for v in info["total_bounds"])
    specs = url_specs(source, args.urls, args.cold, args.seed)
    servers: list[Server] = []
    figures: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    with TemporaryCluster() as pg:
        try:
            db_url = pg.create_database("kartenn")
            embedded_dir, postgis_dir = WORK / "site-maps", WORK / "site-maps-pg"
            # Without its tile cache Kartenn makes every tile for its request, as the peers do; with it (--tile-cache)
            # the warm cases measure the cache.
            cache = {"KARTENN_TILE_CACHE": "true" if args.tile_cache else "false"}
            env_embedded, env_pg = clean_env(**cache), clean_env(KARTENN_DATABASE_URL=db_url, **cache)
            print(f"publishing {count} polygons into both stores…", flush=True)
            gpkg_id, gpkg_storage = publish(source, embedded_dir, env_embedded)
            pg_id, pg_storage = publish(source, postgis_dir, env_pg)
            gpkg = embedded_dir / "features" / f"{gpkg_storage}.gpkg"
            levels = {"communes_pg": store_levels(postgis_dir, env_pg, pg_storage),
                      "communes_gpkg": store_levels(embedded_dir, env_embedded, gpkg_storage)}
            latitude = maps_latitude(specs)
            scales = {name: level_scales(t, latitude) for name, t in levels.items()}
            setup = {"pg_storage": pg_storage, "gpkg": gpkg.name, "levels": levels, "scales": scales,
                     "latitude": round(latitude, 2)}
            if "kartenn-gpkg" in peers:
                servers.append(start_kartenn("kartenn-gpkg", embedded_dir, gpkg_id, args.workers, env_embedded))
            if "kartenn-postgis" in peers:
                servers.append(start_kartenn("kartenn-postgis", postgis_dir, pg_id, args.workers, env_pg))
            if {"mapserver-gpkg", "mapserver-postgis"} & set(peers):
                sources = level_sources(pg.port, pg_storage, gpkg, levels["communes_pg"], levels["communes_gpkg"])
                ms_pg, ms_gpkg = start_mapserver(sources, scales, extent, args.workers)
                servers += [s for s in (ms_pg, ms_gpkg) if s.name in peers]
            if "tipg" in peers:
                # No cap on features per tile: every peer puts all of a zoom-6 tile's polygons in it.
                servers.append(start_tipg(db_url, pg_storage, args.workers, max_features=1_000_000))
            if "st_asmvt" in peers:
                servers.append(start_floor(db_url, pg_storage, args.workers))
            print("servers: " + ", ".join(f"{s.name} {s.base}" for s in servers), flush=True)
            for case in cases:
                live = [s for s in servers if url_for(s, case, specs[case][0]) is not None]
                checks[case] = sanity(live, case, specs[case], args.sample)
                print(f"{case}: " + ", ".join(f"{k} {v['status']} {v['why']} {v['samples']}".strip()
                                              for k, v in checks[case].items()), flush=True)
                timed = [s for s in live if checks[case][s.name]["status"] == "ok"]
                for s in live:
                    if s not in timed:
                        figures[f"{case}/c1/{s.name}"] = {"n/a": checks[case][s.name]["why"]}
                if case == "cold14":
                    run_cold(timed, specs[case], args, figures)
                    continue
                for server in timed:  # untimed: first requests pay imports, connections and cold caches
                    if args.warmup > 0:
                        load([url_for(server, case, s) for s in specs[case]], args.workers, args.warmup,
                             f"warmup-{server.name}")
                for concurrency in concurrencies:
                    for round_ in range(args.rounds):
                        for server in timed:  # peers interleaved within a case: drift hits them alike
                            key = f"{case}/c{concurrency}/{server.name}"
                            got = load([url_for(server, case, s) for s in specs[case]], concurrency, args.seconds,
                                       f"{case}-{server.name}")
                            # Best of the rounds: other work on the machine only ever slows a run down.
                            if key not in figures or got["req_per_s"] > figures[key]["req_per_s"]:
                                figures[key] = {**got, "rounds": [*figures.get(key, {}).get("rounds", []),
                                                                  got["req_per_s"]]}
                            else:
                                figures[key]["rounds"].append(got["req_per_s"])
                            show(f"{key} (round {round_ + 1})", got)
        finally:
            for server in servers:
                stop(server.process)
    return report(args, count, cases, concurrencies, specs, checks, figures, setup)


def run_cold(servers: list[Server], specs: list[dict], args: argparse.Namespace, figures: dict) -> None:
    """Each peer gets its own slice of the fresh tiles: no server ever sees a tile asked of it (or a peer) before."""
    per = len(specs) // max(1, len(servers))
    for k, server in enumerate(servers):
        urls = [url_for(server, "cold14", s) for s in specs[k * per:(k + 1) * per]]
        key = f"cold14/c1/{server.name}"
        figures[key] = load(urls, 1, args.cold_seconds, f"cold14-{server.name}")
        figures[key]["distinct_urls"] = len(urls)
        if figures[key]["requests"] + figures[key]["errors"] + 1 > len(urls):
            figures[key]["note"] = "the run outlasted the list: some tiles were asked twice"
        show(key, figures[key])


def show(key: str, f: dict) -> None:
    print(f"  {key}: {f['req_per_s']} req/s, p95 {f['p95_ms']} ms, errors {f['errors']}", flush=True)


def report(args: argparse.Namespace, count: int, cases: list[str], concurrencies: list[int],
           specs: dict[str, list[dict]], checks: dict, figures: dict, setup: dict) -> dict:
    ratios = {}
    for case in cases:
        for concurrency in concurrencies:
            for ours, theirs in RATIOS["wms" if case.startswith("wms") else "mvt"]:
                a = figures.get(f"{case}/c{concurrency}/{ours}", {})
                b = figures.get(f"{case}/c{concurrency}/{theirs}", {})
                if "req_per_s" in a and "req_per_s" in b and b["req_per_s"] > 0:
                    ratios[f"{case}/c{concurrency}/{ours}:{theirs}"] = round(a["req_per_s"] / b["req_per_s"], 2)
    load1, load5, load15 = os.getloadavg()
    version = mapserver_version()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                    * os.sysconf("SC_PHYS_PAGES") / 1024**3), "python": platform.python_version(),
                    "loadavg_at_end": [round(load1, 2), round(load5, 2), round(load15, 2)]},
        "input": f"Admin Express 2018 communes (35,357 polygons) and {len(OFFSETS) - 1} offset copies on a grid "
                 f"of whole-degree shifts {OFFSETS}: {count} polygons, 3 attributes (code, nom, copy), EPSG:4326",
        "peers": {"kartenn": KARTENN_SERVER,
                  "mapserver": f"MapServer {version} (Debian python3-mapscript under {GUNICORN}, mapfile parsed "
                  "once per process, one map at a time per process; AGG/PNG RGBA with COMPRESSION=1, as Kartenn's "
                  "PNG; Kartenn's generalised levels by scale, PostGIS with CLOSE_CONNECTION=DEFER, GeoPackage via "
                  "OGR)",
                  "tipg": TIPG, "st_asmvt": "bench/peers/mvt_floor.py: one ST_AsMVT query per tile, psycopg async "
                  "pool, bare ASGI under uvicorn"},
        "workers": args.workers, "tile_cache": args.tile_cache, "warmup": args.warmup, "seconds": args.seconds,
        "cold_seconds": args.cold_seconds,
        "rounds": args.rounds,
        "concurrency": concurrencies, "cases": {c: CASES[c] for c in cases},
        "configuration": {p: row for p, row in configuration(args.workers, setup, version).items()
                          if p in args.peers.split(",")},
        "urls_per_case": {c: len(specs[c]) for c in cases}, "sanity": checks, "results": figures, "ratios": ratios,
    }


CONFIG_COLUMNS = ["server", "processes", "sockets", "event loop", "data read", "output"]


def scale_text(names: list[str], scales: list[float]) -> str:
    """'`geom` to 1:1,234, `geom_1` from 1:1,234': each level's table or column and its scales."""
    out = []
    for k, name in enumerate(names):
        low = [f"from 1:{scales[k - 1]:,.0f}"] if k else []
        high = [f"to 1:{scales[k]:,.0f}"] if k < len(scales) else []
        out.append(" ".join([f"`{name}`", *low, *high]))
    return ", ".join(out)


def configuration(workers: int, setup: dict, version: str) -> dict[str, dict[str, str]]:
    """Per peer, how it is served and what it reads: the fairness of the comparison at a glance."""
    table = f"`{PG_SCHEMA}.{setup['pg_storage']}`"
    pg_levels, gpkg_levels = setup["levels"]["communes_pg"], setup["levels"]["communes_gpkg"]
    columns = [display.column(k) for k in range(len(pg_levels) + 1)]
    tables = [display.table(GPKG_LAYER, k) for k in range(len(gpkg_levels) + 1)]
    slots = max(1, (os.cpu_count() or 1) // workers)
    tolerances = "; level k drawn where its tolerance ({}°) is at most half the map's pixel in degrees"
    kartenn = {"server": "`kartenn serve` (uvicorn), Mapnik maps", "sockets": "one per process (SO_REUSEPORT)",
               "processes": f"{workers}, each drawing maps in {slots} Mapnik process{'es' if slots > 1 else ''} "
                            "of its own",
               "event loop": "uvloop + httptools, keep-alive",
               "output": "PNG: Mapnik png32:z=1 (RGBA, zlib level 1); MVT: 4096 grid, 64 px buffer"}
    mapserver = {"server": f"MapServer {version}, Debian python3-mapscript, {GUNICORN}",
                 "processes": f"{workers} gunicorn servers of one gthread worker (one thread): one map at a time "
                              "per process, mapfile parsed once per process",
                 "sockets": "one per process (a gunicorn server per process, --reuse-port)",
                 "event loop": "gunicorn gthread (selectors), keep-alive",
                 "output": "AGG/PNG, IMAGEMODE RGBA, TRANSPARENT ON, FORMATOPTION COMPRESSION=1; Kartenn's default "
                           "polygon style"}
    by_scale = (f"; one LAYER per level in GROUP {{}}, MINSCALEDENOM/MAXSCALEDENOM where Kartenn switches at "
                f"latitude {setup['latitude']}° (the median of the maps'), EPSG:4326 reprojected as Kartenn's maps")
    floor = {"sockets": "one per process (bench/peers/reuseport.py)", "event loop": "uvloop + httptools, keep-alive",
             "processes": str(workers)}
    return {
        "kartenn-gpkg": {**kartenn, "data read": f"`{setup['gpkg']}`, tables {', '.join(tables)}"
                         + tolerances.format(", ".join(f"{t:.3g}" for t in gpkg_levels))},
        "kartenn-postgis": {**kartenn, "data read": f"{table}: maps from {', '.join(columns)} (EPSG:4326, "
                            "found by `geom`'s index)" + tolerances.format(", ".join(f"{t:.3g}" for t in pg_levels))
                            + f"; tiles from `{display.WEB_MERCATOR_COLUMN}` at level 0, from a level's column "
                            "projected above"},
        "mapserver-gpkg": {**mapserver, "data read": f"`{setup['gpkg']}` through OGR: "
                           + scale_text(tables, setup["scales"]["communes_gpkg"]) + by_scale.format("communes_gpkg")},
        "mapserver-postgis": {**mapserver, "data read": f"{table}: "
                              + scale_text(columns, setup["scales"]["communes_pg"])
                              + ", `geom && !BOX!` as Kartenn's query, using unique fid using srid=4326, "
                              "CLOSE_CONNECTION=DEFER" + by_scale.format("communes_pg")},
        "tipg": {**floor, "server": f"{TIPG} under uvicorn", "data read": f"{table}.`geom` (its first geometry "
                 "column), projected per tile", "output": "MVT: 4096 grid, 256 px buffer (its defaults)"},
        "st_asmvt": {**floor, "server": "bench/peers/mvt_floor.py, bare ASGI under uvicorn, psycopg pool of 4–8",
                     "data read": f"{table}.`geom`, projected per tile",
                     "output": "MVT: 4096 grid, 64 px buffer"},
    }


def mapserver_version() -> str:
    result = subprocess.run([SYSTEM_PYTHON, "-c", "import mapscript; print(mapscript.MS_VERSION)"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "?"


def write(report: dict, name: str = "maps") -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    peers = [p for p in PEERS if any(k.split("/")[2] == p for k in report["results"])]
    lines = [
        "# Maps and tiles: Kartenn vs MapServer, tipg and raw ST_AsMVT", "",
        f"{report['date']} · {report['machine']['cores']} cores, {report['machine']['memory_gb']} GB · "
        f"Python {report['machine']['python']} · every server with {report['workers']} worker processes · "
        f"{report['seconds']} s per run after {report['warmup']} s of warm-up per case, best of {report['rounds']} "
        "interleaved rounds (cold14: one run over tiles never asked before) · Kartenn's tile cache "
        + ("on (warm cases answered from it)" if report.get("tile_cache") else "off (every tile made for its request)")
        + " · "
        "client: bench/load.py (httpx, closed loop) on the same machine · load average at the end "
        f"{report['machine']['loadavg_at_end']} (the 2 cores are shared with other work: read ratios, not "
        "absolute figures)", "",
        f"Input: {report['input']}.", "",
        "Peers: " + "; ".join(f"**{k}** {v}" for k, v in report["peers"].items()) + ".", "",
        "Cases: " + "; ".join(f"**{k}** {v} ({report['urls_per_case'][k]} different URLs)"
                              for k, v in report["cases"].items()) + ".", "",
        "req/s (p95 ms); errors are answers ≥ 400 or failed requests; empty cells: the peer has no such service.",
        "",
        "| case | conc. | " + " | ".join(peers) + " |",
        "| --- | --- |" + " --- |" * len(peers),
    ]
    for case in report["cases"]:
        for c in report["concurrency"] if case != "cold14" else [1]:
            cells = []
            for p in peers:
                f = report["results"].get(f"{case}/c{c}/{p}")
                if f is None:
                    cells.append("")
                elif "req_per_s" not in f:
                    cells.append("n/a")
                else:
                    errors = f" · {f['errors']} errors" if f.get("errors") else ""
                    cells.append(f"{f['req_per_s']} ({f['p95_ms']}){errors}")
            lines.append(f"| {case} | {c} | " + " | ".join(cells) + " |")
    pairs = RATIOS["wms"] + RATIOS["mvt"]
    lines += ["", "Ratios of req/s (above 1: Kartenn serves more):", "",
              "| case | conc. | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |",
              "| --- | --- |" + " --- |" * len(pairs)]
    for case in report["cases"]:
        for c in report["concurrency"] if case != "cold14" else [1]:
            cells = [str(report["ratios"].get(f"{case}/c{c}/{a}:{b}", "")) for a, b in pairs]
            lines.append(f"| {case} | {c} | " + " | ".join(cells) + " |")
    lines += ["", "Mean bytes per answer (c1):", "", "| case | " + " | ".join(peers) + " |",
              "| --- |" + " --- |" * len(peers)]
    for case in report["cases"]:
        cells = []
        for p in peers:
            f = report["results"].get(f"{case}/c1/{p}", {})
            cells.append(str(round(f["bytes"] / f["requests"])) if f.get("requests") else "")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines += ["", "Configuration and fairness:", "", "| peer | " + " | ".join(CONFIG_COLUMNS) + " |",
              "| --- |" + " --- |" * len(CONFIG_COLUMNS)]
    for peer, row in report.get("configuration", {}).items():
        lines.append(f"| {peer} | " + " | ".join(row[c] for c in CONFIG_COLUMNS) + " |")
    lines += ["", "Targets:", ""] + [f"- {t}" for t in targets(report)]
    lines += ["", "Sanity check before timing (share of drawn pixels per image, or features per tile, on sample "
              "URLs):", ""]
    for case, verdicts in report["sanity"].items():
        for peer, v in verdicts.items():
            agrees = f"; pixels drawn alike with Kartenn's: {v['agrees']}" if "agrees" in v else ""
            lines.append(f"- {case} · {peer}: **{v['status']}** {v['why']} — {v['samples']}{agrees}")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def targets(report: dict) -> list[str]:
    """The issue's targets, each with the figures that meet or miss it."""
    r, out = report["ratios"], []

    def verdict(keys: list[str], floor: float) -> str:
        values = [r[k] for k in keys if k in r]
        if not values:
            return "not measured"
        return ("met" if min(values) >= floor else "missed") + " (" + ", ".join(f"{v}" for v in values) + ")"

    wms = [k for k in r if k.startswith("wms") and k.endswith(("kartenn-postgis:mapserver-postgis",
                                                                 "kartenn-gpkg:mapserver-gpkg"))]
    out.append(f"WMS req/s at least MapServer's, same store, every size and concurrency: {verdict(wms, 1.0)}")
    mvt = [k for k in r if k.startswith("mvt") and "kartenn-postgis:" in k]
    out.append("MVT on PostGIS at least tipg's req/s: "
               + verdict([k for k in mvt if k.endswith(":tipg")], 1.0))
    out.append("MVT on PostGIS at least 60% of raw ST_AsMVT's req/s: "
               + verdict([k for k in mvt if k.endswith(":st_asmvt")], 0.6))
    for peer in ("kartenn-postgis", "kartenn-gpkg"):
        f = report["results"].get(f"cold14/c1/{peer}", {})
        if "p95_ms" in f:
            out.append(f"first zoom-14 tile never asked before, p95 under 50 ms ({peer}): "
                       f"{'met' if f['p95_ms'] < 50 else 'missed'} ({f['p95_ms']} ms)")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each timed run")
    parser.add_argument("--cold-seconds", type=float, default=8, help="length of the run over never-asked tiles")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, among {','.join(CASES)}")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, among {','.join(PEERS)}")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs per peer and case; the best is kept")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client concurrencies")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every server")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds of load per server and case")
    parser.add_argument("--urls", type=int, default=300, help="different bboxes or tiles per case")
    parser.add_argument("--cold", type=int, default=6000, help="never-asked zoom-14 tiles, shared among the peers")
    parser.add_argument("--sample", type=int, default=5, help="URLs per case checked on every peer")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tile-cache", action="store_true", help="serve Kartenn's tiles from its tile cache")
    parser.add_argument("--name", default="maps", help="results file names: bench/results/NAME.{md,json}")
    args = parser.parse_args()
    report = run(args)
    write(report, args.name)
    print((RESULTS / f"{args.name}.md").read_text())
