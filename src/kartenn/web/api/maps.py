"""Saved maps through the JSON API, under the same rights as everything else: a map is private to whoever
saved it, shared with an organisation, or public. Opening a map drops the layers of datasets the caller may
not see, so a shared map leaks nothing.

``POST /api/v1/maps`` ``{"title", "abstract", "org", "public", "map": {"layers": [...], "extent": [...], ...}}``
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from kartenn.domain.security import Sharing
from kartenn.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from kartenn.services import policy
from kartenn.services.access import SiteView
from kartenn.services.publish import share
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


def _slug(title: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "map"
    return f"{base}-{secrets.token_hex(3)}"


def _visible_body(site: SiteView, body: dict[str, Any]) -> dict[str, Any]:
    layers = [layer for layer in body.get("layers", []) if site.may("view", "dataset", layer["dataset"])]
    return {**body, "layers": layers}


def _json(site: SiteView, row: dict[str, Any], base: str,
          known: tuple[dict[str, dict[str, Any]], set[str]] | None = None) -> dict[str, Any]:
    """A saved map as JSON; ``known``: owners and public ids read for a whole list (see owners_and_public)."""
    owned, public_ids = known or site.accounts.owners_and_public("map", [row["id"]])
    owner, public = owned.get(row["id"]) or {}, row["id"] in public_ids
    data = {k: row[k] for k in ("id", "title", "abstract", "created_by", "created", "updated")}
    data.update(org=owner.get("org_id"), public=public,
                links=[{"rel": "self", "href": f"{base}/api/v1/maps/{row['id']}", "type": "application/json"},
                       {"rel": "alternate", "href": f"{base}/map?saved={row['id']}", "type": "text/html"}])
    if "body" in row:
        data["map"] = _visible_body(site, row["body"])
    return data


def _writer(site: SiteView) -> None:
    if site.identity.user is None:
        raise Unauthorized("log in to save maps")
    if site.identity.scope != "write":
        raise Forbidden("this token is read-only")


@router.get("/maps")
def list_maps(request: Request, site: Site, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    visible = policy.permitted(site.identity, "view", "map", site.accounts)
    rows = site.maps.list(visible, limit=limit, offset=offset)
    base = base_url(request)
    known = site.accounts.owners_and_public("map", [r["id"] for r in rows])  # two queries for the whole page
    return {"maps": [_json(site, r, base, known) for r in rows], "numberReturned": len(rows)}


@router.post("/maps", status_code=201)
def save_map(request: Request, response: Response, site: Site, body: SavedMap) -> dict[str, Any]:
    _writer(site)
    me = site.identity
    if body.org and not me.admin and body.org not in me.roles:
        raise Forbidden(f"you are not a member of {body.org!r}")
    if body.org and not site.accounts.has_organisation(body.org):
        raise InvalidInput(f"no organisation {body.org!r}", locator="org")
    map_id = _slug(body.title)
    with site.catalog.begin() as conn:
        site.maps.add(conn, map_id, body.title, body.abstract, str(me.user), body.map.model_dump())
    share(site, "map", map_id, Sharing(org=body.org, user=me.user, public=body.public))
    site.accounts.log(me.name, "map.save", f"map:{map_id}", org=body.org, public=body.public)
    response.headers["Location"] = f"{base_url(request)}/api/v1/maps/{map_id}"
    return _json(site, site.maps.get(map_id), base_url(request))


def _visible(site: SiteView, map_id: str) -> dict[str, Any]:
    row = site.maps.get(map_id)
    if not site.may("view", "map", map_id):
        raise NotFound(f"no map {map_id!r}")
    return row


@router.get("/maps/{map_id}")
def get_map(map_id: str, request: Request, site: Site) -> dict[str, Any]:
    return _json(site, _visible(site, map_id), base_url(request))


@router.put("/maps/{map_id}")
def replace_map(map_id: str, request: Request, site: Site, body: SavedMap) -> dict[str, Any]:
    _visible(site, map_id)
    _writer(site)
    site.require("edit", "map", map_id)
    with site.catalog.begin() as conn:
        site.maps.update(conn, map_id, title=body.title, abstract=body.abstract, body=body.map.model_dump())
        if body.public:
            site.accounts.grant(conn, "map", map_id, "public", "", "view")
        else:
            site.accounts.revoke(conn, "map", map_id, "public", "", "view")
    site.accounts.log(site.identity.name, "map.save", f"map:{map_id}", public=body.public)
    return _json(site, site.maps.get(map_id), base_url(request))


@router.delete("/maps/{map_id}", status_code=204)
def delete_map(map_id: str, site: Site) -> Response:
    _visible(site, map_id)
    _writer(site)
    site.require("edit", "map", map_id)
    with site.catalog.begin() as conn:
        site.maps.delete(conn, map_id)
        site.accounts.forget(conn, "map", map_id)
    site.accounts.log(site.identity.name, "delete", f"map:{map_id}")
    return Response(status_code=204)
