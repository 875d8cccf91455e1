"""Harvesting other catalogues and services into this one: sources, runs, and their history.

A run reads the source's whole listing first (csw.py, oai.py, ows.py), then writes in one transaction: records
new at the source are added, records whose date stamp or content changed are replaced, records the source no
longer lists are removed. A source that cannot be read, or answers something else than its listing, fails the
run with its reason and changes nothing. Harvested records keep their original XML, are owned by the source's
organisation, public or not as the source says, and are read-only here (readonly.py).

>>> add_source(operator, HarvestSource("sextant", "csw", "https://sextant.ifremer.fr/geonetwork/srv/eng/csw"))
... # doctest: +SKIP
>>> run(site, "sextant").added                                                                # doctest: +SKIP
1240
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from kartenn.domain import Record
from kartenn.errors import Conflict, InvalidInput, KartennError, NotFound
from kartenn.services.accounts import require_admin
from kartenn.services.harvest import csw, dcat, oai, ogcapi, ows
from kartenn.services.harvest.fetch import Fetcher, SourceError, check_url
from kartenn.services.harvest.listing import Listing
from kartenn.stores import harvests, record_versions
from kartenn.stores.catalog import _now
from kartenn.stores.harvests import HarvestRun, HarvestSource
from kartenn.xml import parse_xml

__all__ = ["require_admin", "HarvestSource", "HarvestRun", "TYPES", "add_source", "list_sources", "get_source",
           "request_run", "remove_source", "run", "history", "overview", "origin", "parse_interval", "source_json",
           "run_json"]

Reader = Callable[[Fetcher, str, str | None, int], Listing]


def _kartenn(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    """Another Kartenn, through its CSW."""
    return csw.read(fetch, url if url.rstrip("/").endswith("/csw") else f"{url.rstrip('/')}/csw", query, max_records)


def _geonetwork(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    """GeoNetwork, through its CSW (``…/geonetwork`` stands for ``…/geonetwork/srv/eng/csw``)."""
    base = url.rstrip("/")
    return csw.read(fetch, base if base.endswith("csw") else f"{base}/srv/eng/csw", query, max_records)


TYPES: dict[str, Reader] = {
    "csw": csw.read, "oai-pmh": oai.read, "ogcapi-records": ogcapi.read, "kartenn": _kartenn,
    "geonetwork": _geonetwork, "dcat": dcat.read,
    "wms": ows.reader("wms"), "wfs": ows.reader("wfs"), "wmts": ows.reader("wmts"),
}
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
INTERVAL = re.compile(r"^(\d+)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_INTERVAL = 60


def parse_interval(text: str) -> int:
    """Seconds in ``"90s"``, ``"30m"``, ``"6h"``, ``"1d"`` or ``"3600"``; at least a minute."""
    found = INTERVAL.match(text.strip().lower())
    if not found:
        raise InvalidInput(f"not an interval: {text!r} (e.g. 30m, 6h, 1d)", locator="every")
    seconds = int(found[1]) * UNITS[found[2]]
    if seconds < MIN_INTERVAL:
        raise InvalidInput(f"a harvest runs at most once a minute, not every {text}", locator="every")
    return seconds


# managing sources (platform administrators) -----------------------------------------------------------------

def add_source(site: Any, src: HarvestSource) -> HarvestSource:
    require_admin(site)
    if not NAME.match(src.name):
        raise InvalidInput(f"a source name is lower-case letters, digits, - and _: not {src.name!r}", locator="name")
    if src.type not in TYPES:
        raise InvalidInput(f"unknown source type {src.type!r}; use one of {', '.join(TYPES)}", locator="type")
    try:
        src.url = check_url(src.url)
    except SourceError as exc:
        raise InvalidInput(exc.message, locator="url") from None
    if src.org is not None and not site.accounts.has_organisation(src.org):
        raise InvalidInput(f"no organisation {src.org!r}", locator="org")
    if src.every_seconds is not None and src.every_seconds < MIN_INTERVAL:
        raise InvalidInput("a harvest runs at most once a minute", locator="every")
    src.next_run = _now() if src.every_seconds else None
    with site.catalog.begin() as conn:
        if not harvests.add_source(conn, src):
            raise Conflict(f"a harvest source {src.name!r} exists")
    site.accounts.log(site.identity.name, "harvest.add", f"harvest:{src.name}", type=src.type, url=src.url)
    return src


def list_sources(site: Any) -> list[HarvestSource]:
    require_admin(site)
    with site.catalog.engine.connect() as conn:
        return harvests.list_sources(conn)


def get_source(site: Any, name: str) -> HarvestSource:
    require_admin(site)
    with site.catalog.engine.connect() as conn:
        found = harvests.get_source(conn, name)
    if found is None:
        raise NotFound(f"no harvest source {name!r}")
    return found


def request_run(site: Any, name: str, submit: Any) -> Any:
    """Queue a run of the source as a job (``submit(kind, params)``: the job runner's), with its audit line."""
    get_source(site, name)  # administrators only, and a source that exists
    job = submit("harvest", {"source": name, "created_by": site.identity.user or ""})
    site.accounts.log(site.identity.name, "harvest.run", f"harvest:{name}", job=job.id)
    return job


def remove_source(site: Any, name: str) -> int:
    """Remove the source and the records it brought; their number."""
    get_source(site, name)
    with site.catalog.begin() as conn:
        ids = list(harvests.of_source(conn, name))
        for record_id in ids:
            _delete(site, conn, record_id)
        harvests.remove_source(conn, name)
        site.accounts.log_many(conn, site.identity.name, [("harvest.remove", f"harvest:{name}", {"records": len(ids)})])
    return len(ids)


def overview(site: Any) -> list[dict[str, Any]]:
    """Every source with its last run (None before the first), for the administration page."""
    sources = list_sources(site)
    with site.catalog.engine.connect() as conn:
        return [{**source_json(s), "last_run": next((run_json(r) for r in harvests.runs(conn, s.name, 1)), None)}
                for s in sources]


def history(site: Any, name: str, limit: int = 50) -> list[HarvestRun]:
    get_source(site, name)
    with site.catalog.engine.connect() as conn:
        return harvests.runs(conn, name, limit)


def origin(site: Any, record_id: str) -> dict[str, Any] | None:
    """Where a harvested record came from and when it was read (None for a record made or imported here)."""
    with site.catalog.engine.connect() as conn:
        found = harvests.origins(conn, [record_id]).get(record_id)
        src = harvests.get_source(conn, found.source) if found else None
    if found is None:
        return None
    return {"source": found.source, "type": src.type if src else None, "url": src.url if src else None,
            "harvested": found.harvested_at.isoformat(), "stamp": found.stamp or None}


# running ---------------------------------------------------------------------------------------------------

def holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def hold(site: Any) -> timedelta:
    """How long a claim lasts: a process that died with a source lets it go then."""
    return timedelta(seconds=site.settings.harvest_max_seconds + 600)


def run(site: Any, name: str, claimed_by: str | None = None) -> HarvestRun:
    """Run a harvest now (an administrator's request, or the scheduler's job, which claimed it as
    ``claimed_by``). Conflict when another process runs it."""
    src = get_source(site, name)
    me = claimed_by or holder()
    with site.catalog.begin() as conn:
        if not (harvests.holds(conn, name, me) if claimed_by else harvests.claim(conn, name, me, hold(site))):
            raise Conflict(f"harvest {name!r} is running in another process")
    try:
        return _run(site, src)
    finally:
        next_run = _now() + timedelta(seconds=src.every_seconds) if src.every_seconds else None
        with site.catalog.begin() as conn:
            harvests.release(conn, name, me, next_run)


def _run(site: Any, src: HarvestSource) -> HarvestRun:
    s = site.settings
    started = _now()
    try:
        with Fetcher(s.harvest_allow, timeout=s.harvest_timeout, max_bytes=s.harvest_max_bytes,
                     max_seconds=s.harvest_max_seconds, ca_file=s.harvest_ca_file) as fetch:
            listing = TYPES[src.type](fetch, src.url, src.query, s.harvest_max_records)
    except KartennError as exc:
        result = HarvestRun(src.name, started, _now(), "failed", message=exc.message)
        with site.catalog.begin() as conn:
            harvests.add_run(conn, result)
        return result
    with site.catalog.begin() as conn:
        result = _apply(site, conn, src, listing, started)
        harvests.add_run(conn, result)
    return result


def _digest(rec: Record) -> str:
    """What tells a record changed: its document in exclusive canonical XML (which namespace declarations a
    source's page happens to carry does not count), else its fields."""
    if rec.xml is None:
        return hashlib.sha256(repr(rec).encode()).hexdigest()
    canonical = etree.tostring(parse_xml(rec.xml), method="c14n", exclusive=True, with_comments=False)
    return hashlib.sha256(canonical).hexdigest()


def _apply(site: Any, conn: Any, src: HarvestSource, listing: Listing, started: datetime) -> HarvestRun:
    """Make the source's records here what the listing says, in the caller's transaction."""
    result = HarvestRun(src.name, started, started, "succeeded", failed=len(listing.failures))
    failures, duplicates = list(listing.failures), []
    found = list({rec.id: rec for rec in listing.records}.values())
    previous = harvests.of_source(conn, src.name)
    others = {k: v for k, v in harvests.origins(conn, [r.id for r in found if r.id not in previous]).items()}
    local = site.catalog.record_origins(conn, [r.id for r in found if r.id not in previous and r.id not in others])
    new, changed, kept = [], [], set()
    for rec in found:
        if rec.id in others:
            duplicates.append({"id": rec.id, "reason": f"already harvested from {others[rec.id].source}"})
            continue
        if rec.id in local:
            duplicates.append({"id": rec.id, "reason": "a record of this catalogue has that identifier"})
            continue
        kept.add(rec.id)
        rec.state, rec.dataset_id, rec.working_copy = "published", None, False
        before = previous.get(rec.id)
        stamp, digest = listing.stamps.get(rec.id, ""), _digest(rec)
        if before is None:
            new.append((rec, stamp, digest))
        elif (before.stamp != stamp if stamp and before.stamp else False) or before.hash != digest:
            changed.append((rec, stamp, digest))
    gone = [record_id for record_id in previous if record_id not in kept]
    now = _now()
    site.catalog.put_records(conn, [rec for rec, _, _ in new + changed])
    ids = [rec.id for rec, _, _ in new]
    site.accounts.set_owners(conn, "record", ids, src.org, None)
    if src.public:
        site.accounts.grant_many(conn, "record", ids, "public", "", "view")
    for rec, stamp, digest in new + changed:
        harvests.put_harvested(conn, src.name, rec.id, stamp, digest, now)
    for record_id in gone:
        _delete(site, conn, record_id)
    actor = f"harvest:{src.name}"
    record_versions.save_many(conn, [rec for rec, _, _ in new], actor, "insert", comment=f"harvest {src.name}")
    record_versions.save_many(conn, [rec for rec, _, _ in changed], actor, "update", comment=f"harvest {src.name}")
    site.accounts.log_many(conn, actor, [
        *[("record.insert", f"record:{rec.id}", {"source": src.name}) for rec, _, _ in new],
        *[("record.update", f"record:{rec.id}", {"source": src.name}) for rec, _, _ in changed],
        *[("record.delete", f"record:{record_id}", {"source": src.name}) for record_id in gone]])
    result.added, result.updated, result.removed = len(new), len(changed), len(gone)
    result.ended = _now()
    result.details = {"failures": failures, "duplicates": duplicates, "listed": len(listing.records),
                      "changed": [rec.id for rec, _, _ in changed]}
    result.message = (f"{result.added} added, {result.updated} updated, {result.removed} removed, "
                      f"{result.failed} failed" + (f", {len(duplicates)} kept from elsewhere" if duplicates else ""))
    return result


def _delete(site: Any, conn: Any, record_id: str) -> None:
    site.catalog.delete_record(conn, record_id)
    site.accounts.forget(conn, "record", record_id)
    harvests.forget_harvested(conn, record_id)


# JSON ----------------------------------------------------------------------------------------------------

def source_json(src: HarvestSource) -> dict[str, Any]:
    return {"name": src.name, "type": src.type, "url": src.url, "org": src.org, "public": src.public,
            "every_seconds": src.every_seconds, "query": src.query,
            "created": src.created.isoformat() if src.created else None,
            "next_run": src.next_run.isoformat() if src.next_run else None}


def run_json(r: HarvestRun) -> dict[str, Any]:
    return {"source": r.source, "started": r.started.isoformat(), "ended": r.ended.isoformat(), "status": r.status,
            "added": r.added, "updated": r.updated, "removed": r.removed, "failed": r.failed, "message": r.message,
            **r.details}
