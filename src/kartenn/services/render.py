"""Map rendering with Mapnik: datasets and their styles compiled once, rendered many times.

>>> png = render_map(site, [MapLayer(dataset, style)], "EPSG:3857", (-2e5, 5e6, 1e6, 6.5e6), 256, 256)  # doctest: +SKIP

Maps are drawn in worker processes, one per render slot (render_worker.py), each keeping the maps it
compiled per (datasets, styles, updated, levels): a GetMap never parses a style again. A map that takes longer
than ``render_timeout`` is answered with RenderTimeout and its process is ended, which frees its slot and
stops its work (a thread cannot be stopped: Mapnik draws in C++ and has no cancel).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from kartenn.crs import axis_north_first
from kartenn.domain import Dataset
from kartenn.domain.style import Style
from kartenn.errors import InvalidInput, KartennError
from kartenn.formats.mapnik_style import LayerXml, map_xml
from kartenn.metrics import RENDER_BUSY, RENDER_SLOTS
from kartenn.services import render_worker
from kartenn.services.boxes import native_boxes
from kartenn.services.render_worker import import_mapnik
from kartenn.services.timedim import TimeFilter
from kartenn.site import Site
from kartenn.stores.query import level_for_view

mapnik = import_mapnik()

# format name → Mapnik encoder string. zlib level 1: PNG encoding took longer than drawing (1024² of communes:
# ~290 ms at the default level, ~150 ms at level 1, for answers ~9% larger).
ENCODERS = {"png": "png32:z=1", "png8": "png8:m=h:z=1", "jpeg": "jpeg85", "webp": "webp:quality=85"}
MEDIA_TYPES = {"png": "image/png", "png8": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class MapLayer:
    dataset: Dataset
    style: Style
    time: TimeFilter | None = None  # only the features of this time are drawn

    @property
    def key(self) -> tuple[str, ...]:
        updated = self.dataset.updated.isoformat() if self.dataset.updated else ""
        time = self.time.key if self.time else ""
        return (self.dataset.id, self.dataset.storage, updated, self.style.digest(), time)


def layer_srs(dataset: Dataset) -> str:
    return f"epsg:{dataset.srid}" if dataset.srid else dataset.crs


def datasource(site: Site, dataset: Dataset, style: Style, time: TimeFilter | None = None,
               level: int = 0) -> dict[str, Any]:
    """Mapnik datasource parameters for a dataset on this site's stores, drawn from its generalised ``level``."""
    if dataset.kind == "raster":
        params: dict[str, Any] = {"type": "gdal", "file": str(site.files.path(dataset.storage))}
        if style.kind == "ramp":
            params["band"] = style.band
        nodata = dataset.raster.get("nodata")
        if nodata is not None:
            params["nodata"] = nodata
        return params
    if not SAFE_NAME.match(dataset.storage):
        raise InvalidInput(f"dataset {dataset.id!r} has an unexpected storage name")
    extent = ",".join(repr(v) for v in dataset.extent) if dataset.extent else None
    return site.features.map_datasource(dataset.storage, srid=dataset.srid or 0, extent=extent, level=level,
                                        time=time.bounds if time else None)


class Compiled:
    """Mapnik XML of the maps drawn lately, by key; least recently used keys go."""

    def __init__(self, max_keys: int = 256) -> None:
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()

    def xml(self, key: tuple, build: Any) -> bytes:
        with self._lock:
            xml = self._entries.get(key)
            if xml is not None:
                self._entries.move_to_end(key)
                return xml
        xml = build()
        with self._lock:
            self._entries[key] = xml
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        return xml

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


COMPILED = Compiled()  # keys: a map's layers, styles and generalised levels


def compiled_xml(site: Site, layers: list[MapLayer], levels: tuple[int, ...] | None = None) -> bytes:
    levels = levels or (0,) * len(layers)
    return map_xml([LayerXml(layer.dataset.id, layer_srs(layer.dataset),
                             datasource(site, layer.dataset, layer.style, layer.time, level), layer.style)
                    for layer, level in zip(layers, levels, strict=True)])


def level(site: Site, dataset: Dataset, crs: str, bbox: tuple[float, float, float, float], width: int,
          height: int) -> int:
    """The generalised level a map of ``dataset`` over ``bbox`` (in ``crs``) draws from: 0 unless one differs from
    the originals by less than half a pixel (stores/display.py)."""
    if dataset.kind != "vector" or not site.features.levels(dataset.storage).tolerances:
        return 0  # nothing to choose: no box to project
    parts = native_boxes(mapnik_srs(crs), layer_srs(dataset), bbox)  # not wrapped across the antimeridian
    return level_for_view(site.features, dataset.storage, parts[0], width, height) if parts else 0


@lru_cache(maxsize=256)
def parse_crs(code: str) -> CRS | None:
    """CRS:84 or an EPSG code pyproj knows; None otherwise."""
    text = code.strip().upper()
    if text in ("CRS:84", "OGC:CRS84"):
        return CRS.from_user_input("OGC:CRS84")
    if not re.fullmatch(r"EPSG:\d{1,6}", text):
        return None
    try:
        return CRS.from_user_input(text)
    except CRSError:
        return None


@lru_cache(maxsize=256)
def lat_first(code: str) -> bool:
    """Does the CRS list northing/latitude first (WMS 1.3.0 axis order)?"""
    crs = parse_crs(code)
    return crs is not None and axis_north_first(crs)


def mapnik_srs(crs: str) -> str:
    """'EPSG:4326' → 'epsg:4326'; 'CRS:84' → 'epsg:4326' (Mapnik is always x/y)."""
    code = crs.upper()
    if code in ("CRS:84", "OGC:CRS84"):
        return "epsg:4326"
    return code.lower()


def color(value: str | None, default: str = "#ffffff") -> Any:
    try:
        return mapnik.Color(value or default)
    except Exception:
        raise InvalidInput(f"invalid colour {value!r}") from None


def _render_slots() -> int:
    """How many maps a process draws at once: its share of the machine's cores (``KARTENN_WORKERS``, set by
    ``kartenn serve``, is how many processes share them). Mapnik draws without the GIL, so more would only
    make every map wait for the others, as GeoServer's control-flow and MapServer's process pools avoid."""
    workers = max(1, int(os.environ.get("KARTENN_WORKERS", "1") or 1))
    return max(1, (os.cpu_count() or 1) // workers)


class RenderTimeout(KartennError):
    """A map that took longer than ``render_timeout`` to draw, or waited that long for a free slot."""

    status = 503
    code = "NoApplicableCode"


class _Worker:
    """One drawing process and the pipe to it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=render_worker.main, args=(child,), daemon=True,
                                       name="kartenn-render")
        self.process.start()
        child.close()
        if not self.conn.poll(60) or self.conn.recv()[0] != "ready":
            self.stop()
            raise RuntimeError("the map drawing process did not start")

    def run(self, job: tuple, timeout: float) -> tuple[str, Any]:
        self.conn.send(job)
        if not self.conn.poll(timeout):
            raise RenderTimeout(f"the map took longer than {timeout:g} s to draw: ask for a smaller area or size, "
                                "or a simpler style")
        return self.conn.recv()

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class Renderers:
    """The drawing processes: at most ``size`` draw at once (the render slots), each started when first needed
    and ended when its map runs past its time."""

    def __init__(self, size: int) -> None:
        self._slots = threading.BoundedSemaphore(size)
        RENDER_SLOTS.set(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []

    def draw(self, job: tuple, timeout: float) -> bytes:
        if not self._slots.acquire(timeout=timeout):
            raise RenderTimeout(f"no map slot was free within {timeout:g} s: try again later")
        RENDER_BUSY.inc()
        try:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            worker = worker or _Worker()
            try:
                status, value = worker.run(job, timeout)
            except BaseException:  # past its time, or the process died: it goes, its slot is free again
                worker.stop()
                raise
            with self._lock:
                self._idle.append(worker)
        finally:
            RENDER_BUSY.dec()
            self._slots.release()
        if status != "ok":
            raise RuntimeError(f"map drawing failed: {value}")
        return value


RENDERERS = Renderers(_render_slots())


def render_map(site: Site, layers: list[MapLayer], crs: str, bbox: tuple[float, float, float, float],
               width: int, height: int, fmt: str = "png", *, transparent: bool = True,
               bgcolor: str | None = None) -> bytes:
    """An encoded image of ``layers`` over ``bbox`` (x/y order, in ``crs``); RenderTimeout past the site's
    ``render_timeout``."""
    if fmt not in ENCODERS:
        raise InvalidInput(f"unsupported image format {fmt!r}")
    levels = tuple(level(site, layer.dataset, crs, bbox, width, height) for layer in layers)
    key = (tuple(layer.key for layer in layers), levels)
    # Transparency in JPEG is meaningless: it gets the background colour.
    background = "#00000000" if transparent and fmt != "jpeg" else (bgcolor or "#ffffff")
    color(background)  # checked here, drawn there
    xml = COMPILED.xml(key, lambda: compiled_xml(site, layers, levels))
    job = (key, xml, mapnik_srs(crs), width, height, tuple(bbox), background, ENCODERS[fmt])
    return RENDERERS.draw(job, site.settings.render_timeout)


def blank_image(width: int, height: int, fmt: str, *, transparent: bool = True, bgcolor: str | None = None) -> bytes:
    image = mapnik.Image(width, height)
    image.fill(color("#00000000") if transparent and fmt != "jpeg" else color(bgcolor))
    return image.to_string(ENCODERS.get(fmt, "png32"))
