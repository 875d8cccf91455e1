"""Thesauri in the JSON API, for keyword pickers: the list, and a thesaurus' concepts matching ``q``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from kartenn.services import thesauri as service
from kartenn.site import Site
from kartenn.web.deps import get_site

router = APIRouter(tags=["thesauri"])


def request_language(request: Request, lang: str | None = None) -> str:
    """``?lang=fr``, else the first language of Accept-Language, else English."""
    if lang:
        return lang.strip().lower()[:2]
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip().lower()
    return first[:2] if first[:2].isalpha() else "en"


@router.get("/thesauri")
def thesauri(site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    return {"thesauri": service.list_thesauri(site)}


@router.get("/thesauri/{thesaurus_id}/concepts")
def concepts(thesaurus_id: str, request: Request, site: Annotated[Site, Depends(get_site)],
             q: Annotated[str | None, Query(max_length=200)] = None, lang: str | None = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    found = service.concepts(site, thesaurus_id, q=q, lang=request_language(request, lang), limit=limit)
    return {"thesaurus": thesaurus_id, "concepts": found}
