"""Query parameters of OGC API Features /items, read into an ``ItemQuery`` (Parts 1, 2 and 3).

>>> crs_uri(2154)
'http://www.opengis.net/def/crs/EPSG/0/2154'
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from pygeofilter import ast, values
from pyproj import CRS

from kartenn.crs import parse_bbox
from kartenn.domain import Dataset
from kartenn.errors import InvalidInput
from kartenn.filter_check import FilterLimits, check_json, check_size, check_tree
from kartenn.services.features import ItemQuery

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS84H = "http://www.opengis.net/def/crs/OGC/0/CRS84h"
EPSG_PREFIX = "http://www.opengis.net/def/crs/EPSG/0/"
OFFERED_EPSG = [4326, 3857, 2154, 4258, 3035]  # besides CRS84 and the native CRS
RESERVED = {"lang", "limit", "offset", "after", "bbox", "bbox-crs", "crs", "datetime", "f", "filter", "filter-lang",
            "filter-crs", "sortby", "properties", "skipGeometry"}


def crs_uri(epsg: int) -> str:
    return f"{EPSG_PREFIX}{epsg}"


def common_crs() -> list[str]:
    """The CRSs every collection offers."""
    return [CRS84, *(crs_uri(c) for c in OFFERED_EPSG)]


def crs_list(dataset: Dataset) -> list[str]:
    """The CRSs a collection's features can be asked in (OGC API Features Part 2)."""
    codes = [*OFFERED_EPSG, *([dataset.srid] if dataset.srid and dataset.srid not in OFFERED_EPSG else [])]
    return [CRS84, *(crs_uri(c) for c in codes)]


def storage_crs(dataset: Dataset) -> str | None:
    return crs_uri(dataset.srid) if dataset.srid else None


@lru_cache(maxsize=64)
def _crs(uri: str) -> CRS:
    if uri == CRS84:
        return CRS.from_user_input("OGC:CRS84")
    return CRS.from_epsg(int(uri.removeprefix(EPSG_PREFIX)))


def crs_header(value: str | None) -> str:
    """The ``Content-Crs`` header for a ``crs`` parameter already accepted by ``read_crs``."""
    return f"<{_uri(value) if value else CRS84}>"


def _uri(value: str) -> str:
    uri = value.strip()
    if uri.startswith("[") and uri.endswith("]"):  # safe CURIE, e.g. [EPSG:2154]
        authority, _, code = uri[1:-1].partition(":")
        uri = CRS84 if (authority, code) == ("OGC", "CRS84") else f"{EPSG_PREFIX}{code}"
    return uri


def read_crs(dataset: Dataset, value: str | None, name: str) -> CRS | None:
    """A CRS parameter (URI, or ``[EPSG:2154]`` safe CURIE) → pyproj CRS; None for CRS84."""
    if value is None:
        return None
    uri = _uri(value)
    if uri not in crs_list(dataset):
        raise InvalidInput(f"{name} {value!r} is not offered for this collection; use one of its 'crs' list",
                           locator=name)
    return None if uri == CRS84 else _crs(uri)


def read_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {value!r}", locator=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low} and {high}", locator=name)
    return number


def read_bbox(value: str | None, geographic: bool) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    (minx, miny, maxx, maxy), _ = parse_bbox(value)
    if miny > maxy:
        raise InvalidInput("bbox: the second value must not be above the fourth", locator="bbox")
    if geographic and not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise InvalidInput("bbox latitudes must be within -90..90, lower first", locator="bbox")
    return minx, miny, maxx, maxy


def typed(dataset: Dataset, name: str, value: str) -> Any:
    kind = next(f.type for f in dataset.fields if f.name == name)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return {"true": True, "false": False}[value.lower()]
    except (ValueError, KeyError):
        raise InvalidInput(f"{name} is a {kind} field: {value!r} is not one", locator=name) from None
    return value


def time_field(dataset: Dataset) -> str | None:
    """The property ``datetime`` filters on: the first date or date-time field."""
    return next((f.name for f in dataset.fields if f.type in ("date", "datetime")), None)


def read_datetime(dataset: Dataset, value: str | None) -> Any:
    """``datetime`` (an instant, or ``start/end`` with ``..`` for an open end) as a CQL2 AST node."""
    if value is None:
        return None
    name = time_field(dataset)
    if name is None:
        raise InvalidInput("this collection has no date or time property to filter on", locator="datetime")
    parts = value.split("/")
    if len(parts) > 2 or not all(parts):
        raise InvalidInput(f"datetime must be an instant or an interval start/end, not {value!r}",
                           locator="datetime")
    bounds = [None if p in ("..", "") else _instant(p) for p in parts]
    attribute = ast.Attribute(name)
    if len(bounds) == 1:
        return ast.Not(ast.TimeDisjoint(attribute, values.Interval(bounds[0], bounds[0])))
    if bounds[0] is None and bounds[1] is None:
        return None
    return ast.Not(ast.TimeDisjoint(attribute, values.Interval(bounds[0], bounds[1])))


def _instant(text: str) -> date | datetime:
    try:
        if "T" in text.upper():
            return datetime.fromisoformat(text.replace("z", "Z"))
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an RFC 3339 date or date-time", locator="datetime") from None


def read_sortby(dataset: Dataset, value: str | None) -> list[tuple[str, bool]]:
    """``sortby=-population,+nom`` → [("population", True), ("nom", False)]."""
    if not value:
        return []
    names = {f.name for f in dataset.fields}
    keys = []
    for part in value.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if " " in name:  # "nom DESC", as some clients write it
            name, _, direction = name.partition(" ")
            descending = direction.strip().upper() == "DESC"
        if name not in names:
            raise InvalidInput(f"cannot sort by {name!r}: not a property of this collection", locator="sortby")
        keys.append((name, descending))
    return keys


def read_properties(dataset: Dataset, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = {f.name for f in dataset.fields}
    for name in names:
        if name not in known:
            raise InvalidInput(f"unknown property {name!r}", locator="properties")
    return names


def read_bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false", locator=name)
    return value.lower() == "true"


def read_filter(params: Any, limits: FilterLimits | None = None) -> Any:
    """The ``filter`` parameter as a pygeofilter AST (CQL2 text or JSON) within ``limits``, or None."""
    text = params.get("filter")
    if text is None:
        return None
    limits = limits or FilterLimits()
    lang = params.get("filter-lang", "cql2-text")
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput(f"unknown filter-lang {lang!r}; use cql2-text or cql2-json", locator="filter-lang")
    check_size(text, limits)
    from kartenn.cql2 import parse_json, parse_text  # the grammar is built on first use

    try:
        if lang == "cql2-text":
            node = parse_text(text)
        else:
            document = orjson.loads(text)
            check_json(document, limits)
            node = parse_json(document)
    except InvalidInput:
        raise
    except Exception as exc:  # the parsers raise many kinds (lark, JSON, value errors)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInput(f"malformed {lang} filter: {first}", locator="filter") from None
    check_tree(node, limits)
    return node


def item_query(dataset: Dataset, params: Any, max_limit: int, *, default_limit: int = 10,
               no_limit: bool = False, limits: FilterLimits | None = None) -> ItemQuery:
    """Every /items parameter checked and typed; ``no_limit`` for downloads (no limit unless asked)."""
    names = {f.name for f in dataset.fields}
    unknown = [k for k in params if k not in RESERVED and k not in names]
    if unknown:
        raise InvalidInput(f"unknown parameter or property {unknown[0]!r}", locator=unknown[0])
    bbox_crs = read_crs(dataset, params.get("bbox-crs"), "bbox-crs")
    condition = read_filter(params, limits)
    when = read_datetime(dataset, params.get("datetime"))
    if when is not None:
        condition = when if condition is None else ast.And(condition, when)
    limit: int | None = read_int(params.get("limit"), "limit", default_limit, 1, max_limit)
    if no_limit and params.get("limit") is None:
        limit = None
    after = params.get("after")
    return ItemQuery(
        bbox=read_bbox(params.get("bbox"), geographic=bbox_crs is None or bbox_crs.is_geographic),
        bbox_crs=bbox_crs,
        equals={k: typed(dataset, k, v) for k, v in params.items() if k in names and k not in RESERVED},
        filter=condition,
        filter_crs=read_crs(dataset, params.get("filter-crs"), "filter-crs"),
        sortby=read_sortby(dataset, params.get("sortby")),
        properties=read_properties(dataset, params.get("properties")),
        skip_geometry=read_bool(params.get("skipGeometry"), "skipGeometry"),
        crs=read_crs(dataset, params.get("crs"), "crs"),
        offset=read_int(params.get("offset"), "offset", 0, 0, 2**62),
        limit=limit,
        after=read_int(after, "after", 0, 0, 2**62) if after is not None else None,
    )
