"""Map latency under hostile styles: WMS GetMap of an ordinary map, quiet and while six clients send LIKE-% SLD_BODY
documents (the attack a security review found: 18 KB of PropertyIsLike patterns made of many %).

Input: the 35,357 French communes of Admin Express 2018 (polygons, Licence Ouverte IGN/INSEE), published by
`kartenn ingest` into the embedded store (GeoPackage), or PostGIS with --store postgis, and served by
`kartenn serve --workers 1` on 127.0.0.1.

Normal requests: WMS 1.3.0 GetMap 256×256 PNG of the communes in their default style, around random communes
(bbox 5–100 km wide), fetched by the load generator (bench/load.py) at concurrency 1.
Hostile requests: six threads, each sending GetMap requests over the same boxes in a closed loop, with an
SLD_BODY of ~18 KB: half of them patterns of thousands of %-separated letters (over the filter-node limit),
half of them 14 rules of long runs of % and _ that match nothing (within the limits: drawn). Figures (normal
latency quiet and under attack, the hostile answers' statuses and latencies) go to
bench/results/render-attack.{json,md}.

    python bench/render_attack.py [--seconds 20] [--store embedded|postgis] [--source SRC_DIR]

``--source`` serves another copy of the package (e.g. one exported with `git archive` from before a change) to
compare; figures then go to render-attack-<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import COMMUNES, WORK, clean_env, load, publish, start_kartenn, stop  # noqa: E402 - shared bench helpers

from kartenn.testing.postgres import TemporaryCluster  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ATTACKERS = 6
SLD = ('<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:ogc="http://www.opengis.net/ogc" '
       'version="1.0.0"><NamedLayer><Name>{layer}</Name><UserStyle><Name>s</Name><FeatureTypeStyle>{rules}'
       "</FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>")
RULE = ('<Rule><ogc:Filter><ogc:PropertyIsLike wildCard="%" singleChar="_" escape="\\"><ogc:PropertyName>nom'
        "</ogc:PropertyName><ogc:Literal>{pattern}</ogc:Literal></ogc:PropertyIsLike></ogc:Filter>"
        '<PolygonSymbolizer><Fill><CssParameter name="fill">#ff0000</CssParameter></Fill></PolygonSymbolizer></Rule>')


def hostile_bodies(layer: str) -> list[str]:
    """Two ~18 KB documents: one over the filter-node limit, one within every limit."""
    over = SLD.format(layer=layer, rules=RULE.format(pattern="%a" * 8900 + "%z"))
    within = SLD.format(layer=layer, rules="".join(RULE.format(pattern="%" * 800 + "_%" * 40 + "z%" * 40 + "q")
                                                   for _ in range(14)))
    return [over, within]


def boxes(n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Lat/lon boxes (WMS 1.3.0 EPSG:4326 order) 5–100 km wide around random points of mainland France."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(-1.5, 6.5), rng.uniform(43.5, 49.5)
        half = rng.uniform(0.025, 0.5)
        out.append((lat - half, lon - half, lat + half, lon + half))
    return out


def map_url(root: str, layer: str, box: tuple[float, ...]) -> str:
    return f"{root}/wms?" + urlencode({"service": "WMS", "version": "1.3.0", "request": "GetMap", "layers": layer,
                                       "styles": "", "crs": "EPSG:4326", "bbox": ",".join(f"{v:.5f}" for v in box),
                                       "width": "256", "height": "256", "format": "image/png"})


def attack(root: str, layer: str, body: str, box_list: list, stop_at: list[float], out: list) -> None:
    """Closed loop of hostile GetMaps until ``stop_at[0]``; (status, seconds) of each answer into ``out``."""
    i = 0
    with httpx.Client(timeout=120) as http:
        while time.perf_counter() < stop_at[0]:
            started = time.perf_counter()
            try:
                status = http.get(map_url(root, layer, box_list[i % len(box_list)]) + "&" +
                                  urlencode({"sld_body": body})).status_code
            except httpx.HTTPError:
                status = 0
            out.append((status, time.perf_counter() - started))
            i += 1


def summary(answers: list[tuple[int, float]]) -> dict:
    if not answers:
        return {"requests": 0}
    seconds = sorted(s for _, s in answers)
    statuses: dict[str, int] = {}
    for status, _ in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"requests": len(answers), "statuses": statuses, "p50_ms": round(statistics.median(seconds) * 1000, 1),
            "max_ms": round(seconds[-1] * 1000, 1)}


def run(args: argparse.Namespace) -> dict:
    cluster = TemporaryCluster().start() if args.store == "postgis" else None
    # servers run from bench/work: the package they import is named by an absolute path
    env = clean_env(PYTHONPATH=str(Path(args.source or ROOT / "src").resolve()))
    server = None
    try:
        if cluster is not None:
            env["KARTENN_DATABASE_URL"] = cluster.create_database("render_attack")
        data_dir = WORK / f"render-attack-{args.store}"
        layer, _ = publish(COMMUNES, data_dir, env)
        server = start_kartenn("kartenn-render-attack", data_dir, layer, 1, env)
        root = server.extra["root"]
        urls = [map_url(root, layer, box) for box in boxes(200, 1)]
        for url in urls[:3]:
            r = httpx.get(url, timeout=60)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        quiet = load(urls, 1, args.seconds, "render-quiet")
        answers: list[tuple[int, float]] = []
        stop_at = [time.perf_counter() + 3600]
        bodies = hostile_bodies(layer)
        threads = [threading.Thread(target=attack, args=(root, layer, bodies[k % 2], boxes(50, 100 + k), stop_at,
                                                         answers)) for k in range(ATTACKERS)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # the attack is under way before the normal requests are timed
        attacked = load(urls, 1, args.seconds, "render-attacked")
        stop_at[0] = 0
        for thread in threads:
            thread.join(300)
    finally:
        stop(server.process if server else None)
        if cluster is not None:
            cluster.stop()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores · Python {platform.python_version()}",
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "store": args.store, "source": args.source or "this tree", "seconds": args.seconds,
        "hostile_bytes": [len(b) for b in bodies],
        "quiet": quiet, "attacked": attacked, "hostile": summary(answers),
        "p50_ratio": round(attacked["p50_ms"] / quiet["p50_ms"], 2),
        "p95_ratio": round(attacked["p95_ms"] / quiet["p95_ms"], 2),
    }


def write(report: dict, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    q, a, h = report["quiet"], report["attacked"], report["hostile"]
    lines = [
        "# Map latency under hostile LIKE-% styles", "",
        f"{report['date']} · {report['machine']} · store {report['store']} · code: {report['source']} · "
        f"`kartenn serve --workers 1` · {report['seconds']} s per phase · load average at the end "
        f"{report['load_average']} (the cores are shared with other work)", "",
        "Normal: WMS 1.3.0 GetMap 256×256 PNG of the 35,357 communes, default style, 200 boxes 5–100 km wide, "
        "bench/load.py at concurrency 1. Hostile: six closed-loop clients over the same kind of boxes with "
        f"an SLD_BODY of {' and '.join(str(b) for b in report['hostile_bytes'])} bytes (LIKE patterns of many %: "
        "over the filter-node limit, and within the limits).", "",
        "| normal GetMap | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {label} | {r['requests']} | {r['errors']} | {r['req_per_s']} | {r['p50_ms']} | {r['p95_ms']} | "
          f"{r['p99_ms']} |" for label, r in (("quiet", q), ("under attack", a))), "",
        f"Under attack / quiet: p50 ×{report['p50_ratio']}, p95 ×{report['p95_ratio']}.", "",
        f"Hostile answers: {h.get('requests', 0)} requests, statuses {h.get('statuses', {})}, p50 {h.get('p50_ms')} ms,"
        f" slowest {h.get('max_ms')} ms.", "",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--store", choices=["embedded", "postgis"], default="embedded")
    parser.add_argument("--source", help="serve the package from this src directory instead")
    parser.add_argument("--name", default="render-attack", help="results file name")
    args = parser.parse_args()
    report = run(args)
    write(report, args.name)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
