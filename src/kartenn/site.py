"""A Kartenn site: one data directory, its catalogue, feature store and file store, wired from Settings.

>>> site = Site.open(Settings.load("./site"), create=True)   # doctest: +SKIP
>>> site.catalog.list_datasets()                              # doctest: +SKIP
[]
"""

from __future__ import annotations

import logging

from kartenn.config import CONFIG_FILE, Settings
from kartenn.domain.security import Identity
from kartenn.errors import InvalidInput
from kartenn.services.access import SiteView
from kartenn.stores.accounts import Accounts
from kartenn.stores.base import FeatureStore
from kartenn.stores.catalog import Catalog, create_engine_for
from kartenn.stores.files import FileStore, StagingArea
from kartenn.stores.geopackage import GeoPackageStore
from kartenn.stores.maps import Maps
from kartenn.stores.postgis import PostGISStore

log = logging.getLogger("kartenn")

DEFAULT_CONFIG = """\
# Kartenn site configuration. KARTENN_* environment variables override these keys.
title = "Kartenn"
# database_url = "postgresql://user@127.0.0.1:5432/kartenn"   # PostGIS instead of the embedded store
# upload_max_bytes = 2147483648
"""


class Site:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.staging = StagingArea(settings.staging_dir)
        self.engine = create_engine_for(settings.catalog_url)
        self.features: FeatureStore
        if settings.uses_postgis:
            store = PostGISStore(self.engine)
            self.features = store
            self.catalog = Catalog(self.engine, reader=lambda: store.reader)  # one reader pool for both
        else:
            self.features = GeoPackageStore(settings.features_dir, self.staging)
            self.catalog = Catalog(self.engine)
        self.accounts = Accounts(self.engine)
        self.maps = Maps(self.engine)
        self.files = FileStore(settings.files_dir, self.staging)
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Site:
        """Open a site; ``create`` makes the folder, the configuration and the database schema."""
        root = settings.data_dir
        if create:
            root.mkdir(parents=True, exist_ok=True)
            conf = root / CONFIG_FILE
            if not conf.exists():
                conf.write_text(DEFAULT_CONFIG, encoding="utf-8")
        elif not (root / CONFIG_FILE).exists():
            raise InvalidInput(f"{root} is not a Kartenn data directory; create it with: kartenn init {root}")
        site = cls(settings)
        site.create_schema()
        site.reconcile()
        site.adopt_unowned()
        return site

    def create_schema(self) -> None:
        if isinstance(self.features, PostGISStore):
            self.features.create_schema()
        self.catalog.create_schema()

    def seen_by(self, identity: Identity) -> SiteView:
        """This site as ``identity`` sees it (see services.access)."""
        return SiteView(self, identity)

    def adopt_unowned(self) -> None:
        """Datasets and records from before rights existed have no owner nor grant: they stay public."""
        with self.catalog.begin() as conn:
            for kind, ids in (("dataset", self.catalog.dataset_ids(conn)), ("record", self._standalone(conn))):
                known = self.accounts.known(conn, kind)
                for resource_id in ids - known:
                    for action in ("view", "download"):
                        self.accounts.grant(conn, kind, resource_id, "public", "", action)

    def _standalone(self, conn) -> set[str]:  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from kartenn.stores.catalog import records

        return set(conn.execute(select(records.c.id).where(records.c.dataset_id.is_(None))).scalars())

    def reconcile(self) -> None:
        """Remove what a killed process left behind: staging folders, unpublished tables and files."""
        swept = self.staging.sweep()
        datasets = self.catalog.list_datasets()
        vectors = {d.storage for d in datasets if d.kind == "vector"}
        rasters = {d.storage for d in datasets if d.kind == "raster"}
        orphans = self.features.reconcile(vectors) + self.files.reconcile(rasters)
        if swept or orphans:
            log.warning("removed leftovers of interrupted work: %s", ", ".join(swept + orphans))

    def close(self) -> None:
        if isinstance(self.features, PostGISStore):
            self.features.close()
        self.catalog.close()
        self.engine.dispose()
