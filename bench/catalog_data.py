"""Synthetic ISO 19139 records for the catalogue benchmark, made from the real records of tests/data.

Each generated record is a copy of a real gmd:MD_Metadata template whose fileIdentifier, title, abstract,
keywords, bounding boxes and dates are replaced: words are drawn from the real records' titles, abstracts and
keywords (French and English ones), boxes are spread over France (half), Europe and the world.

>>> folder, words = generate(Path("bench/work/catalog-records-1000"), 1000, seed=1)  # doctest: +SKIP
>>> words["csw"][:3]                                                                   # doctest: +SKIP
['ocean', 'cadastre', 'parcel']
"""

from __future__ import annotations

import copy
import json
import random
import re
import unicodedata
from pathlib import Path

from lxml import etree

RECORDS = Path(__file__).resolve().parents[1] / "tests" / "data" / "iso-metadata-records"
GMD = "http://www.isotc211.org/2005/gmd"
GCO = "http://www.isotc211.org/2005/gco"
NS = {"gmd": GMD, "gco": GCO}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)

# Where the vocabulary comes from (the records' own language), and which records serve as templates.
FRENCH = ["owslib-real-records/csw_geobretagne_mdmetadata.xml", "pycsw-iso19115-3/metawal.wallonie.be-catchments.xml",
          "pycsw-iso19115-3/metawal.wallonie.be-srv.xml"]
ENGLISH = ["pycsw-apiso/3e9a8c05.xml", "pycsw-apiso/pacioos-NS06agg.xml",
           "pycsw-apiso/iso_19115-2_Sentinel-2-scene.xml", "pycsw-apiso/test.xml",
           "pycsw-apiso/T_aerfo_RAS_1991_GR800P001800000012.xml", "pycsw-apiso/T_ortho_RAS_1998_284404.xml",
           "pycsw-apiso/T_pmoed_DTM_1996_276395.xml",
           "owslib-real-records/17bd184a-7e7d-4f81-95a5-041449a7212b_iso.xml",
           "owslib-real-records/iso_keywords_anchor.xml", "owslib-real-records/iso_mi.xml",
           "owslib-real-records/iso_xml_srv.xml", "pycsw-iso19115-3/auscope-3d-model.xml",
           "pycsw-iso19115-3/auscope-iso19139-geoprovinces.xml"]
TEMPLATES = ["pycsw-apiso/3e9a8c05.xml", "pycsw-apiso/test.xml", "pycsw-apiso/T_aerfo_RAS_1991_GR800P001800000012.xml",
             "pycsw-apiso/T_ortho_RAS_1998_284404.xml", "pycsw-apiso/T_pmoed_DTM_1996_276395.xml",
             "owslib-real-records/17bd184a-7e7d-4f81-95a5-041449a7212b_iso.xml",
             "owslib-real-records/csw_geobretagne_mdmetadata.xml", "owslib-real-records/iso_xml_srv.xml"]
TEXT_ELEMENTS = ("title", "alternateTitle", "abstract", "purpose", "keyword", "statement")
WORD = re.compile(r"[^\W\d_]{4,}")
REGIONS = [  # (share, west, south, east, north)
    (0.5, -5.0, 41.5, 9.5, 51.0),   # France
    (0.3, -10.0, 35.0, 30.0, 70.0),  # Europe
    (0.2, -180.0, -60.0, 180.0, 75.0),  # world
]


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def _texts(root: etree._Element) -> list[str]:
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname in TEXT_ELEMENTS:
            out += [t for t in el.itertext() if t.strip()]
    return out


def vocabulary() -> dict[str, list[str]]:
    """Words of 4+ letters of the real records' titles, abstracts and keywords, per language, by frequency."""
    vocab: dict[str, list[str]] = {}
    for lang, files in (("fr", FRENCH), ("en", ENGLISH)):
        counts: dict[str, int] = {}
        for name in files:
            root = etree.parse(str(RECORDS / name), PARSER).getroot()
            for text in _texts(root):
                for w in WORD.findall(text.lower()):
                    if "http" not in w:
                        counts[w] = counts.get(w, 0) + 1
        vocab[lang] = sorted(counts, key=lambda w: (-counts[w], w))
    return vocab


def _first(root: etree._Element, path: str) -> etree._Element | None:
    found = root.xpath(path, namespaces=NS)
    return found[0] if found else None


def _set_text(parent: etree._Element | None, value: str) -> None:
    """Set the gco:CharacterString (or anchor) under ``parent``."""
    if parent is None:
        return
    target = _first(parent, "gco:CharacterString")
    if target is None:
        target = _first(parent, "*")
    if target is not None:
        for child in list(target):
            target.remove(child)
        target.text = value


class Template:
    def __init__(self, name: str) -> None:
        self.name = name
        self.root = etree.parse(str(RECORDS / name), PARSER).getroot()
        ident = _first(self.root, "gmd:identificationInfo/*")
        assert ident is not None, name
        # Keep one keyword block with one keyword: filled per record.
        blocks = ident.xpath("gmd:descriptiveKeywords", namespaces=NS)
        for extra in blocks[1:]:
            ident.remove(extra)
        if blocks:
            keywords = blocks[0].xpath("gmd:MD_Keywords/gmd:keyword", namespaces=NS)
            for extra in keywords[1:]:
                extra.getparent().remove(extra)
        # Drop texts that would carry template words into every copy: other titles, purpose, credits.
        for path in ("gmd:citation/gmd:CI_Citation/gmd:alternateTitle", "gmd:purpose", "gmd:credit"):
            for el in ident.xpath(path, namespaces=NS):
                ident.remove(el) if el.getparent() is ident else el.getparent().remove(el)

    def residual(self) -> str:
        """The folded text that stays the same in every copy (what a query word must not occur in)."""
        root = copy.deepcopy(self.root)
        ident = _first(root, "gmd:identificationInfo/*")
        for path in ("gmd:citation/gmd:CI_Citation/gmd:title", "gmd:abstract",
                     "gmd:descriptiveKeywords/gmd:MD_Keywords/gmd:keyword"):
            for el in ident.xpath(path, namespaces=NS):
                el.getparent().remove(el)
        texts = [t for t in root.itertext()] + [v for el in root.iter() for v in el.attrib.values()]
        return fold(" ".join(texts))

    def make(self, identifier: str, title: str, abstract: str, keywords: list[str],
             bbox: tuple[float, float, float, float], date: str) -> bytes:
        root = copy.deepcopy(self.root)
        _set_text(_first(root, "gmd:fileIdentifier"), identifier)
        ident = _first(root, "gmd:identificationInfo/*")
        citation = _first(ident, "gmd:citation/gmd:CI_Citation")
        _set_text(_first(citation, "gmd:title"), title)
        for d in citation.xpath("gmd:date/gmd:CI_Date/gmd:date/*", namespaces=NS):
            d.text = date if etree.QName(d).localname == "Date" else f"{date}T00:00:00"
        _set_text(_first(ident, "gmd:abstract"), abstract)
        block = _first(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
        if block is not None:
            (first,) = block.xpath("gmd:keyword", namespaces=NS)[:1] or [None]
            if first is not None:
                _set_text(first, keywords[0])
                for k in reversed(keywords[1:]):
                    extra = copy.deepcopy(first)
                    _set_text(extra, k)
                    first.addnext(extra)
        for box in root.xpath("//gmd:EX_GeographicBoundingBox", namespaces=NS):
            for tag, value in zip(("westBoundLongitude", "southBoundLatitude", "eastBoundLongitude",
                                   "northBoundLatitude"), bbox, strict=True):
                el = _first(box, f"gmd:{tag}/gco:Decimal")
                if el is not None:
                    el.text = f"{value:.4f}"
        stamp = _first(root, "gmd:dateStamp/*")
        if stamp is not None:
            stamp.text = date if etree.QName(stamp).localname == "Date" else f"{date}T00:00:00"
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _bbox(rng: random.Random) -> tuple[float, float, float, float]:
    pick, acc, region = rng.random(), 0.0, REGIONS[-1]
    for region in REGIONS:
        acc += region[0]
        if pick <= acc:
            break
    _, w, s, e, n = region
    width, height = rng.uniform(0.05, 3.0), rng.uniform(0.05, 2.0)
    x, y = rng.uniform(w, e - width), rng.uniform(s, n - height)
    return x, y, x + width, y + height


def query_boxes(n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Search boxes, 2° to 12° wide, mostly over France and Europe (where the records are)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x0, y0, x1, y1 = _bbox(rng)
        half = rng.uniform(1.0, 6.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        out.append((round(max(-180, cx - half), 2), round(max(-90, cy - half), 2), round(min(180, cx + half), 2),
                    round(min(90, cy + half), 2)))
    return out


def generate(folder: Path, total: int, seed: int = 1) -> tuple[Path, dict[str, list[str]]]:
    """``total`` records as XML files under ``folder`` (100 subfolders), made once; and the query words:
    those that occur only in the varied fields, in plain ASCII, so a substring search (LIKE) finds the same
    records whatever the engine indexes of the rest of the document, and whatever it does with accents."""
    done = folder / "words.json"
    if done.exists():
        return folder, json.loads(done.read_text())
    rng = random.Random(seed)
    vocab = vocabulary()
    templates = [Template(n) for n in TEMPLATES]
    french = {"owslib-real-records/csw_geobretagne_mdmetadata.xml"}
    weights = {lang: [1 / (i + 10) for i in range(len(words))] for lang, words in vocab.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(total):
        template = templates[i % len(templates)]
        lang = "fr" if template.name in french or rng.random() < 0.4 else "en"
        words, w = vocab[lang], weights[lang]
        title = " ".join(rng.choices(words, w, k=rng.randint(3, 7))).capitalize()
        abstract = " ".join(rng.choices(words, w, k=rng.randint(15, 40))).capitalize() + "."
        keywords = sorted(set(rng.choices(words, w, k=rng.randint(2, 5))))
        date = f"{rng.randint(1990, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        (sub / f"bench-{i:06d}.xml").write_bytes(template.make(f"bench-{i:06d}", title, abstract, keywords,
                                                              _bbox(rng), date))
    residual = " ".join(t.residual() for t in templates)
    accented = [fold(w) for ws in vocab.values() for w in ws if not w.isascii()]
    fits = {lang: [w for w in vocab[lang][5:200] if w.isascii() and w not in residual
                   and not any(w in a for a in accented)] for lang in ("fr", "en")}
    chosen = {"csw": [w for pair in zip(fits["fr"][:30], fits["en"][:30], strict=False) for w in pair]}
    done.write_text(json.dumps(chosen))
    return folder, chosen


if __name__ == "__main__":
    import sys

    print(generate(Path(sys.argv[1]), int(sys.argv[2]))[1])
