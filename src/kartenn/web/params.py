"""Query parameters shared by the catalogue's HTTP interfaces: bbox, datetime, sortby.

>>> parse_bbox("-5,47,-1,49")
(-5.0, 47.0, -1.0, 49.0)
>>> parse_datetime("2018-01-01/..")
('2018-01-01', None)
>>> parse_sortby("-modified,title")
[('modified', False), ('title', True)]
"""

from __future__ import annotations

from kartenn import crs
from kartenn.errors import InvalidInput
from kartenn.services.record_search import SORTABLE

SORT_ALIASES = {"relevance": "relevance", "date": "modified", "recordupdated": "modified"}


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    box, _ = crs.parse_bbox(value)
    if box[0] > box[2] or box[1] > box[3]:
        raise InvalidInput(f"bbox {value!r}: expected minx,miny,maxx,maxy", locator="bbox")
    return box


def parse_datetime(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    if "/" in value:
        start, end = value.split("/", 1)
        return (None if start in ("", "..") else start), (None if end in ("", "..") else end)
    return value, value


def parse_sortby(value: str | None) -> list[tuple[str, bool]]:
    out = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        ascending = not part.startswith("-")
        name = part.lstrip("+-").lower()
        name = SORT_ALIASES.get(name, name)
        if name != "relevance" and name not in SORTABLE:
            raise InvalidInput(f"cannot sort by {name!r}", locator="sortby")
        out.append((name, ascending))
    return out
