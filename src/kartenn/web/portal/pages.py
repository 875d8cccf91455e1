"""Home page: the published datasets with their services."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.portal.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)
ITEMS_ROUTE = "/ogc/collections/{collection_id}/items"
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, site: Annotated[Site, Depends(get_site)],
         lang: Annotated[str | None, Query(pattern="^(fr|en)$")] = None) -> HTMLResponse:
    language = pick_language(request.headers.get("accept-language"), lang)
    context = {
        "lang": language,
        "other": "en" if language == "fr" else "fr",
        "t": translator(language),
        "title": site.settings.title,
        "datasets": site.catalog.list_datasets(),
        "base": base_url(request),
        # Links only to services this server has (feature items come with OGC API Features).
        "has_items": any(getattr(r, "path", "") == ITEMS_ROUTE for r in request.app.routes),
    }
    return templates.TemplateResponse(request, "home.html", context,
                                      headers={"Content-Language": language, "Vary": "Accept-Language"})
