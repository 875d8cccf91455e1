"""The targets of every benchmark in one table: bench/results/summary.md and summary.json.

Reads the figures the benchmarks wrote (features.json, maps.json, catalog.json, edr.json, ingest.json in
bench/results);
each target compares Kartenn with one peer on the same store, case by case, at every concurrency measured.
``ratio`` is Kartenn's req/s over the peer's (for ingest: the peer's time over Kartenn's, so above 1 is faster
too, and the goal is 1/1.5); ``met`` is None where a figure is missing (the peer could not answer the case).

    python bench/summary.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"
RSS_LIMIT_MB = 500

# (target, results file, cases, [(kartenn peer, other peer)], goal)
TARGETS = [
    ("WMS ≥ 1.0× MapServer", "maps", ["wms256", "wms1024"],
     [("kartenn-postgis", "mapserver-postgis"), ("kartenn-gpkg", "mapserver-gpkg")], 1.0),
    ("MVT ≥ 1.0× tipg", "maps", ["mvt6", "mvt10", "mvt14"], [("kartenn-postgis", "tipg")], 1.0),
    ("MVT ≥ 0.6× ST_AsMVT", "maps", ["mvt6", "mvt10", "mvt14"], [("kartenn-postgis", "st_asmvt")], 0.6),
    ("OGC API Features ≥ 1.0× tipg", "features", ["bbox", "page", "filter"], [("kartenn-postgis", "tipg")], 1.0),
    ("OGC API Features ≥ 3× pygeoapi", "features", ["bbox", "page", "filter"],
     [("kartenn-postgis", "pygeoapi-postgis"), ("kartenn-gpkg", "pygeoapi-gpkg")], 3.0),
    ("CSW and records search ≥ 2× pycsw on PostgreSQL", "catalog", ["csw", "q"],
     [("kartenn-postgis", "pycsw-postgis")], 2.0),
    ("EDR on a raster time stack ≥ 2× pygeoapi", "edr", ["position", "cube"], [("kartenn", "pygeoapi")], 2.0),
]


def entries() -> list[dict]:
    out: list[dict] = []
    for target, name, cases, pairs, goal in TARGETS:
        path = RESULTS / f"{name}.json"
        report = json.loads(path.read_text()) if path.exists() else {"results": {}, "concurrency": [1, 8]}
        results = report["results"]
        for case in cases:
            for concurrency in report.get("concurrency", [1, 8]):
                for ours, theirs in pairs:
                    a = results.get(f"{case}/c{concurrency}/{ours}", {}).get("req_per_s")
                    b = results.get(f"{case}/c{concurrency}/{theirs}", {}).get("req_per_s")
                    ratio = round(a / b, 2) if a and b else None
                    out.append({"target": target, "peer": theirs, "case": f"{case} c{concurrency} ({ours})",
                                "ratio": ratio, "goal": goal, "met": None if ratio is None else ratio >= goal})
    out += ingest()
    return out


def ingest() -> list[dict]:
    path = RESULTS / "ingest.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())["results"]
    out = []
    for store in ("gpkg", "postgis"):
        ours, theirs = r[f"kartenn_{store}"], r[f"ogr2ogr_{store}"]
        ratio = round(theirs["wall_s_median"] / ours["wall_s_median"], 2)
        small = ours["peak_rss_mb_max"] < RSS_LIMIT_MB
        out.append({"target": f"ingest ≤ 1.5× ogr2ogr's time at < {RSS_LIMIT_MB} MB RSS", "peer": "ogr2ogr",
                    "case": f"{store} (peak RSS {ours['peak_rss_mb_max']} MB)", "ratio": ratio,
                    "goal": round(1 / 1.5, 2), "met": ratio >= 1 / 1.5 and small})
    return out


def write(rows: list[dict]) -> None:
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    met = sum(1 for r in rows if r["met"])
    missed = [r for r in rows if r["met"] is False]
    dates = {name: json.loads((RESULTS / f"{name}.json").read_text()).get("date", "?")
             for name in ("features", "maps", "catalog", "edr", "ingest") if (RESULTS / f"{name}.json").exists()}
    lines = ["# Benchmark targets", "",
             "Ratios of Kartenn to each peer on the same store, from one run of each benchmark (`make bench-all`); "
             "each benchmark's own file gives the figures, the peers' configuration and the fairness choices.", "",
             "Runs: " + ", ".join(f"{name} {date}" for name, date in dates.items()), "",
             f"{met} of {len(rows)} met; {len(missed)} missed; {len(rows) - met - len(missed)} without a figure.", "",
             "| target | peer | case | ratio | goal | met |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        shown = "n/a" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(f"| {r['target']} | {r['peer']} | {r['case']} | {r['ratio'] if r['ratio'] is not None else 'n/a'}"
                     f" | {r['goal']} | {shown} |")
    if missed:
        lines += ["", "Where a target is missed, `bench/profiles.md` says where the time goes (profiled) and "
                  "what would close it."]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    rows = entries()
    write(rows)
    print((RESULTS / "summary.md").read_text())
