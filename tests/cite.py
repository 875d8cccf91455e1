"""Replay of the pycsw CITE suite (CSW 2.0.2, OGC CITE data): compare outcomes semantically."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from lxml import etree

from conftest import shared

CSW = "http://www.opengis.net/cat/csw/2.0.2"
DC = "http://purl.org/dc/elements/1.1/"


def suite() -> Path:
    return shared("pycsw-csw-suites/cite")


def summary(body: bytes) -> tuple:
    """What must agree: exception or not; for results, counts and the identifiers returned."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    name = etree.QName(root).localname
    if name == "ExceptionReport":
        return ("exception",)
    results = root.find(f"{{{CSW}}}SearchResults")
    if results is not None:
        ids = sorted(e.text or "" for e in results.iter(f"{{{DC}}}identifier"))
        return (name, results.get("numberOfRecordsMatched"), results.get("numberOfRecordsReturned"), ids)
    if name == "GetRecordByIdResponse":
        return (name, sorted(e.text or "" for e in root.iter(f"{{{DC}}}identifier")))
    return (name,)


def post_cases() -> list[tuple[str, bytes, bytes]]:
    base = suite()
    return [(p.stem, p.read_bytes(), (base / "expected" / f"post_{p.name}").read_bytes())
            for p in sorted((base / "post").glob("*.xml"))]


def get_cases() -> list[tuple[str, dict[str, str], bytes]]:
    base = suite()
    cases = []
    for line in (base / "get" / "requests.txt").read_text().splitlines():
        name, _, query = line.partition(",")
        cases.append((name, dict(parse_qsl(query, keep_blank_values=True)),
                      (base / "expected" / f"get_{name}.xml").read_bytes()))
    return cases
