"""One migration run: what it reads, what it has done so far (the report) and what earlier runs did (the rows of
stores/migration_sources.py), shared by the steps (people, layers, maps).

>>> report.as_dict()["created"][0]   # doctest: +SKIP
{'source': 'ne:countries', 'kind': 'dataset', 'target': 'countries', 'detail': '177 features'}
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kartenn.stores import migration_sources


@dataclass
class Entry:
    source: str  # the object's name at the source: ne:countries, style countries, user jdupont, a record's uuid
    kind: str  # dataset | style | map | user | org | grants | record | files
    target: str  # what it became here
    detail: str = ""


@dataclass
class Warning:
    source: str
    message: str


@dataclass
class Report:
    dry_run: bool = False
    created: list[Entry] = field(default_factory=list)
    updated: list[Entry] = field(default_factory=list)
    skipped: list[Entry] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        names = ("created", "updated", "skipped", "warnings")
        return {name: [asdict(e) for e in getattr(self, name)] for name in names}

    def warn(self, source: str, message: str) -> None:
        self.warnings.append(Warning(source, message))


@dataclass
class Run:
    site: Any  # the site as the operator sees it
    root: Path
    data: Any  # what was read: a GeoServer DataDirectory, a GeoNetwork Export
    security: Any  # GeoServer's Security (None for GeoNetwork)
    system: str = "geoserver"
    dry_run: bool = False
    overwrite: bool = False
    report: Report = field(default_factory=Report)
    rows: dict[tuple[str, str], list[migration_sources.Source]] = field(default_factory=dict)
    dataset_ids: dict[str, str] = field(default_factory=dict)  # ws:layer → dataset id (made or to be made)
    managed_orgs: set[str] = field(default_factory=set)  # organisations made from roles: their grants are ours
    managed_users: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.report.dry_run = self.dry_run
        with self.site.catalog.begin() as conn:
            self.rows = migration_sources.of_system(conn, self.system)

    def row(self, kind: str, source: str, kartenn_id: str | None = None) -> migration_sources.Source | None:
        """What an earlier run made of ``source`` (as ``kartenn_id``, when given)."""
        found = self.rows.get((kind, source), [])
        return next((r for r in found if kartenn_id is None or r.kartenn_id == kartenn_id), None)

    def remember(self, kind: str, source: str, kartenn_id: str, fingerprint: str) -> None:
        """Note (unless dry) that ``source`` is now ``kartenn_id`` as of ``fingerprint``."""
        if self.dry_run:
            return
        row = migration_sources.Source(self.system, kind, source, kartenn_id, fingerprint)
        single = kind != "style"  # a style may become one of each dataset using it; anything else one thing
        with self.site.catalog.begin() as conn:
            if single:
                migration_sources.forget(conn, self.system, kind, source)
            migration_sources.put(conn, row)
        found = self.rows.setdefault((kind, source), [])
        found[:] = [r for r in found if r.kartenn_id != kartenn_id and not single] + [row]

    def done(self, status: str, source: str, kind: str, target: str, detail: str = "") -> None:
        getattr(self.report, status).append(Entry(source, kind, target, detail))


def digest(*parts: Any) -> str:
    """A fingerprint of bytes and texts.

    >>> digest(b"a", "b") == digest(b"a", "b") != digest(b"ab")
    True
    """
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else repr(part).encode()
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def changed_since(when: datetime | None, migrated_at: datetime | None) -> bool:
    """Whether something last changed at ``when`` was changed after a migration wrote it at ``migrated_at``."""
    return bool(when and migrated_at and when > migrated_at)
