"""A record as a schema.org Dataset (JSON-LD), what search engines read in a dataset page.

>>> doc = schema_org(rec, dataset, "https://geo.example.org")        # doctest: +SKIP
>>> doc["@type"], doc["spatialCoverage"]["geo"]["box"]                # doctest: +SKIP
('Dataset', '47.0 -5.0 49.0 -1.0')
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kartenn.domain import Dataset, Record
from kartenn.formats.exportable import exportable
from kartenn.formats.ogc_record import language_code, licence
from kartenn.formats.online_resources import dataset_links


def _organisation(name: str, email: str | None = None, url: str | None = None) -> dict[str, Any]:
    org: dict[str, Any] = {"@type": "Organization", "name": name}
    if email:
        org["email"] = email
    if url:
        org["url"] = url
    return org


def schema_org(record: Record, dataset: Dataset | None, base_url: str) -> dict[str, Any]:
    """The schema.org Dataset of ``record``; the downloads and services of ``dataset`` (when the record has
    data here) become its distributions, with absolute URLs under ``base_url``."""
    record = exportable(record).record
    base = base_url.rstrip("/")
    page = f"{base}/ogc/collections/catalog/items/{quote(record.id, safe='')}"
    doc: dict[str, Any] = {"@context": "https://schema.org/", "@type": "Dataset", "@id": page,
                           "name": record.title or record.id, "identifier": record.id,
                           "url": f"{page}?f=html",
                           "description": record.abstract or record.title or record.id}
    keywords = record.keywords + [t for t in record.themes if t not in record.keywords]
    if keywords:
        doc["keywords"] = keywords
    lang = language_code(record.language)
    if lang:
        doc["inLanguage"] = lang
    if record.extent_wgs84:
        w, s, e, n = record.extent_wgs84
        # schema.org boxes are "south west north east", latitude first
        doc["spatialCoverage"] = {"@type": "Place", "geo": {"@type": "GeoShape", "box": f"{s} {w} {n} {e}"}}
    if record.time_begin or record.time_end:
        doc["temporalCoverage"] = f"{record.time_begin or '..'}/{record.time_end or '..'}"
    published = record.dates.get("publication") or record.dates.get("creation")
    if published:
        doc["datePublished"] = published
    modified = record.dates.get("revision") or record.modified
    if modified:
        doc["dateModified"] = modified
    creators = [c for c in record.contacts if c.get("scope") == "resource" and c.get("organisation")]
    if creators:
        doc["creator"] = [_organisation(c["organisation"], c.get("email"), c.get("url")) for c in creators]
    publisher = next((c for c in creators if c.get("role") in ("publisher", "distributor")), None)
    publisher = publisher or next((c for c in record.contacts if c.get("organisation") == record.organisation), None)
    if publisher or record.organisation:
        doc["publisher"] = _organisation(publisher["organisation"], publisher.get("email"), publisher.get("url")) \
            if publisher else _organisation(record.organisation or "")
    found = licence(record)
    if found:
        doc["license"] = found
    elif record.constraints:
        doc["conditionsOfAccess"] = "; ".join(record.constraints)
    links = dataset_links(dataset, base) if dataset is not None else record.links
    distribution = []
    for link in links:
        if not link.get("url") or "DOWNLOAD" not in str(link.get("protocol") or "").upper():
            continue
        item = {"@type": "DataDownload", "contentUrl": link["url"]}
        if link.get("type"):
            item["encodingFormat"] = link["type"]
        if link.get("format") or link.get("name"):
            item["name"] = link.get("format") or link.get("name")
        distribution.append(item)
    if distribution:
        doc["distribution"] = distribution
    return doc
