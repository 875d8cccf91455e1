"""Saved maps through the JSON API, under the same rights as everything else: a map is private to whoever
saved it, shared with an organisation, or public. Opening a map drops the layers of datasets the caller may
not see, so a shared map leaks nothing.

``POST /api/v1/maps`` ``{"title", "abstract", "org", "public", "map": {"layers": [...], "extent": [...], ...}}``
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from kartenn.services import maps
from kartenn.services.access import SiteView
from kartenn.web.deps import base_url, get_site

router = APIRouter(tags=["maps"])
Site = Annotated[SiteView, Depends(get_site)]


class Layer(BaseModel):
    dataset: str = Field(max_length=255)
    kind: str = Field(default="wms", pattern="^(wms|vector|wmts)$")
    style: str | None = Field(default=None, max_length=120)
    opacity: float = Field(default=1.0, ge=0, le=1)
    visible: bool = True
    time: str | None = Field(default=None, max_length=100)


class MapBody(BaseModel):
    layers: list[Layer] = Field(default_factory=list, max_length=100)
    extent: list[float] | None = Field(default=None, min_length=4, max_length=4)
    crs: str = Field(default="EPSG:3857", max_length=40)
    basemap: str | None = Field(default=None, max_length=80)


class SavedMap(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    abstract: str = Field(default="", max_length=5000)
    org: str | None = Field(default=None, max_length=80)
    public: bool = False
    map: MapBody


def _json(row: dict[str, Any], base: str) -> dict[str, Any]:
    """A saved map (see services.maps) as JSON."""
    data = {k: row[k] for k in ("id", "title", "abstract", "created_by", "created", "updated", "org", "public")}
    data["links"] = [{"rel": "self", "href": f"{base}/api/v1/maps/{row['id']}", "type": "application/json"},
                     {"rel": "alternate", "href": f"{base}/map?saved={row['id']}", "type": "text/html"}]
    if "body" in row:
        data["map"] = row["body"]
    return data


@router.get("/maps")
def list_maps(request: Request, site: Site, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    rows = maps.list_maps(site, limit=limit, offset=offset)
    base = base_url(request)
    return {"maps": [_json(r, base) for r in rows], "numberReturned": len(rows)}


@router.post("/maps", status_code=201)
def save_map(request: Request, response: Response, site: Site, body: SavedMap) -> dict[str, Any]:
    row = maps.save(site, body.title, abstract=body.abstract, org=body.org, public=body.public,
                    body=body.map.model_dump())
    response.headers["Location"] = f"{base_url(request)}/api/v1/maps/{row['id']}"
    return _json(row, base_url(request))


@router.get("/maps/{map_id}")
def get_map(map_id: str, request: Request, site: Site) -> dict[str, Any]:
    return _json(maps.get(site, map_id), base_url(request))


@router.put("/maps/{map_id}")
def replace_map(map_id: str, request: Request, site: Site, body: SavedMap) -> dict[str, Any]:
    row = maps.replace(site, map_id, body.title, abstract=body.abstract, public=body.public,
                       body=body.map.model_dump())
    return _json(row, base_url(request))


@router.delete("/maps/{map_id}", status_code=204)
def delete_map(map_id: str, site: Site) -> Response:
    maps.delete(site, map_id)
    return Response(status_code=204)
