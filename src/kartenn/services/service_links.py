"""The services of a published dataset as the online resources of its record.

Links are made when a record is read, from the dataset as it is then: a replaced, renamed or deleted
dataset can never leave a record pointing at services that moved or are gone, and nothing needs
rewriting when the public base URL changes.

>>> with_service_links(site, rec, "https://geo.example.org").links[-1]["protocol"]  # doctest: +SKIP
'WWW:DOWNLOAD-1.0-http--download'
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from kartenn.domain import Dataset, Record
from kartenn.errors import NotFound
from kartenn.formats.online_resources import dataset_links
from kartenn.stores import record_files


def generated(link: dict[str, Any], base: str) -> bool:
    """True for a link this module makes (never stored: dropped if an old copy is found)."""
    return "service" in link and str(link.get("url", "")).startswith(base)


def with_service_links(site: Any, rec: Record, base: str) -> Record:
    """A copy of ``rec`` whose links end with its dataset's services and its files (thumbnails, attachments);
    records with neither are returned as is."""
    files = file_links(site, rec, base)
    dataset = None
    if rec.dataset_id:
        try:
            dataset = site.catalog.get_dataset(rec.dataset_id)
        except NotFound:  # the data went away: the record keeps only its own links
            pass
    if dataset is None and not files:
        return rec
    own = [link for link in rec.links if not generated(link, base)]
    links = dataset_links(dataset, base) if dataset is not None else []
    formats = rec.formats or [link["format"] for link in links if link.get("format")]
    return replace(rec, links=own + links + files, formats=formats)


def file_links(site: Any, rec: Record, base: str) -> list[dict[str, Any]]:
    """The record's files (stores/record_files.py) as online resources: public images as thumbnails, other
    public files as documents, private ones as downloads."""
    with site.catalog.engine.connect() as conn:
        found = record_files.of(conn, rec.id)
    links = []
    for f in found:
        thumbnail = f.folder == "public" and f.media_type.startswith("image/")
        protocol = ("WWW:LINK-1.0-http--image-thumbnail" if thumbnail else "WWW:LINK-1.0-http--link"
                    if f.folder == "public" else "WWW:DOWNLOAD-1.0-http--download")
        links.append({"url": f"{base}/api/v1/records/{quote(rec.id, safe='')}/files/{quote(f.name, safe='')}",
                      "protocol": protocol, "name": f.name, "description": "Thumbnail" if thumbnail else f.name,
                      "type": f.media_type, "service": False})
    return links


def datasets_of(site: Any, records: list[Record]) -> dict[str, Dataset]:
    """The datasets behind ``records``, by id (one catalogue read per dataset)."""
    found: dict[str, Dataset] = {}
    for rec in records:
        if rec.dataset_id and rec.dataset_id not in found:
            try:
                found[rec.dataset_id] = site.catalog.get_dataset(rec.dataset_id)
            except NotFound:
                continue
    return found
