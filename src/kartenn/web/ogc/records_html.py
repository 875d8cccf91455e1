"""HTML pages of the OGC API Records catalogue (the collection, a page of records, one record), fr and en.

>>> render_records(request, "record", record=rec, feature=feature)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from kartenn.web.deps import base_url
from kartenn.web.portal.i18n import pick_language
from kartenn.web.portal.pages import templates

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "switch": "Français", "path": "Path", "collections": "Collections", "catalog": "Catalogue",
        "browse": "Browse the records", "search": "Search", "words": "Words", "shown": "{shown} of {matched} records",
        "pages": "Pages", "prev": "Previous", "next": "Next", "title": "Title", "type": "Type", "date": "Date",
        "organisation": "Organisation", "abstract": "Abstract", "keywords": "Keywords", "contacts": "Contacts",
        "harvested": "Harvested from {source} ({url}) on {date}: read-only here.",
        "extent": "Extent (WGS 84)", "time": "Temporal extent", "links": "Services and downloads",
        "encodings": "Metadata", "rights": "Use constraints", "facets": "Refine", "none": "No record matches.",
        "language": "Language",
    },
    "fr": {
        "switch": "English", "path": "Chemin", "collections": "Collections", "catalog": "Catalogue",
        "browse": "Parcourir les fiches", "search": "Rechercher", "words": "Mots",
        "shown": "{shown} fiches sur {matched}",
        "pages": "Pages", "prev": "Précédentes", "next": "Suivantes", "title": "Titre", "type": "Type",
        "date": "Date", "organisation": "Organisme", "abstract": "Résumé", "keywords": "Mots-clés",
        "harvested": "Moissonné depuis {source} ({url}) le {date} : en lecture seule ici.",
        "contacts": "Contacts", "extent": "Emprise (WGS 84)", "time": "Étendue temporelle",
        "links": "Services et téléchargements", "encodings": "Métadonnées", "rights": "Conditions d'utilisation",
        "facets": "Affiner", "none": "Aucune fiche ne correspond.", "language": "Langue",
    },
}


def render_records(request: Request, view: str, **context: Any) -> HTMLResponse:
    """A page of ``records.html`` in the caller's language."""
    lang = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
    table = STRINGS[lang]

    def t(key: str, **values: object) -> str:
        return table.get(key, key).format(**values)

    other = "en" if lang == "fr" else "fr"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "f")}
    page = {"view": view, "lang": lang, "other": other, "t": t, "base": base_url(request),
            "site_title": request.app.state.site.settings.title, "query": query,
            "switch_query": urlencode({**query, "f": "html", "lang": other}),
            "json_href": f"{request.url.path}?{urlencode({**query, 'f': 'json'})}", **context}
    return templates.TemplateResponse(request, "records.html", page,
                                      headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"})
