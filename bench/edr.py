"""EDR benchmark: Kartenn's OGC API – EDR on a raster time stack against pygeoapi's xarray EDR provider, same file.

Input: tests/data/rasters/coads_sst.nc (monthly sea-surface temperature, 2° grid, 12 times; its README gives the
source and licence). Kartenn publishes its SST variable as a raster time stack (`kartenn ingest --variable SST`:
one Cloud Optimized GeoTIFF per month); pygeoapi 0.21 serves the NetCDF itself through its `xarray-edr` provider,
as its documentation configures it. pygeoapi has no provider for station series of our kind (its only other EDR
provider reads a SensorThings API server), so stations are not compared.

Cases: `position` (a point at a cell's centre, every month: 12 values) and `cube` (a 10° × 10° box on cell edges,
every month: 12 × 25 cells; pygeoapi's xarray provider offers position and cube, not area), parameter SST,
CoverageJSON, at concurrency 1 and 8. Before timing, sample answers of both servers
are compared value by value. Figures go to bench/results/edr.{json,md}.

    python bench/edr.py [--seconds 10] [--cases position,area] [--concurrency 1,8]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import (  # noqa: E402 - the feature benchmark's peers and helpers, shared
    KARTENN,
    PYGEOAPI,
    PYGEOAPI_EXTENT,
    WORK,
    Server,
    clean_env,
    free_port,
    load,
    pygeoapi_document,
    serve_pygeoapi,
    start_kartenn,
    stop,
    venv,
    wait_ready,
)

from kartenn.config import Settings  # noqa: E402
from kartenn.site import Site  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
NC = ROOT / "tests" / "data" / "rasters" / "coads_sst.nc"
PEERS = ["kartenn", "pygeoapi"]
CASES = {"position": "EDR position: the 12 monthly values of one cell (CoverageJSON)",
         "cube": "EDR cube: a 10° × 10° box, 12 months × 25 cells (CoverageJSON)"}
# pygeoapi with its xarray provider's extras
PYGEOAPI_EDR = [PYGEOAPI, "uvicorn[standard]", "starlette", "xarray", "netCDF4", "fsspec"]


def publish(data_dir: Path, env: dict[str, str]) -> str:
    shutil.rmtree(data_dir, ignore_errors=True)
    for cmd in (["init", str(data_dir)], ["ingest", "--data-dir", str(data_dir), "--variable", "SST", str(NC)]):
        result = subprocess.run([*KARTENN, *cmd], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"kartenn {cmd[0]} failed:\n{result.stdout}\n{result.stderr}")
    site = Site.open(Settings.load(data_dir))
    try:
        (dataset,) = site.catalog.list_datasets()
        return dataset.id
    finally:
        site.close()


def start_pygeoapi(workers: int) -> Server:
    bin_ = venv("pygeoapi-edr", PYGEOAPI_EDR)
    port = free_port()
    document = pygeoapi_document(port, {"coads": {
        "type": "collection", "title": "COADS SST", "description": "COADS sea-surface temperature",
        "keywords": ["sst"], "extents": PYGEOAPI_EXTENT,
        "providers": [{"type": "edr", "name": "xarray-edr", "data": str(NC),
                       "format": {"name": "NetCDF", "mimetype": "application/x-netcdf"}}]}})
    process, log = serve_pygeoapi(bin_, "pygeoapi-edr", document, port, workers)
    server = Server("pygeoapi", f"http://127.0.0.1:{port}/collections/coads", process, "coads")
    wait_ready(server, server.base, log)
    return server


# URLs ------------------------------------------------------------------------------------------------------


def ocean_cells(n: int, seed: int) -> list[tuple[float, float]]:
    """Centres of ``n`` cells with a value every month, between 60° S and 60° N and away from the antimeridian."""
    with rasterio.open(f"NETCDF:{NC}:SST") as src:
        data = src.read(masked=True)
        transform = src.transform
    full = ~np.ma.getmaskarray(data).any(axis=0) & np.isfinite(np.ma.filled(data, np.nan)).all(axis=0)
    rows, cols = np.nonzero(full)
    rng = random.Random(seed)
    found = []
    while len(found) < n:
        k = rng.randrange(len(rows))
        x, y = transform * (cols[k] + 0.5, rows[k] + 0.5)
        if abs(y) <= 60 and abs(x) <= 168:
            found.append((float(x), float(y)))
    return found


def url_for(server: Server, case: str, cell: tuple[float, float]) -> str:
    x, y = cell
    # CoverageJSON from both: pygeoapi names it f=json for EDR queries
    common = {"parameter-name": "SST", "f": "json" if server.name == "pygeoapi" else "covjson"}
    if case == "position":
        return f"{server.base}/position?" + urlencode({"coords": f"POINT({x:g} {y:g})", **common})
    # a box on cell edges (even degrees) around the cell: 5 × 5 cells, no centre on its edges
    x0, y0 = 2 * math.floor((x - 5) / 2), 2 * math.floor((y - 5) / 2)
    return f"{server.base}/cube?" + urlencode({"bbox": f"{x0},{y0},{x0 + 10},{y0 + 10}", **common})


def values(doc: dict) -> list[float]:
    """Every value of a CoverageJSON answer (one coverage, or the first of a collection), sorted, without nulls."""
    coverage = doc["coverages"][0] if doc.get("type") == "CoverageCollection" else doc
    (first,) = [r for r in coverage["ranges"].values()][:1]
    return sorted(round(float(v), 3) for v in first["values"] if v is not None)


def sanity(servers: list[Server], case: str, cells: list[tuple[float, float]], sample: int) -> dict[str, dict]:
    """Each peer's values on sample URLs, against Kartenn's: the same numbers (as multisets)."""
    verdicts = {}
    reference: list[list[float]] = []
    for server in servers:
        got = []
        for cell in cells[:sample]:
            try:
                r = httpx.get(url_for(server, case, cell), timeout=60)
            except httpx.HTTPError:
                got.append([])
                continue
            got.append(values(r.json()) if r.status_code == 200 else [])
        if not reference:
            reference = got
        same = got == reference and all(got)
        verdicts[server.name] = {"status": "ok" if same else "differs", "samples": [len(v) for v in got]}
    return verdicts


# Run -------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    cases = [c for c in args.cases.split(",") if c]
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    cells = ocean_cells(args.urls, args.seed)
    servers: list[Server] = []
    figures: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    try:
        env = clean_env()
        dataset_id = publish(WORK / "site-edr", env)
        servers.append(start_kartenn("kartenn", WORK / "site-edr", dataset_id, args.workers, env))
        for case in cases:
            # pygeoapi afresh for each case: under load its processes can die (netCDF4 read from several threads:
            # "NetCDF: HDF error"), and a dead peer must not take the next case with it
            if len(servers) > 1:
                stop(servers.pop().process)
            servers.append(start_pygeoapi(args.workers))
            checks[case] = sanity(servers, case, cells, args.sample)
            print(f"{case}: {checks[case]}", flush=True)
            timed = [s for s in servers if checks[case][s.name]["status"] == "ok"]
            for server in timed:
                load([url_for(server, case, c) for c in cells], args.workers, args.warmup, f"warmup-{server.name}")
            for concurrency in concurrencies:
                for _ in range(args.rounds):
                    for server in timed:  # interleaved: drift hits both alike
                        key = f"{case}/c{concurrency}/{server.name}"
                        got = load([url_for(server, case, c) for c in cells], concurrency, args.seconds,
                                   f"{case}-{server.name}")
                        print(f"  {key}: {got['req_per_s']} req/s, p95 {got['p95_ms']} ms, errors {got['errors']}",
                              flush=True)
                        best = figures.get(key)
                        if best is None or got["req_per_s"] > best["req_per_s"]:
                            figures[key] = got
    finally:
        for server in servers:
            stop(server.process)
    ratios = {}
    for case in cases:
        for c in concurrencies:
            a, b = figures.get(f"{case}/c{c}/kartenn"), figures.get(f"{case}/c{c}/pygeoapi")
            if a and b and b["req_per_s"] > 0:
                ratios[f"{case}/c{c}/kartenn:pygeoapi"] = round(a["req_per_s"] / b["req_per_s"], 2)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": _cores(), "python": platform.python_version()},
            "workers": args.workers, "seconds": args.seconds, "warmup": args.warmup, "rounds": args.rounds,
            "concurrency": concurrencies, "cases": {c: CASES[c] for c in cases}, "urls_per_case": args.urls,
            "results": figures, "ratios": ratios, "sanity": checks, "configuration": configuration(args.workers)}


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def configuration(workers: int) -> list[dict]:
    spread = f"{workers} processes, a SO_REUSEPORT socket each"
    loop = "uvicorn, uvloop + httptools"
    return [
        {"peer": "kartenn", "server": f"`kartenn serve --workers {workers}`", "processes": spread, "loop": loop,
         "data": "coads_sst.nc's SST as a raster time stack: 12 Cloud Optimized GeoTIFFs (DEFLATE), read with "
                 "rasterio per request", "settings": "defaults"},
        {"peer": "pygeoapi", "server": f"{PYGEOAPI} `pygeoapi.starlette_app:APP` (bench/peers/reuseport.py)",
         "processes": spread, "loop": loop,
         "data": "coads_sst.nc itself, `xarray-edr` provider (xarray + netCDF4, the file opened once per process)",
         "settings": "pretty_print off, logging ERROR"},
    ]


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "edr.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# OGC API – EDR on a raster time stack: Kartenn vs pygeoapi", "",
        f"{report['date']} · {report['machine']['cores']} cores · Python {report['machine']['python']} · every "
        f"server with {report['workers']} worker processes · {report['seconds']} s per run, best of "
        f"{report['rounds']}, after {report['warmup']} s of warm-up · client: bench/load.py", "",
        "## Configuration and fairness", "",
        "Both servers on 127.0.0.1 with the same processes, sockets and event loop; the same cells for both (the "
        "longitudes written as each server reads them); CoverageJSON from both; values compared before timing.", "",
        "| peer | server | processes | event loop | data read | settings |", "| --- | --- | --- | --- | --- | --- |",
        *[f"| {c['peer']} | {c['server']} | {c['processes']} | {c['loop']} | {c['data']} | {c['settings']} |"
          for c in report["configuration"]], "",
        "## Figures", "",
        "Cases: " + "; ".join(f"**{k}** {v}" for k, v in report["cases"].items())
        + f" ({report['urls_per_case']} different cells).", "",
        "| case | conc. | kartenn req/s (p95 ms) | pygeoapi req/s (p95 ms) | ratio |",
        "| --- | --- | --- | --- | --- |"]
    for case in report["cases"]:
        for c in report["concurrency"]:
            cells = []
            for peer in PEERS:
                f = report["results"].get(f"{case}/c{c}/{peer}")
                errors = f" · {f['errors']} errors" if f and f.get("errors") else ""
                cells.append(f"{f['req_per_s']} ({f['p95_ms']}){errors}" if f else "n/a")
            ratio = report["ratios"].get(f"{case}/c{c}/kartenn:pygeoapi", "n/a")
            lines.append(f"| {case} | {c} | {cells[0]} | {cells[1]} | {ratio} |")
    lines += ["", "Sanity check (values per sample answer, equal to Kartenn's as sorted lists):", ""]
    for case, verdicts in report["sanity"].items():
        for peer, v in verdicts.items():
            lines.append(f"- {case} · {peer}: **{v['status']}** — {v['samples']}")
    (RESULTS / "edr.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--urls", type=int, default=200)
    parser.add_argument("--sample", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    report = run(parser.parse_args())
    write(report)
    print((RESULTS / "edr.md").read_text())
