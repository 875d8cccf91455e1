"""CRS names as clients write them, the axis order each name means, and bounding boxes as they are sent.

Axis order, as GeoServer applies it (WFS, GML, FES): the short form ``EPSG:4326`` and the old
``http://www.opengis.net/gml/srs/epsg.xml#4326`` are east/north (x/y) whatever the CRS; a URN
(``urn:ogc:def:crs:EPSG::4326``, ``urn:x-ogc:def:crs:EPSG:4326``) or an http URI
(``http://www.opengis.net/def/crs/EPSG/0/4326``) follows the EPSG axis order, so latitude first for
EPSG:4326 and EPSG:4258, northing first for EPSG:3035, easting first for EPSG:2154 and EPSG:3857.
WMS 1.3.0 follows the EPSG axis order for its ``EPSG:`` codes too (``axis_north_first``); CRS84 and
GeoJSON are always longitude first.

>>> canonical("urn:x-ogc:def:crs:EPSG:4326"), north_first("urn:x-ogc:def:crs:EPSG:4326"), north_first("EPSG:4326")
('urn:ogc:def:crs:EPSG::4326', True, False)
>>> axis_north_first(to_crs("EPSG:4326")), parse_bbox("-5,47,-1,49,EPSG:4326", with_crs=True)
(True, ((-5.0, 47.0, -1.0, 49.0), 'EPSG:4326'))
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from pyproj import CRS
from pyproj.exceptions import CRSError

from kartenn.errors import InvalidInput

Box = tuple[float, float, float, float]

_OLD_URL = re.compile(r"^https?://www\.opengis\.net/gml/srs/epsg\.xml#(\d+)$", re.IGNORECASE)
_URN = re.compile(r"^urn:(?:x-)?ogc:def:crs:EPSG:(?:[\d.]*:)?(\d+)$", re.IGNORECASE)


def canonical(srs: str) -> str:
    """The name in a form pyproj and pygml both read, with the same axis-order meaning."""
    srs = srs.strip()
    if srs.upper().endswith("CRS84"):
        return "urn:ogc:def:crs:OGC::CRS84"
    if match := _OLD_URL.match(srs):
        return f"EPSG:{match.group(1)}"
    if match := _URN.match(srs):
        return f"urn:ogc:def:crs:EPSG::{match.group(1)}"
    return srs


@lru_cache(maxsize=128)
def to_crs(srs: str) -> CRS:
    """The CRS a name means; an unknown name is an input error."""
    name = canonical(srs)
    try:
        return CRS.from_user_input("OGC:CRS84" if name.endswith("CRS84") else name)
    except CRSError:
        raise InvalidInput(f"unknown CRS {srs!r}", locator="srsName") from None


def axis_north_first(crs: CRS) -> bool:
    """Whether the CRS itself lists latitude (northing) first."""
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


@lru_cache(maxsize=128)
def north_first(srs: str) -> bool:
    """Whether coordinates written with this CRS name come latitude (northing) first."""
    name = canonical(srs)
    if name.upper().startswith("EPSG:") or name.endswith("CRS84"):
        return False
    return axis_north_first(to_crs(name))


def swap(box: Box) -> Box:
    """(a, b, c, d) → (b, a, d, c): a box's axes the other way round."""
    return box[1], box[0], box[3], box[2]


def parse_bbox(text: str, *, with_crs: bool = False, heights: bool = True,
               locator: str = "bbox") -> tuple[Box, str | None]:
    """``minx,miny,maxx,maxy`` (or, with ``heights``, 6 numbers whose heights are dropped) and, ``with_crs``,
    an optional CRS name last: the four finite numbers as written and the CRS name. Their order is the
    caller's to check."""
    parts = [p.strip() for p in text.split(",")]
    count = "4 or 6" if heights else "4"
    name = parts.pop() if with_crs and len(parts) in (5, 7) else None
    try:
        numbers = [float(v) for v in parts]
    except ValueError:
        raise InvalidInput(f"{locator} must be {count} numbers separated by commas, not {text!r}",
                           locator=locator) from None
    if len(numbers) == 6 and heights:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"{locator} must be {count} finite numbers separated by commas, not {text!r}",
                           locator=locator)
    return (numbers[0], numbers[1], numbers[2], numbers[3]), name
