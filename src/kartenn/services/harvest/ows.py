"""WMS, WFS and WMTS sources: one service record and one record per layer (feature type), from the capabilities.

The capabilities are fetched here (fetch.py's rules), checked by the safe parser, then read by OWSLib from those
bytes (``xml=``: it opens no connection; remote metadata is not followed).

>>> [r.title for r in reader("wms")(fetcher, "https://example.org/wms", None, 1000).records]   # doctest: +SKIP
['Example WMS', 'Roads', 'Rivers']
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from kartenn.domain import Record
from kartenn.errors import InvalidInput
from kartenn.services.harvest.fetch import Fetcher, SourceError
from kartenn.services.harvest.listing import Listing
from kartenn.xml import parse_xml

VERSIONS = {"wms": "1.3.0", "wfs": "2.0.0", "wmts": "1.0.0"}
PROTOCOLS = {"wms": "OGC:WMS", "wfs": "OGC:WFS", "wmts": "OGC:WMTS"}


def reader(kind: str) -> Callable[[Fetcher, str, str | None, int], Listing]:
    def read(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
        base = url.split("?")[0]
        data = fetch.get(base, {"service": kind.upper(), "request": "GetCapabilities", "version": VERSIONS[kind]},
                         accept="application/xml")
        try:
            root = parse_xml(data)  # entities, DTDs and malformed documents are refused before OWSLib sees them
        except InvalidInput as exc:
            raise SourceError(f"{base} did not answer XML capabilities: {exc.message}") from None
        version = root.get("version") or VERSIONS[kind]  # a server answers the version it has (WMS 1.1.1, WFS 1.0.0)
        try:
            service = _service(kind, base, data, version)
        except Exception as exc:  # OWSLib raises anything on documents it does not expect
            raise SourceError(f"{base} did not answer {kind.upper()} capabilities: {exc}") from None
        listing = Listing(max_records=max_records)
        digest = hashlib.sha256(base.encode()).hexdigest()[:16]
        ident = service.identification
        provider = getattr(service, "provider", None)
        contacts = [{"organisation": provider.name, "role": "pointOfContact", "scope": "resource"}] \
            if provider is not None and getattr(provider, "name", None) else []
        layers = [(name, layer) for name, layer in service.contents.items() if name]
        listing.append(Record(
            id=f"{kind}-{digest}", title=ident.title or base, abstract=ident.abstract or "", type="service",
            schema="", keywords=[k for k in (ident.keywords or []) if isinstance(k, str)], contacts=contacts,
            links=[{"url": base, "protocol": PROTOCOLS[kind], "name": "", "description": ident.title or ""}]))
        for name, layer in layers:
            box = getattr(layer, "boundingBoxWGS84", None)
            listing.append(Record(
                id=f"{kind}-{digest}-{hashlib.sha256(name.encode()).hexdigest()[:16]}",
                title=getattr(layer, "title", None) or name, abstract=getattr(layer, "abstract", None) or "",
                type="dataset", schema="", keywords=[k for k in (getattr(layer, "keywords", None) or [])
                                                      if isinstance(k, str)],
                extent_wgs84=(float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box else None,
                contacts=contacts, parent_id=f"{kind}-{digest}",
                links=[{"url": base, "protocol": PROTOCOLS[kind], "name": name,
                        "description": getattr(layer, "title", None) or name}]))
        return listing

    return read


def _service(kind: str, url: str, data: bytes, version: str) -> Any:
    if kind == "wms":
        from owslib.wms import WebMapService

        return WebMapService(url, version=version, xml=data)
    if kind == "wfs":
        from owslib.wfs import WebFeatureService

        return WebFeatureService(url, version=version, xml=data)
    from owslib.wmts import WebMapTileService

    return WebMapTileService(url, version=version, xml=data)
