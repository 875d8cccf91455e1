"""GetMap's request: the layers, their styles (named or from SLD_BODY) and TIME, the CRS, BBOX, size, format
and background; and the ETag of the map drawn from it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from kartenn.crs import parse_bbox, swap
from kartenn.domain import Dataset
from kartenn.domain.style import Style, StyleLimits
from kartenn.errors import InvalidInput, KartennError, NotFound
from kartenn.formats.sld_import import from_sld, named_styles
from kartenn.services import datasets, render, stacks, styles
from kartenn.services.timedim import time_field, time_filter
from kartenn.site import Site
from kartenn.web.ows.common import OWSError, integer, required

IMAGE_FORMATS = {"image/png": "png", "image/png8": "png8", "image/png; mode=8bit": "png8", "image/jpeg": "jpeg",
                 "image/webp": "webp"}
MAX_LAYERS = 50


@dataclass
class MapRequest:
    version: str
    layers: list[render.MapLayer]
    crs: str
    bbox: tuple[float, float, float, float]  # x/y order
    width: int
    height: int
    fmt: str
    transparent: bool
    bgcolor: str | None
    steps: list[stacks.Step] = field(default_factory=list)  # the time steps drawn of raster time stacks


def _bbox(params: dict[str, str], crs: str, version: str) -> tuple[float, float, float, float]:
    raw = required(params, "bbox")
    try:
        box: tuple[float, float, float, float] | None = parse_bbox(raw, heights=False)[0]
    except InvalidInput:
        box = None
    if box is None or box[0] >= box[2] or box[1] >= box[3]:
        raise OWSError("InvalidParameterValue", f"BBOX must be minx,miny,maxx,maxy with min < max; got {raw!r}",
                       "bbox")
    return swap(box) if version == "1.3.0" and render.lat_first(crs) else box


def requested_layers(site: Site, params: dict[str, str], name: str = "layers") -> list[Dataset]:
    names = [n for n in required(params, name).split(",")]
    if len(names) > MAX_LAYERS:
        raise OWSError("InvalidParameterValue", f"at most {MAX_LAYERS} layers per request", name)
    found = []
    for layer in names:
        try:
            found.append(datasets.named(site, layer.strip()))
        except NotFound:
            raise OWSError("LayerNotDefined", f"no layer {layer!r}", name) from None
    return found


def map_request(site: Site, params: dict[str, str], version: str, *, image: bool = True) -> MapRequest:
    datasets = requested_layers(site, params)
    styles_raw = params.get("styles", "")
    names = styles_raw.split(",") if styles_raw else [""] * len(datasets)
    if len(names) != len(datasets):
        raise OWSError("InvalidParameterValue", "STYLES must name one style per layer (or be empty)", "styles")
    if params.get("sld"):
        raise OWSError("InvalidParameterValue", "SLD by reference is not fetched: send the document in SLD_BODY",
                       "sld")
    inline = _inline_styles(site, datasets, params["sld_body"]) if params.get("sld_body") else {}
    layers, steps = [], []
    nearest = stacks.nearest_wanted(site.settings, params.get("nearest"))
    for ds, style_name in zip(datasets, names, strict=True):
        try:
            style = inline.get(ds.id) or styles.style_for(site, ds, style_name.strip())
        except NotFound as exc:
            raise OWSError("StyleNotDefined", exc.message, "styles") from None
        # TIME applies to the layers that have a time dimension; the others ignore it.
        when = None
        if params.get("time") and time_field(ds):
            try:
                when = time_filter(ds, params["time"])
            except KartennError as exc:
                raise OWSError("InvalidDimensionValue", exc.message, "time") from None
        try:
            step = stacks.step_at(ds, params.get("time"), nearest=nearest)
        except KartennError as exc:
            raise OWSError("InvalidDimensionValue", exc.message, "time") from None
        if step is not None:  # a raster time stack: the file of that time
            steps.append(step)
            ds = step.dataset
        layers.append(render.MapLayer(ds, style, when))
    crs_key = "crs" if version == "1.3.0" else "srs"
    crs = required(params, crs_key).strip().upper()
    if render.parse_crs(crs) is None:
        raise OWSError("InvalidCRS" if version == "1.3.0" else "InvalidSRS", f"unknown or unsupported CRS {crs!r}",
                       crs_key)
    bbox = _bbox(params, crs, version)
    cap = site.settings.map_max_size
    width, height = integer(params, "width", low=1, high=cap), integer(params, "height", low=1, high=cap)
    fmt = "png"
    if image:
        raw = params.get("format", "image/png")
        fmt = IMAGE_FORMATS.get(raw.lower().replace(" ", "").replace(";", "; "), "")
        if not fmt:
            raise OWSError("InvalidFormat", f"unsupported FORMAT {raw!r}; use one of {', '.join(IMAGE_FORMATS)}",
                           "format")
    transparent = params.get("transparent", "false").lower() == "true"
    bgcolor = params.get("bgcolor")
    if bgcolor is not None:
        if not re.fullmatch(r"(0x|#)?[0-9a-fA-F]{6}", bgcolor):
            raise OWSError("InvalidParameterValue", f"BGCOLOR must be 0xRRGGBB, not {bgcolor!r}", "bgcolor")
        bgcolor = "#" + bgcolor[-6:]
    return MapRequest(version, layers, crs, bbox, width, height, fmt, transparent, bgcolor, steps)


def _inline_styles(site: Site, datasets: list[Dataset], body: str) -> dict[str, Style]:
    """The styles an SLD_BODY gives the layers it names (a UserStyle, or a NamedStyle of the layer)."""
    limits = StyleLimits.of(site.settings)
    found: dict[str, Style] = {}
    try:
        limits.check_size(len(body.encode("utf-8")), "the document")
        by_name = named_styles(body)
        for ds in datasets:
            if ds.id in by_name:
                found[ds.id] = styles.style_for(site, ds, by_name[ds.id])
                continue
            fields = {f.name: f.type for f in ds.fields}
            try:
                imported = from_sld(body, fields, layer=ds.id, raster_default=ds.style if ds.kind != "vector" else None,
                                    limits=limits)
            except InvalidInput as exc:
                if "no UserStyle" in exc.message:
                    continue  # the document does not style this layer: its STYLES entry does
                raise
            found[ds.id] = imported.styles[0]
    except NotFound as exc:
        raise OWSError("StyleNotDefined", exc.message, "sld_body") from None
    except KartennError as exc:
        raise OWSError("InvalidParameterValue", f"SLD_BODY: {exc.message}", "sld_body") from None
    if not found:
        raise OWSError("InvalidParameterValue", "SLD_BODY styles none of the LAYERS", "sld_body")
    return found


def map_etag(req: MapRequest, params: dict[str, str]) -> str:
    """Changes with the request, the data and the content of every style drawn."""
    parts = [f"{k}={v}" for k, v in sorted(params.items())]
    parts += [f"{layer.dataset.id}|{layer.dataset.storage}|{layer.dataset.updated}|"
              f"{styles.style_revision(layer.dataset, layer.style)}"
              for layer in req.layers]
    return '"' + hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()[:24] + '"'
