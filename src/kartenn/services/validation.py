"""A record's validation report: XML Schema errors of its ISO 19139 or ISO 19115-3 document, the INSPIRE
essentials (metadata regulation 1205/2008) as warnings, which never block publishing, and the values the
exports leave out (a language that is no language code, a date that is no date…).

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
from kartenn.formats.exportable import exportable
from kartenn.formats.iso19139 import build_iso19139
from kartenn.xml import parse_xml

__all__ = ["validate", "xsd_errors"]

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
GMD_XSD = SCHEMAS / "iso19139" / "all.xsd"  # gmd, gmx and srv
MDB_XSD = SCHEMAS / "iso19115-3"  # one folder per namespace and version, as at standards.iso.org/iso/19115/-3/
GMD = "http://www.isotc211.org/2005/gmd"
MDB = "http://standards.iso.org/iso/19115/-3/mdb/"
MAX_XSD_ERRORS = 50
# Namespaces the ISO 19115-3 schemas import whose schemas are not shipped (ISO 19157-2 data quality, ISO 19110
# feature catalogues): their property types accept any content, which is then not checked.
UNCHECKED = {
    "19157/-2/dqc/1.0/dqc.xsd": ("http://standards.iso.org/iso/19157/-2/dqc/1.0",
                                 ("Abstract_DataQuality_PropertyType", "Abstract_QualityElement_PropertyType")),
    "19157/-2/mdq/1.0/mdq.xsd": ("http://standards.iso.org/iso/19157/-2/mdq/1.0", ()),
    "19110/fcc/1.0/fcc.xsd": ("http://standards.iso.org/iso/19110/fcc/1.0",
                              ("Abstract_FeatureCatalogue_PropertyType",)),
}
XS = "http://www.w3.org/2001/XMLSchema"


def _open_schema(namespace: str, types: tuple[str, ...]) -> str:
    any_content = ('<sequence><any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></sequence>'
                   '<anyAttribute processContents="lax"/>')
    body = "".join(f'<complexType name="{name}">{any_content}</complexType>' for name in types)
    return f'<schema xmlns="{XS}" targetNamespace="{namespace}" elementFormDefault="qualified">{body}</schema>'


class _LocalSchemas(etree.Resolver):
    """The schemas' references go to the local copies (kartenn/schemas); nothing is fetched. The ISO 19115-3
    schemas refer to each other by their paths at standards.iso.org (``../../../../19115/-3/mcc/1.0/mcc.xsd``),
    to GML 3.2.1 as ``others/ISO19136/gml.xsd``; GML 3.2.1 refers to ISO 19139 and to SMIL."""

    def resolve(self, url: str, pubid: Any, context: Any) -> Any:
        for name in ("xlink.xsd", "xml.xsd"):
            if url.endswith("/" + name) or url == name:
                return self.resolve_filename(str(SCHEMAS / name), context)
        if "/19115/-3/" in url:
            return self.resolve_filename(str(MDB_XSD / url.rsplit("/19115/-3/", 1)[1]), context)
        if url.endswith("/ISO19136/gml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "gml-3.2.1" / "gml.xsd"), context)
        if url.endswith("/20070417/gmd/gmd.xsd"):
            return self.resolve_filename(str(SCHEMAS / "iso19139" / "gmd" / "gmd.xsd"), context)
        if url.endswith(("/smil20.xsd", "/smil20-language.xsd")):
            return self.resolve_filename(str(SCHEMAS / "smil" / url.rsplit("/", 1)[1]), context)
        for tail, (namespace, types) in UNCHECKED.items():
            if url.endswith("/" + tail):
                return self.resolve_string(_open_schema(namespace, types), context)
        if url.startswith(("http://", "https://", "ftp://")):
            return self.resolve_string("", context)  # unknown remote schema: refuse to fetch it
        return None


def _parser() -> etree.XMLParser:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    parser.resolvers.add(_LocalSchemas())
    return parser


@cache
def _gmd_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(GMD_XSD), _parser()))


@cache
def _mdb_schema() -> etree.XMLSchema:
    """Every namespace and version of ISO 19115-3 in one schema (mdb 1.0 and 2.0 records alike): a document's
    extension elements (gcx:Anchor…) are known only when their namespace is loaded."""
    imports = []
    for folder in sorted(MDB_XSD.glob("*/*/")):
        package, version = folder.parent.name, folder.name
        main = folder / f"{package}.xsd"
        if main.exists() and package not in ("mds", "md1", "md2"):  # wrappers of the others
            imports.append(f'<import namespace="http://standards.iso.org/iso/19115/-3/{package}/{version}" '
                           f'schemaLocation="{main.as_uri()}"/>')
    wrapper = f'<schema xmlns="{XS}" targetNamespace="urn:x-kartenn:iso19115-3">{"".join(imports)}</schema>'
    return etree.XMLSchema(etree.fromstring(wrapper, _parser(), base_url=(MDB_XSD / "all.xsd").as_uri()))


def _short(path: str | None) -> str:
    """``/gmd:MD_Metadata/gmd:identificationInfo[1]/…`` → ``MD_Metadata/identificationInfo[1]/…``."""
    if not path:
        return ""
    return "/".join(part.split(":", 1)[-1] for part in path.strip("/").split("/"))


def xsd_errors(document: etree._Element) -> list[dict[str, str]]:
    """The XML Schema errors of one gmd:MD_Metadata or mdb:MD_Metadata element (an empty list when it is
    valid)."""
    schema = _mdb_schema() if etree.QName(document).namespace.startswith(MDB) else _gmd_schema()
    if schema.validate(document):
        return []
    return [{"level": "error", "path": _short(e.path), "message": e.message}
            for e in list(schema.error_log)[:MAX_XSD_ERRORS]]


def _unchecked(document: etree._Element) -> list[dict[str, str]]:
    """A warning for each part of a 19115-3 document whose schema is not shipped."""
    found = {etree.QName(e).namespace for e in document.iter() if isinstance(e.tag, str)}
    names = {"http://standards.iso.org/iso/19157/-2/mdq/1.0": "data quality (ISO 19157-2)",
             "http://standards.iso.org/iso/19110/fcc/1.0": "feature catalogue (ISO 19110)",
             "http://standards.iso.org/iso/19110/gfc/1.1": "feature catalogue (ISO 19110)"}
    return [{"level": "warning", "path": "", "message": f"the {part} part is not checked against its XML schema "
                                                        "(not shipped)"}
            for part in sorted({names[n] for n in found if n in names})]


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
    if rec.schema == "iso19115-3" and rec.xml:
        root = parse_xml(rec.xml)
        errors += xsd_errors(root) + _unchecked(root)
    else:
        root = parse_xml(rec.xml) if rec.schema == "iso19139" and rec.xml else build_iso19139(rec)
        if etree.QName(root).namespace == GMD:
            errors += xsd_errors(root)
        else:  # ISO 19115-2 (gmi) and national profiles: their schemas are not shipped
            errors.append({"level": "warning", "path": etree.QName(root).localname,
                           "message": f"no schema for {etree.QName(root).namespace} here: not checked against XSD"})
    errors += _inspire(rec, root) + exportable(rec).left_out
    return {"valid": not any(e["level"] == "error" for e in errors), "errors": errors}
