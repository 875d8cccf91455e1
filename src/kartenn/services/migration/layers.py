"""GeoServer layers as Kartenn datasets: data, title, abstract, keywords, styles and rights.

A layer becomes the dataset named like it when that id is free, else ``<workspace>-<layer>``; its workspace's
organisation owns it. A layer whose source changed since the last run is published again in place (same id,
record and rights), unless the dataset was changed in Kartenn since: it is then reported and left alone, unless
``overwrite``.
"""

from __future__ import annotations

import re
import secrets

from kartenn.domain import Dataset
from kartenn.domain.security import Sharing
from kartenn.domain.style import StyleLimits
from kartenn.errors import KartennError, NotFound
from kartenn.services import grants as grant_service
from kartenn.services import styles, workflow
from kartenn.services.migration.data import NotMigrated, fingerprint, layer_source
from kartenn.services.migration.geoserver import Layer
from kartenn.services.migration.run import Run, changed_since, digest
from kartenn.services.migration.security import layer_grants, org_id
from kartenn.services.publish import RESERVED_IDS, planned_fields, publish_source

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")


def datasets(run: Run) -> None:
    current = {layer.qualified for layer in run.data.layers}
    for (kind, source), rows in sorted(run.rows.items()):
        if kind == "dataset" and source not in current:
            run.done("skipped", source, "dataset", rows[0].kartenn_id, "no longer in GeoServer: kept as it is")
    for layer in run.data.layers:
        try:
            _layer(run, layer)
        except NotMigrated as exc:
            run.report.warn(layer.qualified, f"not migrated: {exc.message}")
        except KartennError as exc:
            run.report.warn(layer.qualified, f"not migrated: {exc.message}")
        except Exception as exc:  # a reader's or driver's own error: reported, the other layers go on
            run.report.warn(layer.qualified, f"not migrated: {type(exc).__name__}: {str(exc)[:200]}")


def _layer(run: Run, layer: Layer) -> None:
    if layer.kind not in ("vector", "raster"):
        raise NotMigrated(f"a cascaded {layer.kind.upper()} layer (store {layer.store.qualified}) has no "
                          "Kartenn equivalent")
    if not layer.enabled:
        run.report.warn(layer.qualified, "disabled in GeoServer: migrated all the same")
    source_print = fingerprint(layer, run.root)
    known = run.row("dataset", layer.qualified)
    dataset = _existing(run, known.kartenn_id) if known else None
    if dataset is None:
        dataset_id = _new_id(run, layer)
        dataset = _planned(run, layer, dataset_id) if run.dry_run else _publish(run, layer, None, dataset_id)
        run.dataset_ids[layer.qualified] = dataset_id
        run.done("created", layer.qualified, "dataset", dataset_id, _summary(layer, None if run.dry_run else dataset))
        created = True
    else:
        assert known is not None  # a dataset is found through what an earlier run made
        run.dataset_ids[layer.qualified] = dataset.id
        record = run.site.catalog.get_record(dataset.record_id)
        # a record imported since (a catalogue's, keeping its document) is kept whole by a new publication
        local = bool(known.fingerprint) and (changed_since(dataset.updated, known.migrated_at) or
                                             (changed_since(record.updated, known.migrated_at) and not record.xml))
        if known.fingerprint == source_print:
            run.done("skipped", layer.qualified, "dataset", dataset.id, "unchanged")
        elif local and not run.overwrite:
            run.done("skipped", layer.qualified, "dataset", dataset.id, "changed in Kartenn since the last migration")
            run.report.warn(layer.qualified, f"changed at the source, but dataset {dataset.id} was changed in Kartenn "
                            "since the last migration: not replaced (--overwrite replaces it)")
            _rights(run, layer, dataset.id, created=False)
            return
        else:
            if not run.dry_run:
                dataset = _publish(run, layer, dataset, dataset.id)
            run.done("updated", layer.qualified, "dataset", dataset.id, _summary(layer, dataset))
        created = False
    dataset_id = run.dataset_ids[layer.qualified]
    _styles(run, layer, dataset, fresh=created)
    _rights(run, layer, dataset_id, created=created)
    run.remember("dataset", layer.qualified, dataset_id, source_print)  # after the styles: they change the dataset


def _existing(run: Run, dataset_id: str):  # type: ignore[no-untyped-def]
    try:
        return run.site.catalog.get_dataset(dataset_id)
    except NotFound:
        return None  # deleted in Kartenn since: made again


def _new_id(run: Run, layer: Layer) -> str:
    taken = run.site.catalog.dataset_ids() | RESERVED_IDS | set(run.dataset_ids.values())
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{layer.workspace}-{layer.name}").strip("-_")[:70] or "layer"
    for candidate in (layer.name, f"{layer.workspace}-{layer.name}", base):
        if ID.fullmatch(candidate) and candidate not in taken:
            return candidate
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _planned(run: Run, layer: Layer, dataset_id: str) -> Dataset:
    """For a dry run: the dataset publication would make, as far as its styles need it (kind, attributes); its
    data is read as publication reads it (so what cannot be read is reported alike), nothing is written."""
    with run.site.staging.area(f"migrate-{secrets.token_hex(6)}") as work:
        source = layer_source(layer, run.root, work)
        fields = planned_fields(source) if source.kind == "vector" else []
    return Dataset(id=dataset_id, title=layer.title or layer.name, kind=source.kind, crs="", srid=None, extent=None,
                   extent_wgs84=None, fields=fields, style={} if source.kind == "vector" else {"kind": "ramp"})


def _publish(run: Run, layer: Layer, old, dataset_id: str):  # type: ignore[no-untyped-def]
    site = run.site
    public = layer_grants(run.security, layer.workspace, layer.name).public
    org = org_id(layer.workspace)
    log: list[str] = []
    with site.staging.area(f"migrate-{secrets.token_hex(6)}") as work:
        source = layer_source(layer, run.root, work)
        dataset = publish_source(site, source, title=layer.title or layer.name, replace=old.id if old else None,
                                 log=log, dataset_id=None if old else dataset_id,
                                 sharing=Sharing(org=org if site.accounts.has_organisation(org) else None,
                                                 public=public))
    run.remember("dataset", layer.qualified, dataset.id, "")  # known at once: a later failure makes no duplicate
    _compare_extent(run, layer, dataset)
    site.accounts.log(site.identity.name, "publish", f"dataset:{dataset.id}", source=f"geoserver {layer.qualified}",
                      org=org, public=public)
    fields = {k: v for k, v in (("abstract", layer.abstract), ("keywords", layer.keywords)) if v}
    if fields and not site.catalog.get_record(dataset.record_id).xml:  # an imported record says it all
        workflow.edit(site, dataset.record_id, fields=fields, comment="from GeoServer")
    return site.catalog.get_dataset(dataset.id)


def _compare_extent(run: Run, layer: Layer, dataset) -> None:  # type: ignore[no-untyped-def]
    """The extent comes from the data; a GeoServer bounding box far from it (not recomputed there) is said."""
    if not (layer.bbox and dataset.extent and layer.srs == dataset.crs):
        return
    size = max(layer.bbox[2] - layer.bbox[0], layer.bbox[3] - layer.bbox[1], 1e-9)
    if max(abs(a - b) for a, b in zip(layer.bbox, dataset.extent, strict=True)) > size / 100:
        box = ", ".join(f"{v:g}" for v in layer.bbox)
        run.report.warn(layer.qualified, f"GeoServer declares the bounding box {box}; {dataset.id} has the extent of "
                        "its data: " + ", ".join(f"{v:g}" for v in dataset.extent))


def _summary(layer: Layer, dataset) -> str:  # type: ignore[no-untyped-def]
    if dataset is None:
        return f"{layer.kind} from store {layer.store.qualified} ({layer.store.type})"
    if dataset.kind == "raster":
        return f"raster {dataset.raster['width']}×{dataset.raster['height']}, {dataset.crs}"
    return f"{dataset.count} features, {dataset.crs}"


def _style_list(run: Run, layer: Layer) -> list[tuple[str, bool]]:
    ids = ([(layer.default_style, True)] if layer.default_style else []) + \
        [(s, False) for s in layer.styles if s != layer.default_style]
    found = []
    for style_id, default in ids:
        if style_id not in run.data.styles:
            run.report.warn(layer.qualified, f"its style {style_id} is not in the data directory: left out")
        else:
            found.append((style_id, default))
    return found


def _styles(run: Run, layer: Layer, dataset: Dataset, *, fresh: bool) -> None:
    """The layer's styles read and checked against ``dataset``'s attributes, and put on it (a dry run reads and
    checks them the same way, against the dataset publication would make, and reports alike)."""
    site = run.site
    dataset_id = dataset.id
    for style_id, default in _style_list(run, layer):
        style = run.data.styles[style_id]
        target = f"{dataset_id}/{style.name}"
        sld = style.sld.read_bytes() if style.sld and style.sld.is_file() else None
        print_ = digest(style.xml, sld or b"", default)
        known = run.row("style", style.label, target)
        if known and known.fingerprint == print_ and not fresh:
            run.done("skipped", style.label, "style", target, "unchanged")
            continue
        if style.format.lower() != "sld":
            run.report.warn(style.label, f"a {style.format} style: only SLD styles are migrated ({layer.qualified})")
            continue
        if sld is None:
            run.report.warn(style.label, f"its SLD file {style.sld} is missing ({layer.qualified})")
            continue
        if not run.dry_run:
            dataset = site.catalog.get_dataset(dataset_id)
        try:
            imported, warnings = styles.read_style(dataset, style.name, sld, styles.SLD_TYPE,
                                                   StyleLimits.of(site.settings), lenient=True)
            if run.dry_run:
                styles.check_style(site, dataset, imported)
            else:
                styles.put_style(site, dataset, imported, make_default=default)
        except KartennError as exc:
            run.report.warn(style.label, f"not used for {dataset_id}: {exc.message}")
            continue
        for warning in warnings:
            run.report.warn(style.label, f"{warning} ({dataset_id})")
        scales = sum(1 for r in imported.rules if r.min_scale or r.max_scale) if imported.kind == "vector" else 0
        detail = ("default" if default else "alternate") + (f", {scales} scale-dependent rules" if scales else "")
        run.remember("style", style.label, target, print_)
        run.done("updated" if known else "created", style.label, "style", target, detail)
    if fresh and not run.dry_run:
        dataset = site.catalog.get_dataset(dataset_id)
        if styles.default_name(dataset) != "default" and "default" in styles.styles_of(site, dataset):
            styles.delete_style(site, dataset, "default")  # Kartenn's own, made at publication: GeoServer's replace it


def _rights(run: Run, layer: Layer, dataset_id: str, *, created: bool) -> None:
    wanted = layer_grants(run.security, layer.workspace, layer.name)
    for note in wanted.notes:
        run.report.warn(f"rules {layer.qualified}", note)
    pairs = wanted.pairs()
    source = f"rules {layer.qualified}"
    print_ = digest(sorted(pairs))
    known = run.row("grants", source, dataset_id)
    detail = _describe(pairs)
    if known and known.fingerprint == print_:
        run.done("skipped", source, "grants", dataset_id, "unchanged")
        return
    if not run.dry_run:
        site = run.site
        current = {(g["principal"], g["principal_id"], g["action"]) for g in site.accounts.grants_of(
            "dataset", dataset_id)}
        ours = {g for g in current if g[0] == "public" or (g[0] == "org" and g[1] in run.managed_orgs)
                or (g[0] == "user" and g[1] in run.managed_users)}
        for principal, ident, action in sorted(ours - pairs):
            grant_service.change_grant(site, dataset_id, principal, ident, action, revoke=True)
        for principal, ident, action in sorted(pairs - current):
            grant_service.change_grant(site, dataset_id, principal, ident, action)
    run.remember("grants", source, dataset_id, print_)
    run.done("created" if created or not known else "updated", source, "grants", dataset_id, detail)


def _describe(pairs: set[tuple[str, str, str]]) -> str:
    by_action: dict[str, list[str]] = {}
    for principal, ident, action in sorted(pairs):
        by_action.setdefault(action, []).append("everyone" if principal == "public" else f"{principal} {ident}")
    return "; ".join(f"{action}: {', '.join(who)}" for action, who in by_action.items()) or "administrators only"
