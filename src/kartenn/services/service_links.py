"""The services of a published dataset as the online resources of its record.

Links are made when a record is read, from the dataset as it is then: a replaced, renamed or deleted
dataset can never leave a record pointing at services that moved or are gone, and nothing needs
rewriting when the public base URL changes.

>>> [link["protocol"] for link in dataset_links(dataset, "https://geo.example.org")]  # doctest: +SKIP
['OGC:API-Features', 'OGC:WMS', 'OGC:WFS', 'WWW:DOWNLOAD-1.0-http--download', …]
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kartenn.domain import Dataset, Record
from kartenn.errors import NotFound
from kartenn.formats.gml import PREFIX, xml_name

API_FEATURES = "OGC:API-Features"
API_TILES = "OGC:API-Tiles"
WMS = "OGC:WMS"
WFS = "OGC:WFS"
DOWNLOAD = "WWW:DOWNLOAD-1.0-http--download"
# f= of /download → (media type, format name for dct:format and gmd:distributionFormat)
DOWNLOADS = {"gpkg": ("application/geopackage+sqlite3", "GeoPackage"),
             "geojson": ("application/geo+json", "GeoJSON"),
             "shp": ("application/zip", "ESRI Shapefile"),
             "csv": ("text/csv", "CSV"),
             "fgb": ("application/flatgeobuf", "FlatGeobuf")}


def dataset_links(dataset: Dataset, base: str) -> list[dict[str, Any]]:
    """The online resources of a dataset: OGC API, WMS layer, WFS type and downloads, absolute URLs.

    Each link has ``url``, ``protocol``, ``name`` (the layer or type name for OWS), ``description``,
    ``type`` (media type), ``function`` (ISO CI_OnLineFunctionCode) and ``format`` for downloads.
    """
    collection = f"{base}/ogc/collections/{dataset.id}"
    title = dataset.title
    links: list[dict[str, Any]] = []
    if dataset.kind == "vector":
        links.append({"url": collection, "protocol": API_FEATURES, "name": dataset.id, "type": "application/json",
                      "description": f"{title} (OGC API Features)", "function": "information", "service": True})
    else:
        links.append({"url": f"{collection}/tiles", "protocol": API_TILES, "name": dataset.id,
                      "type": "application/json", "description": f"{title} (OGC API Tiles)",
                      "function": "information", "service": True})
    links.append({"url": f"{base}/wms", "protocol": WMS, "name": dataset.id, "type": "text/xml",
                  "description": f"{title} (WMS)", "function": "browsing", "service": True})
    if dataset.kind == "vector":
        links.append({"url": f"{base}/wfs", "protocol": WFS, "name": f"{PREFIX}:{xml_name(dataset.id)}",
                      "type": "text/xml", "description": f"{title} (WFS)", "function": "download", "service": True})
        for fmt, (media, label) in DOWNLOADS.items():
            links.append({"url": f"{collection}/download?f={fmt}", "protocol": DOWNLOAD, "name": f"{dataset.id}.{fmt}",
                          "type": media, "format": label, "description": f"{title} ({label})",
                          "function": "download", "service": False})
    return links


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
    return replace(rec, links=own + dataset_links(dataset, base))


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
