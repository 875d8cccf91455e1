"""A record's validation report: XML Schema errors of its ISO 19139 document, and the INSPIRE essentials
(metadata regulation 1205/2008) as warnings, which never block publishing.

Schemas are the copies shipped in ``kartenn/schemas``, loaded with network access off.

>>> report = validate(rec)                       # doctest: +SKIP
>>> report["valid"], report["errors"][0]          # doctest: +SKIP
(True, {'level': 'warning', 'path': 'identificationInfo/*/topicCategory', 'message': 'no topic category'})
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from kartenn.domain import Record
from kartenn.formats.iso19139 import build_iso19139
from kartenn.xml import parse_xml

__all__ = ["validate", "xsd_errors"]

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
GMD_XSD = SCHEMAS / "iso19139" / "all.xsd"  # gmd, gmx and srv
GMD = "http://www.isotc211.org/2005/gmd"
MAX_XSD_ERRORS = 50


class _LocalSchemas(etree.Resolver):
    """The schemas' references to xlink and xml go to the local copies; nothing is fetched."""

    def resolve(self, url: str, pubid: Any, context: Any) -> Any:
        for name in ("xlink.xsd", "xml.xsd"):
            if url.endswith("/" + name) or url == name:
                return self.resolve_filename(str(SCHEMAS / name), context)
        if url.startswith(("http://", "https://", "ftp://")):
            return self.resolve_string("", context)  # unknown remote schema: refuse to fetch it
        return None


@cache
def _gmd_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(GMD_XSD), parser))


def _short(path: str | None) -> str:
    """``/gmd:MD_Metadata/gmd:identificationInfo[1]/…`` → ``MD_Metadata/identificationInfo[1]/…``."""
    if not path:
        return ""
    return "/".join(part.split(":", 1)[-1] for part in path.strip("/").split("/"))


def xsd_errors(document: etree._Element) -> list[dict[str, str]]:
    """The XML Schema errors of one gmd:MD_Metadata element (an empty list when it is valid)."""
    schema = _gmd_schema()
    if schema.validate(document):
        return []
    return [{"level": "error", "path": _short(e.path), "message": e.message}
            for e in list(schema.error_log)[:MAX_XSD_ERRORS]]


def _any(root: etree._Element, *paths: str) -> bool:
    for path in paths:
        for node in root.iterfind(path):
            if "".join(node.itertext()).strip() or any(v for k, v in node.attrib.items() if k.endswith("href")):
                return True
    return False


IDENT = "{*}identificationInfo/*"


def _inspire(rec: Record, root: etree._Element) -> list[dict[str, str]]:
    """The INSPIRE metadata elements a record lacks, each as a warning."""
    dataset = rec.type in ("dataset", "series", "")
    checks: list[tuple[bool, str, str]] = [
        (bool(rec.title.strip()), f"{IDENT}/citation/CI_Citation/title", "no resource title"),
        (bool(rec.abstract.strip()), f"{IDENT}/abstract", "no resource abstract"),
        (any(link.get("url") for link in rec.links), "distributionInfo/*/transferOptions/*/onLine",
         "no resource locator (an online link to the data or its service)"),
        (not dataset or _any(root, f"{IDENT}/{{*}}citation/{{*}}CI_Citation/{{*}}identifier//{{*}}code"),
         f"{IDENT}/citation/CI_Citation/identifier", "no unique resource identifier"),
        (not dataset or bool(rec.topics), f"{IDENT}/topicCategory", "no topic category"),
        (bool(rec.themes), f"{IDENT}/descriptiveKeywords",
         "no keyword from the INSPIRE themes (GEMET - INSPIRE themes thesaurus)"),
        (rec.extent_wgs84 is not None, f"{IDENT}/extent/*/geographicElement/EX_GeographicBoundingBox",
         "no geographic bounding box"),
        (bool(rec.time_begin or rec.time_end or rec.dates), f"{IDENT}/citation/CI_Citation/date",
         "no temporal reference (temporal extent or a creation, publication or revision date)"),
        (not dataset or bool(rec.lineage.strip()), "dataQualityInfo/*/lineage/*/statement", "no lineage"),
        (_any(root, "{*}dataQualityInfo//{*}DQ_ConformanceResult"), "dataQualityInfo/*/report",
         "no conformity statement (degree of conformity with a specification)"),
        (_any(root, f"{IDENT}/{{*}}resourceConstraints//{{*}}useLimitation",
              f"{IDENT}/{{*}}resourceConstraints//{{*}}useConstraints",
              f"{IDENT}/{{*}}resourceConstraints/{{*}}MD_LegalConstraints/{{*}}otherConstraints"),
         f"{IDENT}/resourceConstraints", "no conditions for access and use"),
        (_any(root, f"{IDENT}/{{*}}resourceConstraints//{{*}}accessConstraints",
              f"{IDENT}/{{*}}resourceConstraints//{{*}}classification"),
         f"{IDENT}/resourceConstraints/MD_LegalConstraints/accessConstraints", "no limitations on public access"),
        (any(c.get("scope") == "resource" and (c.get("organisation") or c.get("individual")) and c.get("email")
             for c in rec.contacts), f"{IDENT}/pointOfContact",
         "no responsible party with an organisation name and an e-mail address"),
        (any(c.get("scope") == "metadata" and (c.get("organisation") or c.get("individual")) and c.get("email")
             for c in rec.contacts), "contact", "no metadata point of contact with a name and an e-mail address"),
        (bool(rec.modified), "dateStamp", "no metadata date"),
        (bool(rec.language), "language", "no metadata language"),
    ]
    return [{"level": "warning", "path": path.replace("{*}", ""), "message": message}
            for ok, path, message in checks if not ok]


def validate(rec: Record) -> dict[str, Any]:
    """{valid, errors: [{level: error|warning, path, message}]}: valid means no errors (warnings are fine)."""
    errors: list[dict[str, str]] = []
    if rec.schema == "iso19115-3":
        root = parse_xml(rec.xml) if rec.xml else build_iso19139(rec)
        errors.append({"level": "warning", "path": "",
                       "message": "ISO 19115-3 records are not checked against an XML schema here"})
    else:
        root = parse_xml(rec.xml) if rec.schema == "iso19139" and rec.xml else build_iso19139(rec)
        if etree.QName(root).namespace == GMD:
            errors += xsd_errors(root)
        else:  # ISO 19115-2 (gmi) and national profiles: their schemas are not shipped
            errors.append({"level": "warning", "path": etree.QName(root).localname,
                           "message": f"no schema for {etree.QName(root).namespace} here: not checked against XSD"})
    errors += _inspire(rec, root)
    return {"valid": not any(e["level"] == "error" for e in errors), "errors": errors}
