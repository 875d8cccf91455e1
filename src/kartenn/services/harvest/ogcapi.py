"""OGC API – Records sources: a collection's items (GeoJSON), paged by their ``next`` links.

The URL is the collection (``…/collections/catalog``) or its items. Each item becomes a record of its properties
(title, description, keywords and themes, type, language, updated time, extent, resource links); a JSON record
has no XML original, so its fields are what tells it changed.

>>> len(read(fetcher, "https://example.org/ogc/collections/catalog", None, 10_000).records)   # doctest: +SKIP
120
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urljoin

import orjson

from kartenn.domain import Record
from kartenn.services.harvest.fetch import Fetcher, SourceError
from kartenn.services.harvest.listing import Listing

PAGE = 100  # items asked per page; a source may give fewer and page on
MAX_PAGES = 100_000
SKIPPED_LINKS = {"self", "alternate", "collection", "next", "prev", "previous", "root", "up"}


def read(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    base = url.split("?")[0].rstrip("/")
    page_url = f"{base if base.endswith('/items') else base + '/items'}?f=json&limit={PAGE}"
    if query:
        page_url += "&" + urlencode({"filter": query, "filter-lang": "cql2-text"})
    listing = Listing(max_records=max_records)
    seen: set[str] = set()
    matched = None
    for _ in range(MAX_PAGES):
        page = _json(fetch.get(page_url, accept="application/geo+json, application/json"), page_url)
        features = page.get("features") if isinstance(page, dict) else None
        if not isinstance(features, list):
            raise SourceError(f"{base} is not an OGC API Records collection: its items hold no features")
        if matched is None and isinstance(page.get("numberMatched"), int):
            matched = page["numberMatched"]
            if matched > max_records:
                raise SourceError(f"{base} has {matched} records, over the {max_records} allowed "
                                  "(harvest_max_records)")
        for feature in features:
            rec = _record(feature)
            if rec is None:
                listing.failures.append(f"an item without an id at {page_url}")
            else:
                listing.append(rec, rec.modified)
        following = next((link.get("href") for link in page.get("links") or []
                          if isinstance(link, dict) and link.get("rel") == "next" and link.get("href")), None)
        if not following or not features:
            break
        following = urljoin(page_url, str(following))
        if following in seen:
            raise SourceError(f"{base}: the items page the same page twice")
        seen.add(following)
        page_url = following
    if matched is not None and listing.read < matched:
        raise SourceError(f"{base} announced {matched} records but listed {listing.read}: the listing is incomplete")
    return listing


def _json(data: bytes, url: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SourceError(f"{url.split('?')[0]} did not answer JSON") from None


def _texts(values: Any) -> list[str]:
    return [v.strip() for v in values if isinstance(v, str) and v.strip()] if isinstance(values, list) else []


def _record(feature: Any) -> Record | None:
    if not isinstance(feature, dict) or not isinstance(feature.get("id"), str | int) or not str(feature["id"]):
        return None
    props: dict[str, Any] = feature["properties"] if isinstance(feature.get("properties"), dict) else {}
    keywords = _texts(props.get("keywords"))
    for theme in props.get("themes") or []:
        if isinstance(theme, dict):
            keywords += _texts([c.get("id") for c in theme.get("concepts") or [] if isinstance(c, dict)])
    language = props.get("language")
    links = [{"url": str(link["href"]), "protocol": str(link.get("type") or ""), "name": str(link.get("title") or ""),
              "description": str(link.get("rel") or "")}
             for link in feature.get("links") or []
             if isinstance(link, dict) and link.get("href") and link.get("rel") not in SKIPPED_LINKS]
    return Record(
        id=str(feature["id"]), title=str(props.get("title") or feature["id"]),
        abstract=str(props.get("description") or ""), type=str(props.get("type") or "dataset"),
        keywords=list(dict.fromkeys(keywords)),
        language=str(language.get("code")) if isinstance(language, dict) and language.get("code") else "",
        modified=str(props["updated"]) if props.get("updated") else None, extent_wgs84=_bounds(feature.get("geometry")),
        links=links, formats=[str(f.get("name")) for f in props.get("formats") or []
                              if isinstance(f, dict) and f.get("name")])


def _bounds(geometry: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(geometry, dict):
        return None
    from shapely.geometry import shape

    try:
        box = shape(geometry).bounds
    except (ValueError, TypeError, AttributeError, KeyError, IndexError):
        return None
    return tuple(float(v) for v in box) if len(box) == 4 and all(v == v for v in box) else None  # type: ignore[return-value]
