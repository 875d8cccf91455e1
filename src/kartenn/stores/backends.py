"""The stores of a site, chosen once from its database: PostGIS beside a PostgreSQL catalogue, GeoPackage files
beside a SQLite one."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from kartenn.stores.base import FeatureStore
from kartenn.stores.catalog import Catalog
from kartenn.stores.dialect import dialect_of
from kartenn.stores.files import StagingArea
from kartenn.stores.geopackage import GeoPackageStore
from kartenn.stores.postgis import PostGISStore


def open_stores(engine: Engine, features_dir: Path, staging: StagingArea) -> tuple[FeatureStore, Catalog]:
    """(feature store, catalogue) on ``engine``."""
    if dialect_of(engine).is_postgres:
        store = PostGISStore(engine)
        return store, Catalog(engine, reader=lambda: store.reader)  # one reader pool for both
    return GeoPackageStore(features_dir, staging), Catalog(engine)
