"""A process that draws maps for services/render.py. Mapnik cannot stop a render it has begun (it draws in C++,
without the GIL and without a cancel), so a map that runs past its time is stopped by ending its process.

The process reads jobs ``(key, xml, srs, width, height, bbox, background, encoder)`` from its pipe and answers
``("ok", image bytes)`` or ``("error", message)``; it keeps the maps it compiled, by key. Only Mapnik is
imported here: a new process is ready in a fraction of a second.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

MAPS = 64  # compiled maps a process keeps


def import_mapnik() -> Any:
    # The wheel points PROJ_LIB/GDAL_DATA at its own data on import; rasterio and pyproj need theirs, and
    # Mapnik's PROJ has its database built in, so the process environment is put back as it was.
    saved = {k: os.environ.get(k) for k in ("PROJ_LIB", "PROJ_DATA", "GDAL_DATA")}
    import mapnik

    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return mapnik


def main(conn: Connection) -> None:
    mapnik = import_mapnik()
    maps: OrderedDict[Any, Any] = OrderedDict()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the server went away
            return
        try:
            answer = ("ok", draw(mapnik, maps, *job))
        except Exception as exc:
            answer = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(answer)


def draw(mapnik: Any, maps: OrderedDict[Any, Any], key: Any, xml: bytes, srs: str, width: int, height: int,
         bbox: tuple[float, float, float, float], background: str, encoder: str) -> bytes:
    m = maps.pop(key, None)
    if m is None:
        m = mapnik.Map(256, 256)
        mapnik.load_map_from_string(m, xml)
    maps[key] = m
    while len(maps) > MAPS:
        maps.popitem(last=False)
    m.srs = srs
    m.resize(width, height)
    m.background = mapnik.Color(background)
    m.aspect_fix_mode = mapnik.aspect_fix_mode.RESPECT  # WMS: the image is exactly the BBOX
    m.zoom_to_box(mapnik.Box2d(*bbox))
    image = mapnik.Image(width, height)
    mapnik.render(m, image)
    return image.to_string(encoder)  # encoding is drawing's last step: within the same slot
