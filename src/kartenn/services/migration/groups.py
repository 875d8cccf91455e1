"""GeoServer layer groups as saved maps of the viewer: the group's layers in its order (the first drawn first, at
the bottom), each with the group's style for it, over the group's bounds. Nested groups give their layers. The map
is the workspace organisation's, public when the group's read rule lets everyone in.
"""

from __future__ import annotations

from typing import Any

from pyproj import CRS, Transformer

from kartenn.errors import KartennError, NotFound
from kartenn.services import maps, styles
from kartenn.services.migration.geoserver import LayerGroup
from kartenn.services.migration.run import Run, changed_since, digest
from kartenn.services.migration.security import EVERYONE, org_id


def layer_groups(run: Run) -> None:
    for group in run.data.groups:
        try:
            _group(run, group)
        except KartennError as exc:
            run.report.warn(group.qualified, f"not migrated: {exc.message}")


def _group(run: Run, group: LayerGroup) -> None:
    layers = _layers(run, group, set())
    if not layers:
        run.report.warn(group.qualified, "none of its layers was migrated: no map made")
        return
    rule = run.security.rule(group.workspace or "*", group.name, "r")
    public = rule is None or any(r in EVERYONE for r in rule)
    org = org_id(group.workspace) if group.workspace else None
    org = org if org and run.site.accounts.has_organisation(org) else None
    body: dict[str, Any] = {"layers": layers, "crs": "EPSG:3857"}
    if (extent := _extent(group)) is not None:
        body["extent"] = extent
    title = group.title or group.name
    print_ = digest(group.xml, layers)
    known = run.row("map", group.qualified)
    existing = _existing(run, known.kartenn_id) if known else None
    detail = f"{group.mode} group of {len(layers)} layers: " + ", ".join(
        layer["dataset"] + (f" ({layer['style']})" if layer["style"] else "") for layer in layers)
    if existing is None:
        map_id = "(new)"
        if not run.dry_run:
            map_id = maps.save(run.site, title, abstract=group.abstract, org=org, public=public, body=body)["id"]
            run.remember("map", group.qualified, map_id, print_)
        run.done("created", group.qualified, "map", map_id, detail)
    elif known is None:
        raise AssertionError("an existing map is a known one")
    elif known.fingerprint == print_:
        run.done("skipped", group.qualified, "map", existing["id"], "unchanged")
    elif changed_since(_when(existing["updated"]), known.migrated_at) and not run.overwrite:
        run.done("skipped", group.qualified, "map", existing["id"], "changed in Kartenn since the last migration")
        run.report.warn(group.qualified, f"changed at the source, but map {existing['id']} was changed in Kartenn "
                        "since the last migration: not replaced (--overwrite replaces it)")
    else:
        if not run.dry_run:
            maps.replace(run.site, existing["id"], title, abstract=group.abstract, public=public, body=body)
            run.remember("map", group.qualified, existing["id"], print_)
        run.done("updated", group.qualified, "map", existing["id"], detail)


def _existing(run: Run, map_id: str) -> dict[str, Any] | None:
    try:
        return maps.get(run.site, map_id)
    except NotFound:
        return None


def _when(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text)


def _layers(run: Run, group: LayerGroup, seen: set[str]) -> list[dict[str, Any]]:
    seen = seen | {group.id}
    found: list[dict[str, Any]] = []
    for kind, ident, style_id in group.entries:
        if kind == "layerGroup":
            inner = next((g for g in run.data.groups if g.id == ident), None)
            if inner is None or inner.id in seen:
                run.report.warn(group.qualified, f"its group {ident} is missing or contains itself: left out")
            else:
                found += _layers(run, inner, seen)
            continue
        layer = run.data.layer_by_id(ident)
        dataset_id = run.dataset_ids.get(layer.qualified) if layer else None
        if layer is None or dataset_id is None:
            run.report.warn(group.qualified, f"its layer {layer.qualified if layer else ident} was not migrated: "
                            "left out of the map")
            continue
        style = run.data.styles[style_id].name if style_id and style_id in run.data.styles else None
        if style and not _has_style(run, dataset_id, style):
            run.report.warn(group.qualified, f"style {style} of {layer.qualified} was not migrated: the map "
                            "uses its default style")
            style = None
        found.append({"dataset": dataset_id, "kind": "wms", "style": style, "opacity": 1.0, "visible": True,
                      "time": None})
    return found


def _has_style(run: Run, dataset_id: str, style: str) -> bool:
    """The dataset has the style (in a dry run: the run reported it made, or it had it already)."""
    if run.dry_run:
        target = f"{dataset_id}/{style}"
        entries = run.report.created + run.report.updated + run.report.skipped
        if any(e.kind == "style" and e.target == target for e in entries):
            return True
    try:
        return style in styles.styles_of(run.site, run.site.catalog.get_dataset(dataset_id))
    except NotFound:  # a dataset a dry run would make
        return False


def _extent(group: LayerGroup) -> list[float] | None:
    """The group's bounds in longitude/latitude, as the viewer keeps a map's extent."""
    from kartenn.xml import parse_xml

    bounds = parse_xml(group.xml).find("bounds")
    if bounds is None:
        return None
    try:
        box = [float(bounds.findtext(k)) for k in ("minx", "miny", "maxx", "maxy")]  # type: ignore[arg-type]
        crs = CRS.from_user_input(bounds.findtext("crs") or "EPSG:4326")
    except (TypeError, ValueError, KartennError):
        return None
    except Exception:  # pyproj's CRSError: an unknown CRS gives no extent
        return None
    if crs.to_epsg() != 4326:
        west, south, east, north = box
        box = list(Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform_bounds(
            west, south, east, north))
    return [round(v, 7) for v in box]
