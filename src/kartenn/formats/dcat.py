"""Records as DCAT-AP 2 / GeoDCAT-AP: an rdflib graph, written as RDF/XML or JSON-LD.

What data.gouv.fr and data.europa.eu harvest: a ``dcat:Catalog`` of ``dcat:Dataset`` entries with title,
description, identifier, dates, language, publisher, spatial coverage (WKT, GeoJSON and bbox, as
GeoDCAT-AP writes ``locn:geometry``), temporal coverage, keywords, INSPIRE themes, contact point and
one distribution per service or download. Large catalogues are paged with Hydra, as the European data
portal's harvester follows it.

>>> graph = dcat_graph([rec], "https://geo.example.org")            # doctest: +SKIP
>>> graph.serialize(format="pretty-xml")[:40]                        # doctest: +SKIP
'<?xml version="1.0" encoding="utf-8"?>\\n<rdf:RDF'
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

import orjson
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from kartenn.domain import Record
from kartenn.formats.exportable import each_record, exportable
from kartenn.formats.ogc_record import geometry, language_code, licence

LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
IANA = "https://www.iana.org/assignments/media-types/"
INSPIRE_THEME = "http://inspire.ec.europa.eu/theme/"
INSPIRE_THEMES = "http://inspire.ec.europa.eu/theme"
PREFIXES = {"dcat": DCAT, "dct": DCTERMS, "foaf": FOAF, "locn": LOCN, "gsp": GSP, "vcard": VCARD, "skos": SKOS,
            "hydra": HYDRA, "adms": ADMS, "rdfs": RDFS, "xsd": XSD}
# ISO 639-1 → the EU language authority's codes
EU_LANGUAGES = {"fr": "FRA", "en": "ENG", "de": "DEU", "nl": "NLD", "es": "SPA", "it": "ITA", "pt": "POR",
                "br": "BRE"}
# OGC protocols of online resources → the standard the service conforms to
STANDARDS = {"OGC:WMS": "http://www.opengis.net/def/serviceType/ogc/wms",
             "OGC:WFS": "http://www.opengis.net/def/serviceType/ogc/wfs",
             "OGC:API-Features": "http://www.opengis.net/doc/IS/ogcapi-features-1/1.0",
             "OGC:API-Tiles": "http://www.opengis.net/doc/IS/ogcapi-tiles-1/1.0"}
FILE_TYPES = {"GeoPackage": "GPKG", "GeoJSON": "GEOJSON", "ESRI Shapefile": "SHP", "CSV": "CSV"}
# The 34 INSPIRE themes: code, English and French names (as records write them in their keywords).
THEMES = [
    ("ad", "Addresses", "Adresses"), ("au", "Administrative units", "Unités administratives"),
    ("rs", "Coordinate reference systems", "Référentiels de coordonnées"),
    ("gg", "Geographical grid systems", "Systèmes de maillage géographique"),
    ("cp", "Cadastral parcels", "Parcelles cadastrales"), ("gn", "Geographical names", "Dénominations géographiques"),
    ("hy", "Hydrography", "Hydrographie"), ("ps", "Protected sites", "Sites protégés"),
    ("tn", "Transport networks", "Réseaux de transport"), ("el", "Elevation", "Altitude"),
    ("ge", "Geology", "Géologie"), ("lc", "Land cover", "Occupation des terres"),
    ("oi", "Orthoimagery", "Ortho-imagerie"),
    ("af", "Agricultural and aquaculture facilities", "Installations agricoles et aquacoles"),
    ("am", "Area management/restriction/regulation zones and reporting units",
     "Zones de gestion, de restriction ou de réglementation et unités de déclaration"),
    ("ac", "Atmospheric conditions", "Conditions atmosphériques"),
    ("br", "Bio-geographical regions", "Régions biogéographiques"), ("bu", "Buildings", "Bâtiments"),
    ("er", "Energy resources", "Sources d'énergie"),
    ("ef", "Environmental monitoring facilities", "Installations de suivi environnemental"),
    ("hb", "Habitats and biotopes", "Habitats et biotopes"),
    ("hh", "Human health and safety", "Santé et sécurité des personnes"), ("lu", "Land use", "Usage des sols"),
    ("mr", "Mineral resources", "Ressources minérales"), ("nz", "Natural risk zones", "Zones à risque naturel"),
    ("of", "Oceanographic geographical features", "Caractéristiques géographiques océanographiques"),
    ("pd", "Population distribution — demography", "Répartition de la population — démographie"),
    ("pf", "Production and industrial facilities", "Lieux de production et sites industriels"),
    ("sr", "Sea regions", "Régions maritimes"), ("so", "Soil", "Sols"),
    ("sd", "Species distribution", "Répartition des espèces"), ("su", "Statistical units", "Unités statistiques"),
    ("us", "Utility and governmental services", "Services d'utilité publique et services publics"),
    ("mf", "Meteorological geographical features", "Caractéristiques géographiques météorologiques"),
]


def _key(label: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]", "", ascii_text)


THEME_CODES = {_key(label): code for code, en, fr in THEMES for label in (en, fr)}


def inspire_theme(label: str) -> str | None:
    """``"Parcelles cadastrales"`` → ``http://inspire.ec.europa.eu/theme/cp`` (None if not an INSPIRE theme)."""
    code = THEME_CODES.get(_key(label))
    return INSPIRE_THEME + code if code else None


def dataset_uri(rec: Record, base: str) -> URIRef:
    return URIRef(f"{base}/ogc/collections/catalog/items/{quote(rec.id, safe='')}")


def new_graph() -> Graph:
    graph = Graph()
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns)
    return graph


def _date(value: str) -> Literal:
    kind = XSD.dateTime if "T" in value else {4: XSD.gYear, 7: XSD.gYearMonth}.get(len(value), XSD.date)
    return Literal(value, datatype=kind)


def _wkt(rec: Record) -> str:
    w, s, e, n = rec.extent_wgs84  # type: ignore[misc]
    return f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"


def add_dataset(graph: Graph, rec: Record, base: str) -> URIRef:
    """The record as a dcat:Dataset of ``graph`` (its links as distributions); returns its URI."""
    rec = exportable(rec).record
    ds = dataset_uri(rec, base)
    lang = language_code(rec.language)
    graph.add((ds, RDF.type, DCAT.Dataset))
    graph.add((ds, DCTERMS.identifier, Literal(rec.id)))
    graph.add((ds, DCTERMS.title, Literal(rec.title or rec.id, lang=lang)))
    # dct:description is mandatory in DCAT-AP: the title stands in for a missing abstract
    graph.add((ds, DCTERMS.description, Literal(rec.abstract or rec.title or rec.id, lang=lang)))
    if rec.type and rec.type != "dataset":
        graph.add((ds, DCTERMS.type, Literal(rec.type)))
    graph.add((ds, DCAT.landingPage, URIRef(f"{ds}?f=html")))
    issued = rec.dates.get("publication") or rec.dates.get("creation")
    if issued:
        graph.add((ds, DCTERMS.issued, _date(issued)))
    modified = rec.dates.get("revision") or rec.modified
    if modified:
        graph.add((ds, DCTERMS.modified, _date(modified)))
    if lang and lang.split("-")[0] in EU_LANGUAGES:
        graph.add((ds, DCTERMS.language, URIRef(EU_LANGUAGE + EU_LANGUAGES[lang.split("-")[0]])))
    for keyword in rec.keywords:
        graph.add((ds, DCAT.keyword, Literal(keyword, lang=lang)))
    for label in rec.themes:
        theme = inspire_theme(label)
        if theme:
            graph.add((ds, DCAT.theme, URIRef(theme)))
            graph.add((URIRef(theme), SKOS.inScheme, URIRef(INSPIRE_THEMES)))
    if rec.organisation:
        publisher = BNode()
        graph.add((ds, DCTERMS.publisher, publisher))
        graph.add((publisher, RDF.type, FOAF.Agent))
        graph.add((publisher, FOAF.name, Literal(rec.organisation)))
        named = next((c for c in rec.contacts if c.get("organisation") == rec.organisation), {})
        if named.get("email"):
            graph.add((publisher, FOAF.mbox, URIRef(f"mailto:{named['email']}")))
        if named.get("url"):
            graph.add((publisher, FOAF.homepage, URIRef(named["url"])))
    for contact in rec.contacts:
        if contact.get("scope") != "resource" or not (contact.get("organisation") or contact.get("individual")):
            continue
        point = BNode()
        graph.add((ds, DCAT.contactPoint, point))
        graph.add((point, RDF.type, VCARD.Organization if contact.get("organisation") else VCARD.Individual))
        graph.add((point, VCARD.fn, Literal(contact.get("organisation") or contact.get("individual"))))
        if contact.get("email"):
            graph.add((point, VCARD.hasEmail, URIRef(f"mailto:{contact['email']}")))
        if contact.get("url"):
            graph.add((point, VCARD.hasURL, URIRef(contact["url"])))
    if rec.extent_wgs84:
        place = BNode()
        graph.add((ds, DCTERMS.spatial, place))
        graph.add((place, RDF.type, DCTERMS.Location))
        graph.add((place, LOCN.geometry, Literal(_wkt(rec), datatype=GSP.wktLiteral)))
        graph.add((place, LOCN.geometry, Literal(orjson.dumps(geometry(rec)).decode(), datatype=GSP.geoJSONLiteral)))
        graph.add((place, DCAT.bbox, Literal(_wkt(rec), datatype=GSP.wktLiteral)))
    if rec.time_begin or rec.time_end:
        period = BNode()
        graph.add((ds, DCTERMS.temporal, period))
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if rec.time_begin:
            graph.add((period, DCAT.startDate, _date(rec.time_begin)))
        if rec.time_end:
            graph.add((period, DCAT.endDate, _date(rec.time_end)))
    found = licence(rec)
    for text in rec.constraints:
        node = BNode()
        if text == found:
            graph.add((ds, DCTERMS.license, node))
            graph.add((node, RDF.type, DCTERMS.LicenseDocument))
        else:
            graph.add((ds, DCTERMS.accessRights, node))
            graph.add((node, RDF.type, DCTERMS.RightsStatement))
        graph.add((node, RDFS.label, Literal(text)))
    for link in rec.links:
        if link.get("url"):
            _distribution(graph, ds, link)
    return ds


def _distribution(graph: Graph, ds: URIRef, link: dict[str, Any]) -> None:
    dist = BNode()
    url = URIRef(link["url"])
    protocol = str(link.get("protocol") or "")
    graph.add((ds, DCAT.distribution, dist))
    graph.add((dist, RDF.type, DCAT.Distribution))
    graph.add((dist, DCAT.accessURL, url))
    title = link.get("description") or link.get("name")
    if title:
        graph.add((dist, DCTERMS.title, Literal(title)))
    if "DOWNLOAD" in protocol.upper():
        graph.add((dist, DCAT.downloadURL, url))
    fmt = link.get("format") or protocol
    if fmt in FILE_TYPES:
        graph.add((dist, DCTERMS.format, URIRef(EU_FILE_TYPE + FILE_TYPES[fmt])))
    elif fmt:
        graph.add((dist, DCTERMS.format, Literal(fmt)))
    if link.get("type"):
        graph.add((dist, DCAT.mediaType, URIRef(IANA + str(link["type"]))))
    if protocol in STANDARDS:
        service = BNode()
        graph.add((dist, DCAT.accessService, service))
        graph.add((service, RDF.type, DCAT.DataService))
        graph.add((service, DCAT.endpointURL, url))
        graph.add((service, DCTERMS.conformsTo, URIRef(STANDARDS[protocol])))
        graph.add((service, DCAT.servesDataset, ds))
        if link.get("name"):
            graph.add((service, DCTERMS.title, Literal(f"{link['name']} ({protocol})")))


def dcat_graph(records: list[Record], base: str, *, title: str | None = None, page: dict[str, Any] | None = None
               ) -> Graph:
    """A graph of ``records``; with ``title``, inside a dcat:Catalog (and ``page``: Hydra paging,
    with keys ``self``, ``first``, ``next``, ``prev``, ``last`` URLs and ``total``)."""
    graph = new_graph()

    def add(rec: Record) -> URIRef:  # a record whose export fails adds nothing
        part = Graph()
        ds = add_dataset(part, rec, base)
        for triple in part:
            graph.add(triple)
        return ds

    datasets = each_record(records, add)
    if title is None:
        return graph
    catalog = URIRef(f"{base}/api/v1/catalog/dcat.rdf")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(title)))
    graph.add((catalog, DCTERMS.description, Literal(f"{title}: the catalogue of its datasets and services")))
    graph.add((catalog, FOAF.homepage, URIRef(f"{base}/")))
    publisher = BNode()
    graph.add((catalog, DCTERMS.publisher, publisher))
    graph.add((publisher, RDF.type, FOAF.Agent))
    graph.add((publisher, FOAF.name, Literal(title)))
    for ds in datasets:
        graph.add((catalog, DCAT.dataset, ds))
    if page:
        node = URIRef(page["self"])
        graph.add((node, RDF.type, HYDRA.PagedCollection))
        graph.add((node, HYDRA.totalItems, Literal(page["total"], datatype=XSD.integer)))
        graph.add((node, HYDRA.itemsPerPage, Literal(page["limit"], datatype=XSD.integer)))
        for key, prop in (("first", HYDRA.firstPage), ("next", HYDRA.nextPage), ("prev", HYDRA.previousPage),
                          ("last", HYDRA.lastPage)):
            if page.get(key):
                graph.add((node, prop, Literal(page[key])))
    return graph


def to_rdf_xml(graph: Graph) -> bytes:
    return graph.serialize(format="pretty-xml", encoding="utf-8")


def to_json_ld(graph: Graph) -> bytes:
    context = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
    return graph.serialize(format="json-ld", context=context, encoding="utf-8")
