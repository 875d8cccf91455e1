"""Portal page times with 10,000 datasets in the catalogue (server time, measured in-process).

Fills a fresh site with N catalogue entries (dataset rows, their records with keywords and owners, most
public, some private to an organisation), then asks each portal page REPEAT times through the ASGI app and
reports the median and the slowest, for an anonymous visitor and for a member of the organisation.

    python bench/portal.py [--datasets 10000] [--repeat 15] [--postgis | --database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from kartenn.app import create_app
from kartenn.config import Settings
from kartenn.domain import Dataset, Field, Record
from kartenn.services.identity import create_token
from kartenn.site import Site
from kartenn.testing.postgres import TemporaryCluster

WORDS = ["routes", "lacs", "rivières", "bâtiments", "cadastre", "forêts", "communes", "écoles", "ports", "phares",
         "dunes", "marais", "sentiers", "éoliennes", "captages", "zones humides", "haies", "ponts"]
PLACES = ["Bretagne", "Finistère", "Morbihan", "Côtes-d'Armor", "Ille-et-Vilaine", "Loire-Atlantique", "Normandie"]


def fill(site: Site, count: int) -> None:
    """``count`` datasets with records, owners and grants."""
    rng = random.Random(7)
    site.accounts.add_organisation("iuem", "IUEM")
    site.accounts.add_organisation("brest", "Brest métropole")
    now = datetime.now(UTC)
    with site.catalog.begin() as conn:
        for i in range(count):
            w = rng.uniform(-5.2, -1.0)
            s = rng.uniform(47.0, 48.8)
            box = (w, s, w + rng.uniform(0.01, 0.5), s + rng.uniform(0.01, 0.3))
            theme, place = rng.choice(WORDS), rng.choice(PLACES)
            ds_id = f"ds-{i:05d}"
            site.catalog.add_dataset(conn, Dataset(
                id=ds_id, title=f"{theme.capitalize()} — {place} {i}", kind="vector", crs="EPSG:4326", srid=4326,
                extent=box, extent_wgs84=box, count=rng.randint(1, 100_000), geometry_type="MultiPolygon",
                fields=[Field("nom", "string"), Field("code", "integer")], storage=f"ds_{i:05d}",
                source="bench.gpkg", record_id=ds_id, created=now, updated=now))
            site.catalog.put_record(conn, Record(
                id=ds_id, title=f"{theme.capitalize()} — {place} {i}", dataset_id=ds_id,
                abstract=f"Les {theme} du territoire {place}, relevé {2000 + i % 25}.",
                keywords=[theme, place], extent_wgs84=box, formats=["GeoPackage"], dates={"publication": "2024-05-01"},
                contacts=[{"organisation": "IUEM" if i % 2 else "Brest métropole", "scope": "resource"}]))
            org = "iuem" if i % 2 else "brest"
            site.accounts.set_owner(conn, "dataset", ds_id, org, None)
            if i % 10:  # one in ten stays private to its organisation
                for action in ("view", "download"):
                    site.accounts.grant(conn, "dataset", ds_id, "public", "", action)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--postgis", action="store_true", help="on a throwaway PostGIS cluster")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the filled site here (reused when there)")
    args = parser.parse_args()
    if args.postgis:
        with TemporaryCluster() as cluster:
            args.database_url = cluster.create_database("portal")
            run(args)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "site"
        fresh = not (data_dir / "kartenn.toml").exists()
        settings = Settings.load(data_dir, database_url=args.database_url)
        site = Site.open(settings, create=True)
        sample = "ds-00042"
        if fresh:
            started = time.perf_counter()
            fill(site, args.datasets)
            site.catalog.analyze()  # as a bulk import does: fresh planner statistics, not autovacuum's later ones
            print(f"filled {args.datasets} datasets in {time.perf_counter() - started:.1f} s")
            site.accounts.add_user("marc")
            site.accounts.set_membership("marc", "iuem", "member")
        token = create_token(site, "marc")
        site.close()
        pages = ["/", "/search", "/search?q=routes+bretagne", "/search?keyword=lacs&organisation=IUEM",
                 "/search?bbox=-4.6,48.2,-4.3,48.5", "/search?page=50", f"/datasets/{sample}", "/organisations",
                 "/organisations/iuem", "/organisations/iuem?page=100", "/map", "/upload"]
        with TestClient(create_app(settings)) as client:
            print(f"{'page':45} {'who':9} {'median ms':>10} {'max ms':>8}")
            for who, headers in (("anonymous", {}), ("member", {"Authorization": f"Bearer {token}"})):
                for path in pages:
                    times = []
                    for _ in range(args.repeat):
                        t0 = time.perf_counter()
                        r = client.get(path, headers=headers)
                        times.append((time.perf_counter() - t0) * 1000)
                        assert r.status_code == 200, (path, r.status_code)
                    print(f"{path:45} {who:9} {statistics.median(times):10.1f} {max(times):8.1f}")


if __name__ == "__main__":
    main()
