"""Which store a data directory belongs with: recorded when the site is made, checked each time it is opened.

The directory's ``store.toml`` names the kind of store, the PostGIS database (its URL without password nor
options: nothing secret) and the site's id; the catalogue holds the same id in its ``site`` table. A site opened
with another kind of store, without its database URL, or with a database that does not hold its id is refused:
its clean-up would otherwise take every file of the directory for a leftover.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from sqlalchemy import Column, String, Table, func, inspect, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from kartenn.config import Settings
from kartenn.errors import InvalidInput
from kartenn.stores.catalog import datasets, metadata
from kartenn.stores.dialect import dialect_of

STORE_FILE = "store.toml"
EMBEDDED, POSTGIS = "embedded", "postgis"

site_table = Table("site", metadata, Column("id", String, primary_key=True))


@dataclass(frozen=True)
class Binding:
    store: str  # EMBEDDED or POSTGIS
    database: str  # the PostGIS database's URL without its password; "" for the embedded store
    site_id: str


def read(root: Path) -> Binding | None:
    path = root / STORE_FILE
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Binding(str(data["store"]), str(data.get("database", "")), str(data["site"]))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise InvalidInput(f"{path} cannot be read ({exc}); it records which store the site was made with") from None


def write(root: Path, binding: Binding) -> None:
    def quoted(value: str) -> str:  # a JSON string is a TOML basic string
        return json.dumps(value, ensure_ascii=False)

    body = ("# The store this site was made with, written by kartenn init. Commands refuse to open the site with\n"
            "# another one. The database's password is not kept here: give it through KARTENN_DATABASE_URL,\n"
            "# PGPASSWORD or ~/.pgpass.\n"
            f"store = {quoted(binding.store)}\ndatabase = {quoted(binding.database)}\n"
            f"site = {quoted(binding.site_id)}\n")
    tmp = root / f".{STORE_FILE}.tmp"
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, root / STORE_FILE)


def configured(settings: Settings) -> tuple[str, str]:
    """The kind of store and the database (as recorded) that ``settings`` would open."""
    if not settings.database_url:
        return EMBEDDED, ""
    if not settings.uses_postgis:
        raise InvalidInput("database_url must be a postgresql:// URL")
    return POSTGIS, public_url(settings.database_url)


def public_url(url: str) -> str:
    """``url`` without its password nor options (``host`` kept: a socket folder names the server)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput("the database URL cannot be read: it should look like postgresql://user@host:5432/db") \
            from None
    query = {k: v for k, v in parsed.query.items() if k == "host"}
    bare = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                      database=parsed.database, query=query)
    return bare.render_as_string(hide_password=False)


def same_store(a: str, b: str) -> bool:
    """Whether two recorded databases are the same ("" for the embedded store): same server, port and name."""
    def key(url: str) -> tuple[object, ...]:
        u = make_url(url)
        return (u.host or u.query.get("host") or "", u.port or 5432, u.database or "")

    return a == b or bool(a and b) and key(a) == key(b)


def expect(binding: Binding, settings: Settings, root: Path) -> None:
    """Refuse ``settings`` that would open the site recorded by ``binding`` with another store."""
    store, database = configured(settings)
    recorded = f"{root / STORE_FILE}"
    if binding.store == POSTGIS and store != POSTGIS:
        raise InvalidInput(f"{root} keeps its catalogue and features in PostGIS ({binding.database}, recorded in "
                           f"{recorded}): set KARTENN_DATABASE_URL to that database; nothing was opened")
    if binding.store == EMBEDDED and store != EMBEDDED:
        raise InvalidInput(f"{root} is an embedded (SQLite + GeoPackage) site, recorded in {recorded}: unset "
                           f"KARTENN_DATABASE_URL (it names {database}); nothing was opened")
    if binding.store not in (EMBEDDED, POSTGIS):
        raise InvalidInput(f"{recorded} names an unknown store {binding.store!r}")


def mark_of(engine: Engine, database: str) -> str | None:
    """The site id the catalogue holds, None when it holds none (nothing is created)."""
    schema = dialect_of(engine).schema
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(site_table.name, schema=schema):
                return None
            return conn.execute(select(site_table.c.id)).scalars().first()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "no answer"
        raise InvalidInput(f"cannot open the catalogue {database or engine.url.database}: {reason}") from None


def set_mark(engine: Engine, site_id: str) -> None:
    """The site's id in its catalogue (the table is made with the catalogue's schema)."""
    with engine.begin() as conn:
        if conn.execute(select(site_table.c.id)).first() is None:  # an init run twice keeps the first id
            conn.execute(site_table.insert().values(id=site_id))


def dataset_count(engine: Engine) -> int:
    schema = dialect_of(engine).schema
    with engine.connect() as conn:
        if not inspect(conn).has_table(datasets.name, schema=schema):
            return 0
        return int(conn.execute(select(func.count()).select_from(datasets)).scalar_one())


def data_files(settings: Settings) -> list[str]:
    """The published data kept in the data directory: raster files, and GeoPackages of the embedded store."""
    found = [p for p in sorted(settings.files_dir.rglob("*")) if p.is_file()]
    found += sorted(settings.features_dir.glob("*.gpkg"))
    return [str(p.relative_to(settings.data_dir)) for p in found]


def check(engine: Engine, settings: Settings, bound: Binding | None, create: bool) -> Binding | None:
    """Check that the catalogue holds this site's id; when making the site, the store to record."""
    root = settings.data_dir
    store, database = configured(settings)
    where = database or str(root / "catalog.sqlite")
    present = bool(database) or Path(where).exists()  # a missing SQLite catalogue is not made by looking
    mark = mark_of(engine, where) if present else None
    if bound and mark == bound.site_id:
        return None
    if mark is not None and not bound and create and store == EMBEDDED:
        write(root, Binding(store, database, mark))  # the directory's own catalogue: its record was lost
        return None
    if mark is not None:
        raise InvalidInput(f"the catalogue {where} belongs to another Kartenn site (id {mark}), not to {root}: "
                           "give each site its own database; nothing was opened")
    if bound and not (create and same_store(bound.database, database)):
        if store == POSTGIS:
            raise InvalidInput(f"the database {database} is not the one {root} was made with ({bound.database}), "
                               "or it was emptied since: it does not hold this site's id; nothing was opened")
        raise InvalidInput(f"the catalogue {where} does not hold this site's id: it was lost, replaced or emptied "
                           "since the site was made; nothing was opened")
    # A new site, a site made before stores were recorded, or an init that stopped half-way: record it, unless
    # the directory holds data this catalogue does not know (then it is not the site's store).
    files = data_files(settings)
    if files and not (present and dataset_count(engine)):
        raise InvalidInput(f"{root} holds {len(files)} data file(s) (e.g. {files[0]}) but the catalogue {where} "
                           "lists no dataset: it is not this site's store; give the one the site was made with "
                           "(KARTENN_DATABASE_URL for PostGIS, unset for the embedded store); nothing was changed")
    return bound or Binding(store, database, uuid4().hex)
