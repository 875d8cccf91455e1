"""HTML views of the OGC API resources, for people browsing them (``f=html`` or a browser's Accept).

>>> wants_html(request)  # doctest: +SKIP
True
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from kartenn.web.deps import base_url
from kartenn.web.portal.i18n import pick_language, translator
from kartenn.web.portal.pages import templates


def wants_html(request: Request) -> bool:
    f = request.query_params.get("f")
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split("text/html")[0]


def render(request: Request, view: str, heading: str = "", heading_key: str = "", **context: Any) -> HTMLResponse:
    """A page of ``ogc.html``, headed by ``heading`` or by the translation of ``heading_key``."""
    lang = pick_language(request.headers.get("accept-language"), request.query_params.get("lang"))
    t = translator(lang)
    other = "en" if lang == "fr" else "fr"
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", "f")}
    json_query = urlencode({**query, "f": "json"})
    page = {
        "view": view, "lang": lang, "other": other, "t": t, "base": base_url(request),
        "site_title": request.app.state.site.settings.title,
        "switch_query": urlencode({**query, "f": "html", "lang": other}),
        "json_href": f"{request.url.path}?{json_query}",
        "heading": t(heading_key) if heading_key else heading, **context,
    }
    return templates.TemplateResponse(request, "ogc.html", page,
                                      headers={"Content-Language": lang, "Vary": "Accept, Accept-Language"})
