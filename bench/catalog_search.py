"""Per-request time of the two catalogue searches of bench/catalog.py, in-process (no HTTP server), on a site
already loaded (``--load`` imports generated records into it first):

    python bench/catalog_search.py DATA_DIR [--database-url URL] [--load 20000] [--profile]

(a) CSW GetRecords, csw:AnyText LIKE '%word%' and BBOX, maxRecords=10, summary;
(b) /ogc/collections/catalog/items?q=word&limit=10.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalog import csw_query  # noqa: E402
from catalog_data import generate, query_boxes  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from kartenn.app import create_app  # noqa: E402
from kartenn.config import Settings  # noqa: E402
from kartenn.domain.security import OPERATOR  # noqa: E402
from kartenn.services.records import import_paths  # noqa: E402
from kartenn.site import Site  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--load", type=int, default=0)
    parser.add_argument("--records", type=int, default=20000, help="the generated set the words come from")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work")
    args = parser.parse_args()
    folder, words = generate(args.work / f"catalog-records-{args.load or args.records}", args.load or args.records)
    settings = Settings.load(args.data_dir, database_url=args.database_url)
    if args.load:
        site = Site.open(settings, create=True)
        start = time.perf_counter()
        report = import_paths(site.seen_by(OPERATOR), [folder])
        print(f"loaded {len(report.imported)} records in {time.perf_counter() - start:.0f} s", flush=True)
        site.close()
    boxes = query_boxes(args.requests, seed=2)
    cases = {
        "csw": [f"/csw?{csw_query(words['csw'][i % len(words['csw'])], boxes[i])}" for i in range(args.requests)],
        "q": [
            f"/ogc/collections/catalog/items?{urlencode({'q': words['csw'][i % len(words['csw'])], 'limit': 10})}"
            for i in range(args.requests)
        ],
    }
    with TestClient(create_app(settings)) as client:
        for name, urls in cases.items():
            for url in urls[:5]:  # warm-up: caches, first compilations
                assert client.get(url).status_code == 200
            times = []
            for url in urls:
                start = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200, r.text[:300]
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(
                f"{name}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms",
                flush=True,
            )
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for url in urls[:10]:
                    client.get(url)
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)


if __name__ == "__main__":
    main()
