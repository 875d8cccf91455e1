"""GeoNetwork records (MEF) as catalogue records: their document as it is, their categories as keywords, their
files (thumbnails, attachments) and their sharing as grants.

A record whose online resource names a layer the GeoServer migration brought (an OGC:WMS or OGC:WFS link named
``ws:layer``, or named ``layer`` on a URL ``…/<ws>/wms``) becomes that dataset's record, in place of the one made
at publication: one dataset, one record. It then follows the dataset's rights, which GeoServer's rules set: where
GeoNetwork's sharing says otherwise (a public record on a restricted layer), the stricter holds for the data and
the report says so. Other records stand alone, owned by their group's organisation and their owner, with grants
from their sharing: view and dynamic → view, download → download, editing → edit; ``all`` is the public.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from kartenn.domain import Record
from kartenn.domain.security import Sharing
from kartenn.errors import InvalidInput, KartennError, NotFound
from kartenn.formats.records import read_records
from kartenn.services import records as record_service
from kartenn.services.migration.geonetwork import ALL, GUEST, MefRecord
from kartenn.services.migration.geonetwork_people import group_org
from kartenn.services.migration.run import Run, changed_since, digest
from kartenn.stores import migration_sources, record_files

ACTIONS = {"view": "view", "dynamic": "view", "download": "download", "editing": "edit"}
CATEGORIES = "GeoNetwork categories"
Grant = tuple[str, str, str]  # principal, its id, action


def records(run: Run) -> None:
    current = {mef.uuid for mef in run.data.records}
    for (kind, source), rows in sorted(run.rows.items()):
        if kind == "record" and source not in current:
            run.done("skipped", source, "record", rows[0].kartenn_id, "no longer in GeoNetwork: kept as it is")
    attached: dict[str, str] = {}  # dataset id → the uuid of the record it got in this run
    for mef in run.data.records:
        try:
            _record(run, mef, attached)
        except KartennError as exc:
            run.report.warn(mef.uuid, f"not migrated: {exc.message}")


def layer_name(link: dict) -> str | None:  # type: ignore[type-arg]
    """The GeoServer layer (``ws:layer``) an OGC:WMS or OGC:WFS online resource names, if it names one.

    >>> layer_name({"protocol": "OGC:WMS", "url": "http://gs/geoserver/ows?", "name": "sf:parcelles"})
    'sf:parcelles'
    >>> layer_name({"protocol": "OGC:WMS-1.3.0-http-get-map", "url": "http://gs/geoserver/sf/wms?", "name": "dtm"})
    'sf:dtm'
    >>> layer_name({"protocol": "OGC:WMS", "url": "http://gs/geoserver/wms", "name": "dtm"}) is None
    True
    """
    protocol = str(link.get("protocol") or "").upper()
    name = str(link.get("name") or "").strip()
    if not name or not protocol.startswith(("OGC:WMS", "OGC:WFS")):
        return None
    if ":" in name:
        return name
    parts = [p for p in urlsplit(str(link.get("url") or "")).path.split("/") if p]
    if len(parts) >= 2 and parts[-1].lower() in ("wms", "wfs", "ows") and parts[-2].lower() != "geoserver":
        return f"{parts[-2]}:{name}"
    return None


def _record(run: Run, mef: MefRecord, attached: dict[str, str]) -> None:
    found = read_records(mef.metadata)
    if len(found) != 1:
        raise InvalidInput(f"{mef.archive}: its metadata document holds {len(found)} records, not one")
    rec = _with_categories(found[0], mef.categories)
    if rec.id != mef.uuid:
        run.report.warn(mef.uuid, f"its document's identifier is {rec.id!r}: the record keeps that one")
    existing = _existing(run, rec.id)
    target = _dataset(run, rec, mef.uuid, attached)
    if target is None and existing is not None and existing.dataset_id:
        target = (existing.dataset_id, "")  # a dataset's record stays its record
    wanted = _grants(run, mef)
    files = [(f.folder, f.name, f.data) for f in mef.files]
    fingerprint = digest(mef.metadata, mef.info, mef.sharing_json, files, target)
    known = run.row("record", mef.uuid)
    detail = "; ".join(filter(None, [rec.title, f"record of dataset {target[0]}" if target else "",
                                     f"categories {', '.join(mef.categories)}" if mef.categories else "",
                                     f"{len(files)} file{'s' * (len(files) != 1)}" if files else ""]))
    if target and target[1]:
        _compare(run, mef.uuid, target, wanted)
    if existing is not None and known is None and not run.overwrite:
        run.done("skipped", mef.uuid, "record", rec.id, "a record with this identifier was in Kartenn already")
        run.report.warn(mef.uuid, f"record {rec.id} existed in Kartenn before the migration: not replaced "
                        "(--overwrite replaces it)")
        return
    if existing is not None and known is not None:
        if known.fingerprint == fingerprint:
            run.done("skipped", mef.uuid, "record", rec.id, "unchanged")
            return
        if changed_since(existing.updated, known.migrated_at) and not run.overwrite:
            run.done("skipped", mef.uuid, "record", rec.id, "changed in Kartenn since the last migration")
            run.report.warn(mef.uuid, f"changed in GeoNetwork, but record {rec.id} was changed in Kartenn since the "
                            "last migration: not replaced (--overwrite replaces it)")
            return
    if not run.dry_run:
        _write(run, mef, rec, target, wanted, existing)
    run.remember("record", mef.uuid, rec.id, fingerprint)
    run.done("updated" if existing is not None else "created", mef.uuid, "record", rec.id, detail)


def _with_categories(rec: Record, categories: list[str]) -> Record:
    """``rec`` with GeoNetwork's categories (info.xml) as a keyword set of its own; the document is kept as is."""
    if categories:
        rec.keyword_sets = [*rec.keyword_sets, {"thesaurus": CATEGORIES, "type": "theme",
                                                "keywords": list(categories)}]
        rec.keywords = [*rec.keywords, *(c for c in categories if c not in rec.keywords)]
    return rec


def _existing(run: Run, record_id: str) -> Record | None:
    try:
        return run.site.catalog.get_record(record_id)
    except NotFound:
        return None


def _dataset(run: Run, rec: Record, uuid: str, attached: dict[str, str]) -> tuple[str, str] | None:
    """(dataset id, layer) of the migrated layer the record describes, or None (each unmigrated one reported)."""
    for link in rec.links:
        layer = layer_name(link)
        if layer is None:
            continue
        with run.site.catalog.begin() as conn:
            dataset_id = migration_sources.dataset_of(conn, layer)
        try:
            dataset = run.site.catalog.get_dataset(dataset_id) if dataset_id else None
        except NotFound:
            dataset = None
        if dataset is None:
            run.report.warn(uuid, f"its link names the GeoServer layer {layer}, which was not migrated (no dataset): "
                            "the link is kept and the record stands alone")
            continue
        other = attached.get(dataset.id)
        if other is None and dataset.record_id != rec.id:  # the dataset's record came from GeoNetwork already?
            other = next((s for (k, s), rows in run.rows.items() if k == "record" and
                          any(r.kartenn_id == dataset.record_id for r in rows)), None)
        if other is not None and other != uuid:
            run.report.warn(uuid, f"dataset {dataset.id} (layer {layer}) has the record {other} already: this one "
                            "stands alone")
            continue
        attached[dataset.id] = uuid
        return dataset.id, layer
    return None


def _grants(run: Run, mef: MefRecord) -> set[Grant]:
    """The grants GeoNetwork's sharing gives (the unmapped operations reported)."""
    found: set[Grant] = set()
    unmapped: set[str] = set()
    for group_id, ops in sorted(mef.privileges(run.data.groups).items()):
        actions = {ACTIONS[op] for op in ops if op in ACTIONS}
        unmapped |= {op for op in ops if op not in ACTIONS}
        if not actions:
            continue
        if group_id == ALL:
            found |= {("public", "", a) for a in actions if a != "edit"}
            if "edit" in actions:
                run.report.warn(mef.uuid, "editing for everyone (group all) has no equivalent: not given")
            continue
        org = group_org(run, group_id)
        if org is None or org not in run.managed_orgs:
            name = "guest" if group_id == GUEST else f"group {group_id}"
            run.report.warn(mef.uuid, f"{', '.join(sorted(ops))} given to {name}: no Kartenn equivalent, not given")
            continue
        found |= {("org", org, a) for a in actions}
    if unmapped:
        run.report.warn(mef.uuid, f"{', '.join(sorted(unmapped))}: no Kartenn equivalent (Kartenn grants view, "
                        "download, edit and publish), not carried over")
    return found


def _compare(run: Run, uuid: str, target: tuple[str, str], wanted: set[Grant]) -> None:
    """Report where GeoNetwork's sharing of a dataset's record and the dataset's rights (GeoServer's) differ."""
    dataset_id, layer = target
    if run.dry_run and dataset_id not in run.site.catalog.dataset_ids():
        return
    current = {(g["principal"], g["principal_id"], g["action"]) for g in
               run.site.accounts.grants_of("dataset", dataset_id)}
    public = any(p == "public" for p, _, _ in current)
    if any(p == "public" for p, _, _ in wanted) and not public:
        run.report.warn(uuid, f"public in GeoNetwork, but the GeoServer layer {layer} is restricted: the stricter "
                        f"rule holds, the record follows the rights of dataset {dataset_id} (not public)")
    elif public and not any(p == "public" for p, _, _ in wanted):
        run.report.warn(uuid, f"not public in GeoNetwork, but the GeoServer layer {layer} is: the record follows "
                        f"the rights of dataset {dataset_id} (public)")
    stronger = {"view": ("view", "download", "edit", "publish"), "download": ("download", "edit", "publish"),
                "edit": ("edit", "publish")}
    missing = sorted((p, i, a) for p, i, a in wanted if p != "public" and not
                     (any((p, i, s) in current for s in stronger[a]) or (public and a in ("view", "download"))))
    if missing:
        given = ", ".join(f"{a} to {p} {i}" for p, i, a in missing)
        run.report.warn(uuid, f"GeoNetwork gives {given}; the record follows the rights of dataset {dataset_id}, "
                        "which GeoServer's rules set: not given (grant them on the dataset if they should hold for "
                        "its data too)")


def _write(run: Run, mef: MefRecord, rec: Record, target: tuple[str, str] | None, wanted: set[Grant],
           existing: Record | None) -> None:
    site = run.site
    source = f"geonetwork {mef.archive}"
    if target is not None:
        record_service.attach_record(site, rec, target[0], source=source)
    else:
        owner = run.data.user(mef.owner)
        user = owner.name if owner is not None and owner.name in run.managed_users else None
        record_service.import_records(site, [rec], source=source, sharing=Sharing(
            org=group_org(run, mef.group_owner), user=user, public=False))
        _set_grants(run, rec.id, wanted)
    with site.catalog.begin() as conn:
        record_files.replace(conn, rec.id, mef.files)


def _set_grants(run: Run, record_id: str, wanted: set[Grant]) -> None:
    """Make the record's grants those of GeoNetwork, leaving those of organisations and people it did not make."""
    site = run.site
    current = {(g["principal"], g["principal_id"], g["action"]) for g in site.accounts.grants_of("record", record_id)}
    ours = {g for g in current if g[0] == "public" or (g[0] == "org" and g[1] in run.managed_orgs)}
    with site.catalog.begin() as conn:
        for principal, ident, action in sorted(ours - wanted):
            site.accounts.revoke(conn, "record", record_id, principal, ident, action)
        for principal, ident, action in sorted(wanted - current):
            site.accounts.grant(conn, "record", record_id, principal, ident, action)
    site.accounts.log(site.identity.name, "grant.set", f"record:{record_id}", source="geonetwork",
                      grants=sorted(wanted))
