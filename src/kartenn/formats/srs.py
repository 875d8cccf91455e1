"""CRS names as WFS clients write them, and the axis order each name means.

The rule (as GeoServer applies it): the short form ``EPSG:4326`` and the old
``http://www.opengis.net/gml/srs/epsg.xml#4326`` are east/north (x/y) whatever the CRS; a URN
(``urn:ogc:def:crs:EPSG::4326``, ``urn:x-ogc:def:crs:EPSG:4326``) or an http URI
(``http://www.opengis.net/def/crs/EPSG/0/4326``) follows the EPSG axis order, so latitude first for
EPSG:4326 and EPSG:4258, northing first for EPSG:3035, easting first for EPSG:2154 and EPSG:3857.

>>> canonical("urn:x-ogc:def:crs:EPSG:4326"), north_first("urn:x-ogc:def:crs:EPSG:4326"), north_first("EPSG:4326")
('urn:ogc:def:crs:EPSG::4326', True, False)
"""

from __future__ import annotations

import re
from functools import lru_cache

from pyproj import CRS
from pyproj.exceptions import CRSError

from kartenn.errors import InvalidInput

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


@lru_cache(maxsize=128)
def north_first(srs: str) -> bool:
    """Whether coordinates written with this CRS name come latitude (northing) first."""
    name = canonical(srs)
    if name.upper().startswith("EPSG:") or name.endswith("CRS84"):
        return False
    axes = to_crs(name).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")
