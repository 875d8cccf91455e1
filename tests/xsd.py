"""Offline XML Schema validation: remote and broken schema locations map to the shared local copies."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from conftest import SHARED

SCHEMAS = SHARED / "xml-schemas" / "ogc"
XLINK = Path(__file__).parent / "schemas" / "xlink.xsd"
XML = Path(__file__).parent / "schemas" / "xml.xsd"
SMIL = Path(__file__).parent / "schemas" / "smil20.xsd"
REMOTE = "http://schemas.opengis.net/"


class LocalSchemas(etree.Resolver):
    def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
        if url.endswith("xlink.xsd"):
            return self.resolve_filename(str(XLINK), context)
        if url.endswith("/xml.xsd"):
            return self.resolve_filename(str(XML), context)
        if url.endswith("smil20.xsd"):
            return self.resolve_filename(str(SMIL), context)
        if "/plugins/profiles/apiso/schemas/ogc/" in url:  # a path of the schemas' original package
            return self.resolve_filename(str(SCHEMAS / url.split("/plugins/profiles/apiso/schemas/ogc/")[1]), context)
        if url.startswith(REMOTE):
            return self.resolve_filename(str(SCHEMAS / url[len(REMOTE):]), context)
        return None


@cache
def schema(relative: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(LocalSchemas())
    doc = etree.parse(str(SCHEMAS / relative), parser)
    return etree.XMLSchema(doc)


def assert_valid(document: bytes | etree._Element, relative: str) -> None:
    root = etree.fromstring(document) if isinstance(document, bytes) else document
    xsd = schema(relative)
    if not xsd.validate(root):
        errors = "\n".join(str(e) for e in list(xsd.error_log)[:10])
        raise AssertionError(f"not valid against {relative}:\n{errors}")
