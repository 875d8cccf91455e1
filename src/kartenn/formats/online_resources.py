"""Online resources of a published dataset: its OGC API, WMS layer, WFS type or WCS coverage and downloads, as
record links.

>>> [link["protocol"] for link in dataset_links(dataset, "https://geo.example.org")]  # doctest: +SKIP
['OGC:API-Features', 'OGC:WMS', 'OGC:WFS', 'WWW:DOWNLOAD-1.0-http--download', …]
"""

from __future__ import annotations

from typing import Any

from kartenn.domain import Dataset
from kartenn.formats.gml import PREFIX, xml_name
from kartenn.formats.output import DOWNLOADS as FORMATS

API_FEATURES = "OGC:API-Features"
API_TILES = "OGC:API-Tiles"
WMS = "OGC:WMS"
WFS = "OGC:WFS"
WCS = "OGC:WCS"
DOWNLOAD = "WWW:DOWNLOAD-1.0-http--download"
# f= of /download → (media type, format name for dct:format and gmd:distributionFormat)
DOWNLOADS = {n: (FORMATS[n].media_type.split(";")[0], FORMATS[n].label)
             for n in ("gpkg", "geojson", "shp", "csv", "fgb")}


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
    if dataset.kind == "raster" and dataset.srid:  # a coverage (web/ows/wcs_capabilities.served)
        links.append({"url": f"{base}/wcs", "protocol": WCS, "name": dataset.id, "type": "application/xml",
                      "description": f"{title} (WCS)", "function": "download", "service": True})
    if dataset.kind == "vector":
        links.append({"url": f"{base}/wfs", "protocol": WFS, "name": f"{PREFIX}:{xml_name(dataset.id)}",
                      "type": "text/xml", "description": f"{title} (WFS)", "function": "download", "service": True})
        for fmt, (media, label) in DOWNLOADS.items():
            links.append({"url": f"{collection}/download?f={fmt}", "protocol": DOWNLOAD, "name": f"{dataset.id}.{fmt}",
                          "type": media, "format": label, "description": f"{title} ({label})",
                          "function": "download", "service": False})
    return links
