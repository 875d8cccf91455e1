"""Thesauri for keywords: import SKOS files (RDF/XML or Turtle, via rdflib), search concepts, label themes.

The INSPIRE themes (34, English and French, with their registry URIs) ship with Kartenn and are there on
every site. GEMET is not shipped: import its SKOS file with ``kartenn thesaurus import gemet.rdf``.

>>> import_skos(site, Path("gemet.rdf"))                      # doctest: +SKIP
'gemet'
>>> concepts(site, "inspire-theme", q="hydro", lang="fr")[0]["label"]   # doctest: +SKIP
'Hydrographie'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import rdflib
from rdflib.namespace import DCTERMS, RDF, SKOS

from kartenn.errors import InvalidInput, NotFound
from kartenn.stores import thesauri as store
from kartenn.text import fold
from kartenn.xml import parse_xml

__all__ = ["add_thesaurus", "import_skos", "list_thesauri", "concepts", "theme_labels", "INSPIRE_THEMES",
           "ensure_builtin"]

BUILTIN = Path(__file__).resolve().parent.parent / "thesauri"
INSPIRE_THEMES = "inspire-theme"
MAX_BYTES = 200 * 1024**2


def _label(labels: dict[str, str], lang: str | None) -> str:
    for candidate in (lang, "en", "fr"):
        if candidate and labels.get(candidate):
            return labels[candidate]
    return next(iter(labels.values()), "")


def _read(data: bytes, name: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    turtle = name.lower().endswith((".ttl", ".turtle"))
    try:
        if not turtle:
            parse_xml(data)  # the safe parser first: no DOCTYPE entities, no network
        graph.parse(data=data, format="turtle" if turtle else "xml")
    except InvalidInput:
        raise
    except Exception as exc:  # rdflib raises many kinds for malformed files
        raise InvalidInput(f"not a SKOS file rdflib can read: {str(exc).splitlines()[0][:200]}") from None
    return graph


def add_thesaurus(site: Any, path: Path, thesaurus_id: str | None = None) -> str:
    """Import (or replace) a thesaurus from a file, for administrators, with an audit line."""
    from kartenn.services.accounts import require_admin

    require_admin(site)
    ident = import_skos(site, path, thesaurus_id)
    site.accounts.log(site.identity.name, "thesaurus.import", f"thesaurus:{ident}", file=path.name)
    return ident


def import_skos(site: Any, source: Path | bytes, thesaurus_id: str | None = None, name: str = "") -> str:
    """Import (or replace) a SKOS concept scheme; returns the thesaurus id (default: from the file name)."""
    if isinstance(source, Path):
        name = name or source.name
        if source.stat().st_size > MAX_BYTES:
            raise InvalidInput(f"{source.name} is larger than {MAX_BYTES} bytes")
        data = source.read_bytes()
    else:
        data = source
    graph = _read(data, name)
    scheme = next(iter(graph.subjects(RDF.type, SKOS.ConceptScheme)), None)
    title = ""
    if scheme is not None:
        titles = {lit.language or "": str(lit) for p in (SKOS.prefLabel, DCTERMS.title, rdflib.RDFS.label)
                  for lit in graph.objects(scheme, p) if isinstance(lit, rdflib.Literal)}
        title = _label(titles, "en")
    found = []
    for concept in set(graph.subjects(RDF.type, SKOS.Concept)):
        labels: dict[str, str] = {}
        alt: list[str] = []
        for lit in graph.objects(concept, SKOS.prefLabel):
            labels.setdefault(lit.language or "", str(lit))
        for lit in graph.objects(concept, SKOS.altLabel):
            alt.append(str(lit))
        if labels:
            found.append({"uri": str(concept), "labels": labels,
                          "search": fold(" | ".join([*labels.values(), *alt]))})
    if not found:
        raise InvalidInput("the file holds no skos:Concept with a skos:prefLabel")
    ident = thesaurus_id or re.sub(r"[^a-z0-9-]+", "-", Path(name or "thesaurus").stem.lower()).strip("-")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", ident or ""):
        raise InvalidInput(f"invalid thesaurus id {ident!r}: lower-case letters, digits and dashes")
    with site.catalog.begin() as conn:
        store.replace(conn, ident, title or ident, str(scheme) if scheme is not None else "", found)
    return ident


def ensure_builtin(site: Any) -> None:
    """The shipped thesauri, imported once per site."""
    with site.engine.connect() as conn:
        present = store.exists(conn, INSPIRE_THEMES)
    if not present:
        import_skos(site, BUILTIN / "inspire-themes.rdf", INSPIRE_THEMES)


def list_thesauri(site: Any) -> list[dict[str, Any]]:
    ensure_builtin(site)
    with site.engine.connect() as conn:
        return store.listing(conn)


def concepts(site: Any, thesaurus_id: str, *, q: str | None = None, lang: str | None = None,
             limit: int = 20) -> list[dict[str, Any]]:
    """Concepts for a keyword picker: [{uri, label (in ``lang``), labels}], those matching ``q`` first by label."""
    ensure_builtin(site)
    with site.engine.connect() as conn:
        if not store.exists(conn, thesaurus_id):
            raise NotFound(f"no thesaurus {thesaurus_id!r}")
        found = store.search(conn, thesaurus_id, fold(q.strip()) if q and q.strip() else None, 10_000)
    out = [{"uri": c["uri"], "label": _label(c["labels"], lang), "labels": c["labels"]} for c in found]
    if q:
        folded = fold(q.strip())
        out.sort(key=lambda c: (not fold(c["label"]).startswith(folded), fold(c["label"])))
    else:
        out.sort(key=lambda c: fold(c["label"]))
    return out[:limit]


def theme_labels(site: Any, values: list[str], lang: str | None) -> dict[str, dict[str, str]]:
    """For INSPIRE theme facet values (labels in any language, or URIs): {value: {"uri", "label"}}."""
    ensure_builtin(site)
    with site.engine.connect() as conn:
        known = store.all_labels(conn, INSPIRE_THEMES)
    index: dict[str, dict[str, Any]] = {}
    for c in known:
        index[c["uri"].rstrip("/").lower()] = c
        for label in c["labels"].values():
            index[fold(label)] = c
    out = {}
    for value in values:
        c = index.get(fold(value)) or index.get(value.rstrip("/").lower())
        if c is not None:
            out[value] = {"uri": c["uri"], "label": _label(c["labels"], lang)}
    return out
