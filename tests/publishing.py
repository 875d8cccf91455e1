"""Helpers for publishing tests: read back what a store holds for a dataset."""

from __future__ import annotations

import psycopg
import pyogrio
import shapely

from kartenn.domain import Dataset
from kartenn.site import Site


def stored_rows(site: Site, ds: Dataset) -> list[dict]:
    """Every stored feature as a dict of attributes plus a shapely ``geom``, in fid order."""
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url) as conn:
            cur = conn.execute(f'SELECT *, ST_AsBinary(geom) AS wkb FROM kartenn_data."{ds.storage}" ORDER BY fid')
            names = [c.name for c in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur]
        for row in rows:
            row["geom"] = shapely.from_wkb(bytes(row.pop("wkb"))) if row["wkb"] else None
        return rows
    table = pyogrio.read_arrow(site.features.path(ds.storage))[1]
    geoms = shapely.from_wkb(table.column("geom").to_pylist())
    rows = table.drop_columns(["geom"]).to_pylist()
    for row, geom in zip(rows, geoms, strict=True):
        row["geom"] = geom
    return rows


def has_spatial_index(site: Site, ds: Dataset) -> bool:
    if site.settings.uses_postgis:
        with psycopg.connect(site.settings.database_url) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_indexes WHERE schemaname = 'kartenn_data' AND tablename = %s "
                "AND indexdef ILIKE '%%gist%%'", (ds.storage,)).fetchone()
        return found is not None
    import sqlite3

    with sqlite3.connect(site.features.path(ds.storage)) as conn:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'rtree_features_geom'").fetchone()
    return found is not None


def store_state(site: Site) -> dict:
    """Everything a publication could leave behind: catalogue rows, tables, files, staging."""
    state = {
        "datasets": sorted((d.id, d.storage, d.count) for d in site.catalog.list_datasets()),
        "records": site.catalog.count_records(),
        "files": sorted(str(p.relative_to(site.settings.data_dir)) for sub in ("features", "files")
                        for p in (site.settings.data_dir / sub).rglob("*") if p.is_file()),
        "staging": sorted(p.name for p in site.settings.staging_dir.iterdir()),
    }
    if site.settings.uses_postgis:
        state["tables"] = sorted(site.features.tables())  # type: ignore[attr-defined]
    return state
