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

from kartenn.domain import Dataset, Record
from kartenn.errors import NotFound
from kartenn.formats.online_resources import dataset_links


def generated(link: dict[str, Any], base: str) -> bool:
    """True for a link this module makes (never stored: dropped if an old copy is found)."""
    return "service" in link and str(link.get("url", "")).startswith(base)


def with_service_links(site: Any, rec: Record, base: str) -> Record:
    """A copy of ``rec`` whose links end with its dataset's services; records without data are returned as is."""
    if not rec.dataset_id:
        return rec
    try:
        dataset = site.catalog.get_dataset(rec.dataset_id)
    except NotFound:  # the data went away: the record keeps only its own links
        return rec
    own = [link for link in rec.links if not generated(link, base)]
    links = dataset_links(dataset, base)
    formats = rec.formats or [link["format"] for link in links if link.get("format")]
    return replace(rec, links=own + links, formats=formats)


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
