"""A Record as an OGC API – Records (Part 1) record: a GeoJSON Feature with the record's properties.

>>> feature = record_feature(rec, "https://geo.example.org")   # doctest: +SKIP
>>> feature["properties"]["title"], feature["geometry"]["type"]  # doctest: +SKIP
('Lacs', 'Polygon')
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from kartenn.domain import Record
from kartenn.formats.exportable import exportable

CONFORMS = ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"]
# ISO 639-2 (what ISO 19139 records say) → ISO 639-1 (what the Records schema asks)
LANGUAGES = {"fre": "fr", "fra": "fr", "eng": "en", "ger": "de", "deu": "de", "spa": "es", "ita": "it",
             "dut": "nl", "nld": "nl", "bre": "br", "por": "pt", "gre": "el", "ell": "el", "cze": "cs", "ces": "cs",
             "pol": "pl", "swe": "sv", "dan": "da", "fin": "fi", "hun": "hu", "rum": "ro", "ron": "ro",
             "slo": "sk", "slk": "sk", "slv": "sl", "bul": "bg", "hrv": "hr", "est": "et", "lav": "lv",
             "lit": "lt", "gle": "ga", "mlt": "mt", "nor": "no", "cat": "ca", "baq": "eu", "eus": "eu",
             "glg": "gl", "ltz": "lb", "oci": "oc", "cos": "co", "ice": "is", "isl": "is"}
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*")
TOPICS_SCHEME = "https://standards.iso.org/iso/19139/resources/gmxCodelists.xml#MD_TopicCategoryCode"
ENCODINGS = {  # export name → (media type, title)
    "iso19139": ("application/vnd.iso.19139+xml", "ISO 19139"),
    "iso19115-3": ("application/vnd.iso.19115-3+xml", "ISO 19115-3"),
    "dc": ("application/xml", "Dublin Core"),
    "dcat.jsonld": ("application/ld+json", "DCAT-AP (JSON-LD)"),
    "dcat.rdf": ("application/rdf+xml", "DCAT-AP (RDF/XML)"),
    "schemaorg.jsonld": ("application/ld+json", "schema.org"),
}
LICENCE_WORDS = ("licence", "license", "cc-by", "cc by", "odbl", "etalab", "creative commons")


def language_code(value: str | None) -> str | None:
    """A BCP 47 language tag: ``fre`` → ``fr``, ``eng; CAN`` → ``en``, ``fr_FR`` → ``fr-fr``; None for what
    is not a language code."""
    if not value:
        return None
    first = re.split(r"[;,/|\s]+", value.strip().lower().replace("_", "-"), maxsplit=1)[0]
    primary, _, rest = first.partition("-")
    first = LANGUAGES.get(primary, primary) + (f"-{rest}" if rest else "")
    return first if LANGUAGE_TAG.fullmatch(first) else None


def geometry(rec: Record) -> dict[str, Any] | None:
    if not rec.extent_wgs84:
        return None
    w, s, e, n = rec.extent_wgs84
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def licence(rec: Record) -> str | None:
    """The first constraint that names a licence, if any."""
    return next((c for c in rec.constraints if any(w in c.lower() for w in LICENCE_WORDS)), None)


def encodings(rec: Record) -> list[str]:
    """The export names this record offers (ISO 19139 for all but records kept in ISO 19115-3)."""
    names = ["iso19115-3"] if rec.schema == "iso19115-3" else ["iso19139"]
    return names + ["dc", "dcat.jsonld", "dcat.rdf", "schemaorg.jsonld"]


def _contacts(rec: Record) -> list[dict[str, Any]]:
    out = []
    for c in rec.contacts:
        contact: dict[str, Any] = {}
        if c.get("individual"):
            contact["name"] = c["individual"]
        if c.get("organisation"):
            contact["organization"] = c["organisation"]
        if not contact:
            continue
        if c.get("email"):
            contact["emails"] = [{"value": c["email"]}]
        if c.get("url"):
            contact["links"] = [{"href": c["url"], "rel": "about", "type": "text/html"}]
        contact["roles"] = [c.get("role") or "pointOfContact"]
        if c.get("scope") == "metadata":
            contact["roles"].append("metadataContact")
        out.append(contact)
    return out


def _themes(rec: Record) -> list[dict[str, Any]]:
    themes = []
    for kw in rec.keyword_sets:
        if kw.get("thesaurus") and kw.get("keywords"):
            themes.append({"concepts": [{"id": k} for k in kw["keywords"]], "scheme": kw["thesaurus"]})
    if rec.topics:
        themes.append({"concepts": [{"id": t} for t in rec.topics], "scheme": TOPICS_SCHEME})
    return themes


def _time(rec: Record) -> dict[str, Any] | None:
    if not (rec.time_begin or rec.time_end):
        return None
    if rec.time_begin and rec.time_begin == rec.time_end:
        return {"date" if "T" not in rec.time_begin else "timestamp": rec.time_begin}
    return {"interval": [rec.time_begin or "..", rec.time_end or ".."]}


def link_relation(link: dict[str, Any]) -> str:
    """``preview`` for a thumbnail, ``enclosure`` for a file to download, ``service`` for an OGC service, else
    ``related``."""
    protocol = str(link.get("protocol") or "").upper()
    if protocol.endswith("IMAGE-THUMBNAIL"):
        return "preview"
    if "DOWNLOAD" in protocol:
        return "enclosure"
    if protocol.startswith("OGC:") or protocol.startswith("ESRI:"):
        return "service"
    return "related"


def resource_links(rec: Record) -> list[dict[str, Any]]:
    """The record's online resources (services, downloads, documents) as OGC API links."""
    out = []
    for link in rec.links:
        if not link.get("url"):
            continue
        item = {"rel": link_relation(link), "href": link["url"]}
        if link.get("type"):
            item["type"] = link["type"]
        title = link.get("description") or link.get("name")
        if title:
            item["title"] = title
        if link.get("protocol"):
            item["protocol"] = link["protocol"]
        if link.get("name"):
            item["name"] = link["name"]
        out.append(item)
    return out


def record_feature(rec: Record, base: str) -> dict[str, Any]:
    """The record as OGC API Records GeoJSON, links included (self, collection, encodings, resources)."""
    rec = exportable(rec).record
    key = quote(rec.id, safe="")
    href = f"{base}/ogc/collections/catalog/items/{key}"
    properties: dict[str, Any] = {"type": rec.type or "dataset", "title": rec.title or rec.id}
    if rec.abstract:
        properties["description"] = rec.abstract
    if rec.keywords:
        properties["keywords"] = rec.keywords
    themes = _themes(rec)
    if themes:
        properties["themes"] = themes
    code = language_code(rec.language)
    if code:
        properties["language"] = {"code": code}
    contacts = _contacts(rec)
    if contacts:
        properties["contacts"] = contacts
    created = rec.dates.get("creation") or rec.dates.get("publication")
    if created:
        properties["created"] = created
    updated = rec.dates.get("revision") or rec.modified or (rec.updated.isoformat() if rec.updated else None)
    if updated:
        properties["updated"] = updated
    if rec.constraints:
        properties["rights"] = "; ".join(rec.constraints)
    found = licence(rec)
    if found:
        properties["license"] = found
    if rec.formats:
        properties["formats"] = [{"name": f} for f in rec.formats]
    if rec.crs:
        properties["crs"] = rec.crs
    if rec.organisation:
        properties["organisation"] = rec.organisation
    links = [{"rel": "self", "href": href, "type": "application/geo+json", "title": rec.title},
             {"rel": "alternate", "href": f"{href}?f=html", "type": "text/html", "title": rec.title},
             {"rel": "collection", "href": f"{base}/ogc/collections/catalog", "type": "application/json"}]
    for name in encodings(rec):
        media, title = ENCODINGS[name]
        path = f"{name}.xml" if name in ("iso19139", "iso19115-3", "dc") else name
        links.append({"rel": "alternate", "href": f"{base}/api/v1/records/{key}/{path}", "type": media,
                      "title": title})
    if rec.parent_id:
        links.append({"rel": "up", "href": f"{base}/ogc/collections/catalog/items/{quote(rec.parent_id, safe='')}",
                      "type": "application/geo+json"})
    links += resource_links(rec)
    feature: dict[str, Any] = {"id": rec.id, "type": "Feature", "conformsTo": CONFORMS, "geometry": geometry(rec),
                               "properties": properties, "links": links}
    time = _time(rec)
    feature["time"] = time
    return feature
