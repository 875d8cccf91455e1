"""DCAT-AP sources: a catalogue in RDF/XML, Turtle or JSON-LD (read by rdflib), paged by Hydra links.

Each dcat:Dataset (and dcat:DataService a catalogue lists) becomes a record: identifier (dct:identifier, else
its URI), title, description, keywords, themes, modified date, extent (dcat:bbox or locn:geometry, WKT or
GeoJSON) and its distributions' addresses as links. RDF/XML is checked by the safe parser first; JSON-LD may
not name a remote @context (rdflib would fetch it).

>>> len(read(fetcher, "https://example.org/api/v1/catalog/dcat.rdf", None, 10_000).records)   # doctest: +SKIP
120
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import orjson
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from kartenn.domain import Record
from kartenn.errors import InvalidInput
from kartenn.services.harvest.fetch import Fetcher, SourceError
from kartenn.services.harvest.listing import Listing
from kartenn.xml import parse_xml

HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
ACCEPT = "application/rdf+xml, text/turtle;q=0.9, application/ld+json;q=0.8"
MAX_PAGES = 10_000


def read(fetch: Fetcher, url: str, query: str | None, max_records: int) -> Listing:
    listing = Listing(max_records=max_records)
    page_url, seen, total = url, {url}, None
    for _ in range(MAX_PAGES):
        graph = _graph(fetch.get(page_url, accept=ACCEPT), page_url)
        # datasets, and the services the catalogue lists (not those only named as a distribution's access service)
        services = [s for s in graph.objects(None, DCAT.service) if (s, RDF.type, DCAT.DataService) in graph]
        nodes = list(dict.fromkeys([*graph.subjects(RDF.type, DCAT.Dataset), *services]))
        if not nodes and not list(graph.subjects(RDF.type, DCAT.Catalog)):
            raise SourceError(f"{url.split('?')[0]} is not a DCAT catalogue: it describes no dcat:Catalog or "
                              "dcat:Dataset")
        for node in nodes:
            listing.append(_record(graph, node))
        paging = {str(p): o for p, o in graph.predicate_objects(URIRef(page_url))}
        for view in graph.subjects(RDF.type, HYDRA.PagedCollection):
            paging.update({str(p): o for p, o in graph.predicate_objects(view)})
        for view in graph.subjects(RDF.type, HYDRA.PartialCollectionView):
            paging.update({str(p): o for p, o in graph.predicate_objects(view)})
        if total is None and str(HYDRA.totalItems) in paging:
            total = int(str(paging[str(HYDRA.totalItems)]))
        link = paging.get(str(HYDRA.nextPage)) or paging.get(str(HYDRA.next))
        if link is None or not nodes:
            break
        following = urljoin(page_url, str(link))
        if following in seen:
            raise SourceError(f"{url.split('?')[0]}: the Hydra pages come back to a page already read")
        seen.add(following)
        page_url = following
    if total is not None and listing.read < total:
        raise SourceError(f"{url.split('?')[0]} announced {total} datasets but listed {listing.read}: the listing is "
                          "incomplete")
    return listing


def _graph(data: bytes, url: str) -> Graph:
    text = data.lstrip()
    graph = Graph()
    try:
        if text.startswith(b"<"):
            parse_xml(data)  # entities, DTDs and malformed documents refused before rdflib reads it
            graph.parse(data=data, format="xml", publicID=url)
        elif text.startswith((b"{", b"[")):
            _local_contexts(orjson.loads(data))
            graph.parse(data=data, format="json-ld", publicID=url)
        else:
            graph.parse(data=data, format="turtle", publicID=url)
    except InvalidInput as exc:
        raise SourceError(f"{url.split('?')[0]} did not answer RDF: {exc.message}") from None
    except Exception as exc:  # rdflib's parsers raise what their libraries raise
        raise SourceError(f"{url.split('?')[0]} did not answer RDF (RDF/XML, Turtle or JSON-LD): "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") from None
    return graph


def _local_contexts(value: Any) -> None:
    """InvalidInput when the JSON-LD names a context by address: rdflib would fetch it."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "@context":
                contexts = item if isinstance(item, list) else [item]
                if any(isinstance(c, str) for c in contexts):
                    raise InvalidInput("JSON-LD with a remote @context is not read (its context would be fetched)")
            _local_contexts(item)
    elif isinstance(value, list):
        for item in value:
            _local_contexts(item)


def _text(graph: Graph, node: Any, prop: URIRef, languages: tuple[str, ...] = ("fr", "en", "")) -> str:
    values = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
    for lang in languages:
        for value in values:
            if (value.language or "") == lang:
                return str(value).strip()
    return str(values[0]).strip() if values else ""


def _record(graph: Graph, node: Any) -> Record:
    identifier = _text(graph, node, DCTERMS.identifier) or str(node)
    keywords = [str(o).strip() for o in graph.objects(node, DCAT.keyword) if str(o).strip()]
    themes = [str(o) for o in graph.objects(node, DCAT.theme)]
    links = []
    for dist in graph.objects(node, DCAT.distribution):
        for prop in (DCAT.downloadURL, DCAT.accessURL):
            for href in graph.objects(dist, prop):
                links.append({"url": str(href), "protocol": _text(graph, dist, DCTERMS["format"]) or "WWW:LINK",
                              "name": _text(graph, dist, DCTERMS.title), "description": ""})
    for href in graph.objects(node, DCAT.endpointURL):
        links.append({"url": str(href), "protocol": "WWW:LINK", "name": "", "description": "endpoint"})
    modified = _text(graph, node, DCTERMS.modified) or None
    return Record(id=identifier[:255], title=_text(graph, node, DCTERMS.title) or identifier,
                  abstract=_text(graph, node, DCTERMS.description),
                  type="service" if (node, RDF.type, DCAT.DataService) in graph else "dataset",
                  keywords=list(dict.fromkeys(keywords)), themes=themes, modified=modified,
                  extent_wgs84=_extent(graph, node), links=links)


def _extent(graph: Graph, node: Any) -> tuple[float, float, float, float] | None:
    from shapely import wkt
    from shapely.geometry import shape

    for place in graph.objects(node, DCTERMS.spatial):
        for prop in (DCAT.bbox, LOCN.geometry):
            for value in graph.objects(place, prop):
                text = str(value).strip()
                try:
                    geom = shape(orjson.loads(text)) if text.startswith("{") else wkt.loads(text.split(">")[-1])
                except Exception:  # noqa: S112 - a geometry not read is an extent not known
                    continue
                if not geom.is_empty:
                    return tuple(float(v) for v in geom.bounds)  # type: ignore[return-value]
    return None
