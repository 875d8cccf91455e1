"""A Kartenn site: one data directory, its catalogue, feature store and file store, wired from Settings.

>>> site = Site.open(Settings.load("./site"), create=True)   # doctest: +SKIP
>>> site.catalog.list_datasets()                              # doctest: +SKIP
[]
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kartenn.config import CONFIG_FILE, Settings
from kartenn.domain.security import Identity
from kartenn.errors import InvalidInput
from kartenn.services.access import SiteView
from kartenn.stores import binding, record_ids
from kartenn.stores.accounts import Accounts
from kartenn.stores.backends import open_stores
from kartenn.stores.base import FeatureStore
from kartenn.stores.catalog import create_engine_for
from kartenn.stores.files import FileStore, StagingArea
from kartenn.stores.maps import Maps

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
        self.features, self.catalog = open_stores(self.engine, settings.features_dir, self.staging)
        self.accounts = Accounts(self.engine)
        self.maps = Maps(self.engine)
        self.files = FileStore(settings.files_dir, self.staging)
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, settings: Settings, *, create: bool = False) -> Site:
        """Open a site; ``create`` makes the folder, the configuration and the database schema, and records the
        store (a site made before stores were recorded gets its record then). A site is never opened with
        another store than its recorded one (stores/binding.py)."""
        root = settings.data_dir
        if not create and not (root / CONFIG_FILE).exists():
            raise InvalidInput(f"{root} is not a Kartenn data directory; create it with: kartenn init {root}")
        bound = binding.read(root)
        if bound:
            binding.expect(bound, settings, root)
        elif not create:
            raise InvalidInput(f"{root} does not record which store it was made with (made by an earlier Kartenn): "
                               f"record it once with kartenn init {root}, with KARTENN_DATABASE_URL set to its "
                               "database if it is a PostGIS site; nothing was opened")
        if create:
            root.mkdir(parents=True, exist_ok=True)
            conf = root / CONFIG_FILE
            if not conf.exists():  # private: it may come to hold a database password or OIDC secret
                with os.fdopen(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                    f.write(DEFAULT_CONFIG)
        site = cls(settings)
        try:
            record = binding.check(site.engine, settings, bound, create)
            site.create_schema()
            if record:  # the file first: a site whose init stops here is finished by the next init
                binding.write(root, record)
                binding.set_mark(site.engine, record.site_id)
            site.reconcile()
            site.adopt_unowned()
        except BaseException:
            site.close()
            raise
        return site

    @property
    def store_name(self) -> str:
        """The name of the store the site runs on, for people ("PostGIS", "SQLite + GeoPackage")."""
        return self.features.name

    def create_schema(self) -> None:
        self.features.create_schema()
        self.catalog.create_schema()

    def seen_by(self, identity: Identity) -> SiteView:
        """This site as ``identity`` sees it (see services.access)."""
        return SiteView(self, identity)

    def adopt_unowned(self) -> None:
        """Datasets and records from before rights existed have no owner nor grant: they stay public."""
        with self.catalog.begin() as conn:
            for kind, ids in (("dataset", self.catalog.dataset_ids(conn)), ("record", record_ids.standalone(conn))):
                known = self.accounts.known(conn, kind)
                for resource_id in ids - known:
                    for action in ("view", "download"):
                        self.accounts.grant(conn, kind, resource_id, "public", "", action)

    def reconcile(self) -> None:
        """Remove what a killed process left behind: staging folders, unpublished tables and files.

        Data the catalogue does not name is removed when a dead process was publishing it, or when the catalogue
        lists datasets; beside an empty catalogue it is kept: the catalogue is then more likely lost than the data.
        """
        abandoned = set(self.staging.sweep())
        removed, kept = self.drop_unlisted(abandoned, unless_empty=True)
        removed += list(abandoned)
        if removed:
            log.warning("removed leftovers of interrupted work: %s", ", ".join(sorted(removed)))
        if kept:
            log.warning("kept data the catalogue does not list, as it lists no dataset: %s", ", ".join(kept))

    def drop_unlisted(self, abandoned: set[str], unless_empty: bool = False) -> tuple[list[str], list[str]]:
        """Drop the tables and files no catalogue entry lists that a dead process was publishing (``abandoned``:
        their storage names), and with ``unless_empty`` every such one while the catalogue lists datasets.
        Returns (removed, kept)."""
        datasets = self.catalog.list_datasets()
        vectors = {d.storage for d in datasets if d.kind == "vector"}
        rasters = {n for d in datasets if d.kind == "raster" for n in (d.storage, *d.raster.get("steps", []))}
        removed, kept = [], []
        for unreferenced, remove in ((self.features.unreferenced(vectors), self.features.drop),
                                     (self.files.unreferenced(rasters), self.files.delete)):
            for name in unreferenced:
                if (unless_empty and datasets) or name in abandoned or Path(name).name.split(".")[0] in abandoned:
                    remove(name)
                    removed.append(name)
                else:
                    kept.append(name)
        return removed, kept

    def close(self) -> None:
        self.features.close()
        self.catalog.close()
        self.engine.dispose()
