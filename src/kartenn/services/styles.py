"""Styles of datasets: the defaults (readable on light and dark basemaps, chosen by geometry type or raster
bands) and the named styles kept beside them, which editors create, replace, delete and make the default."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import orjson

from kartenn.domain import Dataset
from kartenn.domain.style import Style, StyleLimits, nesting, parse_style
from kartenn.errors import Conflict, InvalidInput, NotFound, UnsupportedFormat
from kartenn.formats.maplibre_style import GLYPHS, to_maplibre
from kartenn.formats.sld import to_sld
from kartenn.formats.sld_import import from_sld

SLD_TYPE = "application/vnd.ogc.sld+xml"
MAPLIBRE_TYPE = "application/vnd.mapbox.style+json"
SLD_BODIES = (SLD_TYPE, "text/xml", "application/xml")
FILL = "#2f7ebc"
STROKE = "#f5f5f5"
OUTLINE = "#16425b"


def default_vector_style(geometry_type: str) -> dict[str, Any]:
    """
    >>> default_vector_style("MultiPolygon")["rules"][0]["symbolizers"][0]["kind"]
    'fill'
    """
    kind = geometry_type.lower()
    if "polygon" in kind:
        symbolizer = {"kind": "fill", "color": FILL, "opacity": 0.45, "outline_color": OUTLINE,
                      "outline_width": 1.0}
    elif "line" in kind:
        symbolizer = {"kind": "line", "color": FILL, "width": 2.0, "casing_color": STROKE, "casing_width": 3.5}
    else:
        symbolizer = {"kind": "marker", "shape": "circle", "color": FILL, "radius": 4.0,
                      "outline_color": STROKE, "outline_width": 1.0}
    return {"name": "default", "title": "Default", "rules": [{"name": "all", "symbolizers": [symbolizer]}]}


def default_raster_style(bands: int, dtype: str, stats: list[tuple[float, float]]) -> dict[str, Any]:
    if bands >= 3 and dtype == "uint8":
        return {"name": "default", "title": "Default", "kind": "rgb", "bands": [1, 2, 3]}
    low, high = stats[0] if stats else (0.0, 255.0)
    return {"name": "default", "title": "Default", "kind": "ramp", "band": 1, "ramp": "viridis",
            "min": low, "max": high}


# named styles -------------------------------------------------------------------------------------------

_CACHE: OrderedDict[tuple[str, str, str], dict[str, Style]] = OrderedDict()
_LOCK = threading.Lock()


def style_revision(dataset: Dataset, style: Style | dict[str, Any]) -> str:
    """A short hash of the style's content (and the dataset it draws): tile and map caches key on it.

    >>> ds = Dataset("d", "D", "vector", "EPSG:4326", 4326, None, None)
    >>> len(style_revision(ds, {"name": "default", "rules": []}))
    16
    >>> style_revision(ds, {"rules": []}) == style_revision(ds, parse_style({"rules": []}))
    True
    """
    if not isinstance(style, Style):
        try:  # the same style as a dict with or without its defaults: the same revision
            style = parse_style(style)
        except InvalidInput:
            pass
    data = style.model_dump(mode="json") if isinstance(style, Style) else style
    text = dataset.id.encode() + b"\n" + orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(text, usedforsecurity=False).hexdigest()[:16]


def _key(site: Any, dataset: Dataset) -> tuple[str, str, str]:
    updated = dataset.updated.isoformat() if dataset.updated else repr(dataset.style)
    return (str(site.catalog.engine.url), dataset.id, updated)


def _cached(key: tuple[str, str, str]) -> dict[str, Style] | None:
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
        return found


def _keep(key: tuple[str, str, str], dataset: Dataset, named: list[dict[str, Any]]) -> dict[str, Style]:
    default = parse_style(dataset.style or {"name": "default", "rules": []})
    found = {default.name: default}
    for data in named:
        style = parse_style(data)
        found.setdefault(style.name, style)
    with _LOCK:
        _CACHE[key] = found
        while len(_CACHE) > 4096:
            _CACHE.popitem(last=False)
    return found


def styles_of(site: Any, dataset: Dataset) -> dict[str, Style]:
    """Every style of a dataset by name, its default first; read once per (dataset, updated).

    A style change touches the dataset's ``updated``, so the key changes with it."""
    key = _key(site, dataset)
    found = _cached(key)
    return found if found is not None else _keep(key, dataset, site.catalog.named_styles(dataset.id))


def styles_of_many(site: Any, datasets: list[Dataset]) -> dict[str, dict[str, Style]]:
    """``styles_of`` for many datasets, reading those not yet known in one query."""
    found = {ds.id: _cached(_key(site, ds)) for ds in datasets}
    missing = [ds for ds in datasets if found[ds.id] is None]
    if missing:
        named = site.catalog.named_styles_of([ds.id for ds in missing])
        for ds in missing:
            found[ds.id] = _keep(_key(site, ds), ds, named[ds.id])
    return found  # type: ignore[return-value]


def style_for(site: Any, dataset: Dataset, name: str | None) -> Style:
    """The style called ``name`` (empty or "default": the default style); NotFound otherwise."""
    found = styles_of(site, dataset)
    if not name or (name == "default" and name not in found):
        return next(iter(found.values()))
    if name not in found:
        raise NotFound(f"layer {dataset.id!r} has no style {name!r}")
    return found[name]


def default_name(dataset: Dataset) -> str:
    return str((dataset.style or {}).get("name") or "default")


def check_style(site: Any, dataset: Dataset, style: Style) -> None:
    """InvalidInput unless ``style`` fits the dataset (its kind, its attributes) and the site's limits."""
    if dataset.kind == "vector" and style.kind != "vector":
        raise InvalidInput(f"{dataset.id} is vector data: give it a vector style (rules)")
    if dataset.kind != "vector" and style.kind == "vector":
        raise InvalidInput(f"{dataset.id} is raster data: give it a raster style (rgb or ramp)")
    parse_style(style.model_dump(), [f.name for f in dataset.fields])  # the attributes it names exist
    StyleLimits.of(site.settings).check(style)


def put_style(site: Any, dataset: Dataset, style: Style, *, make_default: bool = False) -> bool:
    """Create or replace a named style (the default one too); True when it is new. Needs the edit right."""
    site.require("edit", "dataset", dataset.id)
    check_style(site, dataset, style)
    existing = styles_of(site, dataset)
    created = style.name not in existing
    data = style.model_dump(mode="json")
    with site.catalog.begin() as conn:
        if style.name == default_name(dataset):
            dataset.style = data
        elif make_default:
            site.catalog.delete_named_style(conn, dataset.id, style.name)
            site.catalog.put_named_style(conn, dataset.id, dataset.style)
            dataset.style = data
        else:
            site.catalog.put_named_style(conn, dataset.id, data)
        site.catalog.update_dataset(conn, dataset)  # new ``updated``: caches keyed on it move on
    site.accounts.log(site.identity.name, "style.update", f"dataset:{dataset.id}", style=style.name,
                      default=make_default or style.name == default_name(dataset), created=created,
                      revision=style_revision(dataset, style))
    return created


def set_default(site: Any, dataset: Dataset, name: str) -> None:
    """Make the named style the default one (the former default stays, by its name)."""
    site.require("edit", "dataset", dataset.id)
    put_style(site, dataset, style_for(site, dataset, name), make_default=True)


def delete_style(site: Any, dataset: Dataset, name: str) -> None:
    site.require("edit", "dataset", dataset.id)
    if name == default_name(dataset):
        raise Conflict(f"{name!r} is the default style of {dataset.id}: make another the default first")
    with site.catalog.begin() as conn:
        if not site.catalog.delete_named_style(conn, dataset.id, name):
            raise NotFound(f"layer {dataset.id!r} has no style {name!r}")
        site.catalog.update_dataset(conn, dataset)
    site.accounts.log(site.identity.name, "style.delete", f"dataset:{dataset.id}", style=name)


# encodings ----------------------------------------------------------------------------------------------


def read_style(dataset: Dataset, name: str, data: bytes, media_type: str,
               limits: StyleLimits | None = None, lenient: bool = False) -> tuple[Style, list[str]]:
    """(style named ``name``, warnings) from a JSON model or an SLD document (its first UserStyle), checked
    against the dataset's attributes and ``limits``; with ``lenient``, an SLD's rules and labels naming attributes
    the dataset lacks are left out with warnings (see from_sld)."""
    media = media_type.split(";")[0].strip().lower()
    fields = {f.name: f.type for f in dataset.fields}
    limits = limits or StyleLimits()
    limits.check_size(len(data))
    if media in SLD_BODIES:
        imported = from_sld(data, fields, name=name, raster_default=dataset.style if dataset.kind != "vector" else None,
                            limits=limits, lenient=lenient)
        warnings = list(imported.warnings)
        if len(imported.styles) > 1:
            warnings.append(f"the document has {len(imported.styles)} styles: the first was kept")
        return imported.styles[0], warnings
    if media not in ("application/json", ""):
        raise UnsupportedFormat(f"send the style as application/json or {SLD_TYPE}, not {media!r}")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("a style is a JSON object")
    # a filter level is an object and its args list; the style, its rules and a rule add four more levels
    if (depth := nesting(value)) > 2 * limits.depth + 4:
        limits.check_depth(depth // 2)
    style = parse_style({**value, "name": name}, list(fields))
    limits.check(style)
    return style, []


def export_style(dataset: Dataset, style: Style, f: str, base: str, glyphs: str | None = None) -> tuple[bytes, str]:
    """(document, media type) of a style as ``f``: json (the model), sld (SLD 1.0) or mapbox (MapLibre style
    JSON over the collection's vector tiles, served under ``base``; its labels' fonts from ``glyphs``)."""
    if f == "sld":
        return to_sld(dataset.id, style), SLD_TYPE
    if f == "mapbox":
        if dataset.kind != "vector":
            raise UnsupportedFormat(f"{dataset.id} is raster data: its styles have no MapLibre encoding", locator="f")
        tilejson = f"{base}/ogc/collections/{dataset.id}/tiles/WebMercatorQuad/tilejson"
        doc, warnings = to_maplibre(style, dataset.id, tilejson, title=dataset.title, glyphs=glyphs or GLYPHS)
        if warnings:
            doc["metadata"]["kartenn:warnings"] = warnings
        return orjson.dumps(doc), MAPLIBRE_TYPE
    return orjson.dumps(style.model_dump(mode="json")), "application/json"
