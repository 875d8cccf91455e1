"""Copy datasets with their records, styles and sharing from another Kartenn site (a test platform to production),
through the source's public APIs: ``kartenn sync``.

Each dataset keeps its id and its record's identifier; its data comes as a GeoPackage of every feature in its own
CRS (a raster: its Cloud Optimized GeoTIFF) and is published here as any upload is (atomic, with its limits). Its
grants come with it where the same organisations and users (by id) exist here. Running again copies what changed
at the source since the last run, and leaves alone, reported, a dataset changed here since (unless ``overwrite``):
the catalogue keeps both sides' revisions of the last copy (stores/sync_state.py). A dataset gone from the source
is reported, and removed here only with ``delete`` (and, if changed here since, ``overwrite``).

>>> with SourceSite("https://test.example.org", token) as source:      # doctest: +SKIP
...     report = sync(site.seen_by(OPERATOR), source, ["regions"])
>>> report.created                                                    # doctest: +SKIP
[{'id': 'regions', 'title': 'Régions', 'record': '…', 'organisation': 'iuem', 'public': True}]
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson

from kartenn.domain import Dataset
from kartenn.domain.security import Sharing
from kartenn.domain.style import StyleLimits
from kartenn.errors import InvalidInput, KartennError, NotFound
from kartenn.formats.records import read_records
from kartenn.services import accounts, grants, styles
from kartenn.services.publish import delete_dataset, publish_file
from kartenn.services.record_owner import sync_owner
from kartenn.services.records import import_bytes
from kartenn.services.sync_source import SourceError, SourceSharing, SourceSite
from kartenn.stores import sync_state
from kartenn.xml import parse_xml, to_bytes

DATASET_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # what publish.slugify makes, with its -2, -3…
GONE = "deleted at the source (or no longer visible to the token) since the last sync"


@dataclass
class SyncReport:
    """What a sync did (or, dry, would do); each entry names the source's dataset id."""

    created: list[dict[str, Any]] = field(default_factory=list)
    updated: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {"id", "reason"}, or {"id", "error"} if it failed
    deleted: list[dict[str, Any]] = field(default_factory=list)  # {"id", "record"}: gone from the source
    warnings: list[dict[str, Any]] = field(default_factory=list)  # {"id", "message"}

    @property
    def failed(self) -> bool:
        return any("error" in entry for entry in self.skipped)

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted, "skipped": self.skipped,
                "warnings": self.warnings}


@dataclass
class _Plan:
    """One dataset of the source, and what to do with it here."""

    detail: dict[str, Any]
    sharing: SourceSharing
    revision: str
    local: Dataset | None
    record_schema: str

    @property
    def id(self) -> str:
        return str(self.detail["id"])

    @property
    def record_id(self) -> str:
        return str(self.detail["record"]["id"])


def sync(site: Any, source: SourceSite, dataset_ids: list[str] | None = None, *, dry_run: bool = False,
         overwrite: bool = False, delete: bool = False) -> SyncReport:
    """Copy ``dataset_ids`` (default: every dataset the source's token may see) from ``source`` into ``site`` (a
    platform administrator's view), and report those copied before that the source no longer has (removed here
    with ``delete``). SourceError when the source cannot be listed; a dataset that fails is reported, leaves nothing
    behind, and the others go on."""
    accounts.require_admin(site)  # it may create organisations and set any dataset's sharing
    listed = [str(d["id"]) for d in source.datasets()]  # first: a bad token or a wrong address stops here
    with site.catalog.engine.connect() as conn:
        copied = sync_state.of_source(conn, source.url)
    report = SyncReport()
    for dataset_id in dict.fromkeys(dataset_ids or listed + copied):
        try:
            if dataset_id in listed:
                _sync_one(site, source, dataset_id, report, dry_run=dry_run, overwrite=overwrite)
            elif dataset_id in copied:
                _gone(site, dataset_id, report, dry_run=dry_run, overwrite=overwrite, delete=delete)
            else:
                raise NotFound(f"no dataset {dataset_id!r} at {source.url} (or not visible to the token)")
        except KartennError as exc:
            report.skipped.append({"id": dataset_id, "error": exc.message})
    return report


def _gone(site: Any, dataset_id: str, report: SyncReport, *, dry_run: bool, overwrite: bool, delete: bool) -> None:
    """A dataset copied before that the source no longer lists."""
    try:
        local = site.catalog.get_dataset(dataset_id)
    except NotFound:  # deleted here too: nothing to report
        if not dry_run:
            with site.catalog.begin() as conn:
                sync_state.forget(conn, dataset_id)
        return
    last = _last_sync(site, dataset_id) or {}
    if not delete:
        report.skipped.append({"id": dataset_id, "reason": f"{GONE}: kept (--delete removes it)"})
        return
    if _local_revision(site, local) != last.get("local_revision") and not overwrite:
        report.skipped.append({"id": dataset_id, "reason": f"{GONE}, and changed here since: kept (--overwrite "
                                                           "with --delete removes it)"})
        return
    if not dry_run:
        delete_dataset(site, dataset_id)
        with site.catalog.begin() as conn:
            sync_state.forget(conn, dataset_id)
        site.accounts.log(site.identity.name, "sync.delete", f"dataset:{dataset_id}", record=local.record_id)
    report.deleted.append({"id": dataset_id, "record": local.record_id, "reason": GONE})


def _sync_one(site: Any, source: SourceSite, dataset_id: str, report: SyncReport, *, dry_run: bool,
              overwrite: bool) -> None:
    detail = source.dataset(dataset_id)
    if len(dataset_id) > 80 or not DATASET_ID.fullmatch(dataset_id):
        raise InvalidInput(f"{dataset_id!r} is not a dataset id Kartenn makes")
    partial = _not_whole(detail)
    if partial:
        report.skipped.append({"id": dataset_id, "reason": f"{partial}: not copied, its download would lose them"})
        return
    plan = _plan(site, source, detail)
    last = _last_sync(site, dataset_id)
    if plan.local is not None:
        if last is None or last["source"] != source.url:
            why = f"exists here and was not copied from {source.url}"
        elif _local_revision(site, plan.local) != last["local_revision"]:
            why = "changed here since the last sync"
        elif last["source_revision"] == plan.revision:
            report.skipped.append({"id": dataset_id, "reason": "unchanged at the source since the last sync"})
            return
        else:
            why = ""
        if why and not overwrite:
            report.skipped.append({"id": dataset_id, "reason": f"{why}: kept (--overwrite replaces it)"})
            return
    _check_record_id(site, plan)
    entry = {"id": dataset_id, "title": detail.get("title"), "record": plan.record_id,
             "organisation": plan.sharing.org, "public": plan.sharing.public}
    if plan.sharing.org and not site.accounts.has_organisation(plan.sharing.org):
        entry["organisation_created"] = True
    if not plan.sharing.known:
        report.warnings.append({"id": dataset_id, "message": "the token may not read the dataset's grants: copied "
                                f"{'public' if plan.sharing.public else 'private'}, without an organisation"})
    unmapped = [g for g in plan.sharing.grants if g not in _grants_here(site, plan.sharing)]
    if unmapped:
        names = {"org": "organisation", "user": "user"}
        report.warnings.append({"id": dataset_id, "message": "grants not copied, no such organisation or user "
                                "here: " + ", ".join(f"{action} to {names[principal]} {who}"
                                                     for principal, who, action in unmapped)})
    if not dry_run:
        try:
            _copy(site, source, plan, new_org="organisation_created" in entry)
        except KartennError:
            if entry.get("organisation_created") and site.accounts.has_organisation(plan.sharing.org):
                report.warnings.append({"id": dataset_id, "message": f"organisation {plan.sharing.org} was "
                                        "created here; the dataset was not"})
            raise
    (report.updated if plan.local else report.created).append(entry)


def _not_whole(detail: dict[str, Any]) -> str:
    """What a dataset holds that its download leaves out ("" when nothing): the steps of a raster time stack (the
    download is its latest step) or a station dataset's measurements (the download is its stations)."""
    if detail.get("kind") == "raster" and len((detail.get("time") or {}).get("values") or []) > 1:
        return f"a raster time stack of {len(detail['time']['values'])} times"
    if detail.get("series"):
        return "stations with measurements"
    return ""


def _plan(site: Any, source: SourceSite, detail: dict[str, Any]) -> _Plan:
    record, record_tag = source.record(str(detail["record"]["id"]))
    sharing = source.sharing(str(detail["id"]))
    revision = _digest(detail.get("updated"), record_tag, sharing.org, sharing.public, sharing.grants)
    try:
        local = site.catalog.get_dataset(str(detail["id"]))
    except NotFound:
        local = None
    schema = "iso19115-3" if record.get("schema") == "iso19115-3" else "iso19139"
    return _Plan(detail=detail, sharing=sharing, revision=revision, local=local, record_schema=schema)


def _check_record_id(site: Any, plan: _Plan) -> None:
    """The source's record identifier is free here, or already the record of this dataset."""
    if plan.local is not None and plan.local.record_id != plan.record_id:
        raise InvalidInput(f"its record is {plan.local.record_id!r} here but {plan.record_id!r} at the source; to "
                           f"copy it, delete it here first (kartenn delete {plan.id})")
    with site.catalog.engine.connect() as conn:
        found = site.catalog.record_origins(conn, [plan.record_id]).get(plan.record_id)
    if found is not None and found[1] != plan.id:
        owner = f"the record of dataset {found[1]!r}" if found[1] else "a record without data"
        raise InvalidInput(f"its record {plan.record_id!r} is here already, as {owner}")


def _copy(site: Any, source: SourceSite, plan: _Plan, *, new_org: bool) -> None:
    """Data, record, styles and sharing of one dataset; a new dataset is removed again if any of it fails."""
    xml = source.record_document(plan.record_id, plan.record_schema)
    xml = _without_source_links(xml, _source_bases(source, plan))
    found = read_records(xml)
    if [r.id for r in found] != [plan.record_id]:
        raise InvalidInput(f"the source's document of record {plan.record_id!r} holds {[r.id for r in found]}")
    default, named = source.styles(plan.id, site.settings.style_max_bytes)
    org = plan.sharing.org
    with site.staging.area(f"sync-{secrets.token_hex(6)}") as work:
        path = source.download(plan.id, str(plan.detail["kind"]), work, site.settings.upload_max_bytes)
        if new_org and org:  # the one change a failed publication leaves: said in the report
            accounts.add_organisation(site, org, source.organisation_name(org))
        outcome = publish_file(site, path, title=str(plan.detail.get("title") or plan.id),
                               replace=plan.local.id if plan.local else None,
                               dataset_id=None if plan.local else plan.id,
                               record_id=None if plan.local else plan.record_id,
                               sharing=Sharing(org=org, public=plan.sharing.public),
                               label=f"{source.url}/ogc/collections/{plan.id}")[0]
    if outcome.error or outcome.dataset is None:
        raise InvalidInput(outcome.error or "nothing was published")
    try:
        import_bytes(site, xml, source=source.url)
        _copy_styles(site, outcome.dataset, default, named)
        _share(site, plan.id, plan.sharing, new=plan.local is None)
    except BaseException:
        if plan.local is None:
            delete_dataset(site, plan.id)
        else:  # the data is new, the rest may not be: the next run copies it again
            _remember(site, source, plan.id, "")
        raise
    _remember(site, source, plan.id, plan.revision)
    site.accounts.log(site.identity.name, "sync.update" if plan.local else "sync.create", f"dataset:{plan.id}",
                      source=source.url, record=plan.record_id, org=org, public=plan.sharing.public)


def _copy_styles(site: Any, dataset: Dataset, default: str, named: dict[str, bytes]) -> None:
    """The source's styles, the same one the default; styles the source does not have are removed."""
    limits = StyleLimits.of(site.settings)
    parsed = {name: styles.read_style(dataset, name, data, "application/json", limits)[0]
              for name, data in named.items()}
    if default not in parsed:
        raise SourceError(f"the source lists no style {default!r}, its default for {dataset.id!r}")
    for name, style in parsed.items():
        if name != default:
            styles.put_style(site, dataset, style)
    styles.put_style(site, dataset, parsed[default], make_default=True)
    for name in list(styles.styles_of(site, dataset)):
        if name not in parsed:
            styles.delete_style(site, dataset, name)


def _share(site: Any, dataset_id: str, sharing: SourceSharing, *, new: bool) -> None:
    """The owning organisation and grants of the dataset as at the source (those to organisations and users this
    site has); when the token may not read them, its public access only."""
    owner = site.accounts.owner_of("dataset", dataset_id) or {}
    if sharing.known and not new and owner.get("org_id") != sharing.org:
        with site.catalog.begin() as conn:
            site.accounts.set_owner(conn, "dataset", dataset_id, sharing.org, None)
            sync_owner(site, conn, dataset_id)
    if not sharing.known:
        public = dataset_id in site.accounts.owners_and_public("dataset", [dataset_id])[1]
        if public != sharing.public:
            for action in ("view", "download"):
                grants.change_grant(site, dataset_id, "public", "", action, revoke=not sharing.public)
        return
    here = set(_grants_of(site, dataset_id))
    wanted = _grants_here(site, sharing)
    for principal, who, action in sorted(here - wanted):
        grants.change_grant(site, dataset_id, principal, who, action, revoke=True)
    for principal, who, action in sorted(wanted - here):
        grants.change_grant(site, dataset_id, principal, who, action)


def _grants_here(site: Any, sharing: SourceSharing) -> set[tuple[str, str, str]]:
    """The source's grants whose organisation or user exists here (the owning organisation is created first)."""
    def exists(principal: str, who: str) -> bool:
        if principal == "org":
            return who == sharing.org or site.accounts.has_organisation(who)
        if principal == "user":
            try:
                site.accounts.get_user(who)
            except NotFound:
                return False
        return True

    return {g for g in sharing.grants if exists(g[0], g[1])}


def _grants_of(site: Any, dataset_id: str) -> list[tuple[str, str, str]]:
    return sorted((g["principal"], g["principal_id"], g["action"])
                  for g in site.accounts.grants_of("dataset", dataset_id))


def _source_bases(source: SourceSite, plan: _Plan) -> list[str]:
    """Where the source's services are: the address used, and the one it writes in its links (its base_url)."""
    bases = [source.url]
    for link in plan.detail.get("links") or []:
        href, tail = str(link.get("href", "")) if isinstance(link, dict) else "", f"/api/v1/datasets/{plan.id}"
        if link.get("rel") == "self" and href.endswith(tail):
            bases.append(href[: -len(tail)])
    return bases


def _without_source_links(xml: bytes, bases: list[str]) -> bytes:
    """The document without the online resources pointing at the source's own services: the record here is
    given this site's services when it is read."""
    root = parse_xml(xml)
    dropped = False
    for online in list(root.iter("{*}onLine")):
        url = (online.findtext(".//{*}linkage/{*}URL") or online.findtext(".//{*}linkage/{*}CharacterString")
               or "").strip()
        if any(url.startswith(base + "/") for base in bases) and online.getparent() is not None:
            online.getparent().remove(online)
            dropped = True
    return to_bytes(root) if dropped else xml


def _last_sync(site: Any, dataset_id: str) -> dict[str, Any] | None:
    with site.catalog.engine.connect() as conn:
        return sync_state.last(conn, dataset_id)


def _remember(site: Any, source: SourceSite, dataset_id: str, revision: str) -> None:
    local = _local_revision(site, site.catalog.get_dataset(dataset_id))
    with site.catalog.begin() as conn:
        sync_state.save(conn, dataset_id, source.url, source_revision=revision, local_revision=local)


def _local_revision(site: Any, dataset: Dataset) -> str:
    """Changes with the dataset here: its data and styles, its record, its owner and grants."""
    record = site.catalog.get_record(dataset.record_id)
    owner = site.accounts.owner_of("dataset", dataset.id) or {}
    return _digest(dataset.updated, record.updated, owner.get("org_id"), _grants_of(site, dataset.id))


def _digest(*parts: Any) -> str:
    text = orjson.dumps([p.isoformat() if hasattr(p, "isoformat") else p for p in parts])
    return hashlib.sha256(text).hexdigest()
