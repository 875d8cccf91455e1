"""Does answering reveal that a private id exists? Time "private" against "unknown" ids, endpoint by endpoint.

A private dataset and its record must not exist for a caller who may not see them: the same 404 (or the
protocol's "unknown") as an id nobody published, and in about the same time. For each endpoint this asks,
as an anonymous caller, the private id and an unknown id in turns (so that load drifts hit both alike) and
reports each one's median time and their difference. In-process (the ASGI application, no sockets): the
difference is the server's own, without network noise.

    .venv/bin/python bench/enumeration.py [--rounds 300] [--store embedded|postgis|both]

Writes bench/results/enumeration.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "bench" / "results"

ENDPOINTS = [
    ("dataset", "/api/v1/datasets/{id}"),
    ("collection", "/ogc/collections/{id}"),
    ("items", "/ogc/collections/{id}/items?limit=1"),
    ("tile", "/ogc/collections/{id}/tiles/WebMercatorQuad/2/1/1"),
    ("record", "/api/v1/records/{record}"),
    ("wms GetMap", "/wms?service=WMS&version=1.3.0&request=GetMap&layers={id}&styles=&crs=EPSG:3857"
                   "&bbox=-8300000,4950000,-8200000,5000000&width=64&height=64&format=image/png"),
]


def site_with_private_dataset(data_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    from kartenn.config import Settings
    from kartenn.domain.security import Sharing
    from kartenn.services.publish import publish_file
    from kartenn.site import Site

    settings = Settings.load(data_dir, database_url=database_url)
    site = Site.open(settings, create=True)
    site.accounts.add_organisation("iuem")
    (outcome,) = publish_file(site, DATA / "nyc-boroughs" / "nybb_16a.zip", sharing=Sharing(org="iuem", public=False))
    assert not outcome.error, outcome.error
    dataset = outcome.dataset
    site.close()
    return settings, dataset


def measure(settings, dataset, rounds: int) -> list[dict]:  # type: ignore[no-untyped-def]
    from kartenn.app import create_app

    ids = {"private": {"id": dataset.id, "record": dataset.record_id},
           "unknown": {"id": "nybb-unknown", "record": "00000000-0000-0000-0000-000000000000"}}
    rows = []
    with TestClient(create_app(settings)) as client:
        for name, template in ENDPOINTS:
            times: dict[str, list[float]] = {"private": [], "unknown": []}
            statuses: dict[str, set[int]] = {"private": set(), "unknown": set()}
            bodies: dict[str, set[bytes]] = {"private": set(), "unknown": set()}
            for i in range(rounds + 20):
                for kind in ("private", "unknown") if i % 2 else ("unknown", "private"):
                    url = template.format(**ids[kind])
                    start = time.perf_counter()
                    r = client.get(url)
                    elapsed = time.perf_counter() - start
                    if i >= 20:  # the first rounds warm caches
                        times[kind].append(elapsed * 1000)
                    statuses[kind].add(r.status_code)
                    bodies[kind].add(r.content.replace(ids[kind]["id"].encode(), b"ID")
                                     .replace(ids[kind]["record"].encode(), b"ID"))
            p, u = statistics.median(times["private"]), statistics.median(times["unknown"])
            same = statuses["private"] == statuses["unknown"] and bodies["private"] == bodies["unknown"]
            rows.append({"endpoint": name, "private_ms": round(p, 3), "unknown_ms": round(u, 3),
                         "difference_ms": round(p - u, 3),
                         "statuses": sorted(statuses["private"] | statuses["unknown"]), "same_answer": same})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--store", choices=["embedded", "postgis", "both"], default="both")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from kartenn.testing.postgres import TemporaryCluster

    report: dict = {"rounds": args.rounds, "load_at_start": os.getloadavg()[0], "stores": {}}
    stores = ["embedded", "postgis"] if args.store == "both" else [args.store]
    cluster = TemporaryCluster().start() if "postgis" in stores else None
    try:
        for store in stores:
            with tempfile.TemporaryDirectory() as tmp:
                url = cluster.create_database("enumeration") if store == "postgis" and cluster else None
                settings, dataset = site_with_private_dataset(Path(tmp) / "site", url)
                report["stores"][store] = measure(settings, dataset, args.rounds)
    finally:
        if cluster:
            cluster.stop()
    report["load_at_end"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "enumeration.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Private against unknown ids (anonymous caller, in-process)", "",
             f"{args.rounds} rounds per endpoint, the two ids asked in turns; medians. Load average "
             f"{report['load_at_start']:.1f} at start, {report['load_at_end']:.1f} at end (2 cores).", "",
             "| store | endpoint | private (ms) | unknown (ms) | difference (ms) | status | same answer |",
             "|---|---|---|---|---|---|---|"]
    for store, rows in report["stores"].items():
        for row in rows:
            lines.append(f"| {store} | {row['endpoint']} | {row['private_ms']} | {row['unknown_ms']} | "
                         f"{row['difference_ms']:+} | {','.join(map(str, row['statuses']))} | "
                         f"{'yes' if row['same_answer'] else 'NO'} |")
    (RESULTS / "enumeration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
