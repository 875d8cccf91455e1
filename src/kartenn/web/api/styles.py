"""Named styles of a dataset: list, read (JSON model, SLD 1.0, MapLibre style JSON), create or replace (JSON
model or SLD), delete, make the default.

    curl -X PUT -H 'Content-Type: application/vnd.ogc.sld+xml' --data-binary @classes.sld \\
         -H "Authorization: Bearer $TOKEN" https://maps.example.org/api/v1/datasets/regions/styles/classes
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kartenn.domain import Dataset
from kartenn.domain.style import Style, StyleLimits
from kartenn.errors import TooLarge, UnsupportedFormat
from kartenn.services import styles
from kartenn.services.styles import MAPLIBRE_TYPE, SLD_TYPE
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.responses import JSONResponse

router = APIRouter(tags=["styles"])
ENCODINGS = {"json": "application/json", "sld": SLD_TYPE, "mapbox": MAPLIBRE_TYPE}
MAX_BODY = 2_000_000
BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "a style of the neutral model"}},
    SLD_TYPE: {"schema": {"type": "string", "description": "an SLD 1.0 or SE 1.1 document"}}}}}


def encoding(f: str | None, accept: str) -> str:
    """json | sld | mapbox, from ``f`` or else the Accept header (JSON by default)."""
    if f:
        if f not in ENCODINGS:
            raise UnsupportedFormat(f"unknown style encoding f={f!r}; use json, sld or mapbox", locator="f")
        return f
    for name, media in (("sld", SLD_TYPE), ("mapbox", MAPLIBRE_TYPE)):
        if media in accept:
            return name
    return "json"


def style_links(dataset: Dataset, name: str, base: str) -> list[dict[str, Any]]:
    href = f"{base}/api/v1/datasets/{dataset.id}/styles/{name}"
    links = [{"rel": "describedby", "href": f"{href}?f=json", "type": "application/json", "title": "Style model"},
             {"rel": "stylesheet", "href": f"{href}?f=sld", "type": SLD_TYPE, "title": "SLD 1.0"}]
    if dataset.kind == "vector":
        links.append({"rel": "stylesheet", "href": f"{href}?f=mapbox", "type": MAPLIBRE_TYPE,
                      "title": "MapLibre style"})
    return links


def encode(dataset: Dataset, style: Style, f: str, base: str, glyphs: str | None = None) -> Response:
    """The style in one encoding, with its revision as the ETag."""
    body, media = styles.export_style(dataset, style, f, base, glyphs)
    return Response(body, media_type=media, headers={"ETag": etag(dataset, style, f, glyphs)})


def etag(dataset: Dataset, style: Style, f: str, glyphs: str | None = None) -> str:
    """Changes with the style, and for MapLibre styles with the fonts server they name."""
    fonts = ""
    if glyphs and f == "mapbox":
        fonts = "-" + hashlib.sha1(glyphs.encode(), usedforsecurity=False).hexdigest()[:8]
    return f'"{styles.style_revision(dataset, style)}-{f}{fonts}"'



def summary(dataset: Dataset, style: Style, base: str) -> dict[str, Any]:
    return {"name": style.name, "title": style.title or style.name, "kind": style.kind,
            "default": style.name == styles.default_name(dataset),
            "revision": styles.style_revision(dataset, style), "links": style_links(dataset, style.name, base)}


@router.get("/styles/schema")
def style_schema() -> dict[str, Any]:
    """The JSON Schema of the style model that ``PUT …/styles/{name}`` takes as JSON."""
    return Style.model_json_schema()


@router.get("/datasets/{dataset_id}/styles")
def list_styles(dataset_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    dataset = site.catalog.get_dataset(dataset_id)
    base = base_url(request)
    return {"default": styles.default_name(dataset),
            "styles": [summary(dataset, s, base) for s in styles.styles_of(site, dataset).values()]}


@router.get("/datasets/{dataset_id}/styles/{name}")
def get_style(dataset_id: str, name: str, request: Request, site: Annotated[Site, Depends(get_site)],
              f: Annotated[str | None, Query(description="json, sld or mapbox")] = None) -> Response:
    dataset = site.catalog.get_dataset(dataset_id)
    style = styles.style_for(site, dataset, name)
    fmt = encoding(f, request.headers.get("accept", ""))
    tag = etag(dataset, style, fmt, site.settings.glyphs_url)
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": tag})
    return encode(dataset, style, fmt, base_url(request), site.settings.glyphs_url)


@router.put("/datasets/{dataset_id}/styles/{name}", openapi_extra=BODY)
async def put_style(dataset_id: str, name: str, request: Request, site: Annotated[Site, Depends(get_site)],
                    default: bool = False) -> JSONResponse:
    """Create or replace the style ``name`` from a JSON model or an SLD document; ``default=true`` also makes
    it the default style."""
    dataset = site.catalog.get_dataset(dataset_id)
    site.require("edit", "dataset", dataset.id)  # before reading the body
    style, warnings = styles.read_style(dataset, name, await _body(request), request.headers.get("content-type", ""),
                                        StyleLimits.of(site.settings))
    created = styles.put_style(site, dataset, style, make_default=default)
    base = base_url(request)
    body = {**summary(dataset, style, base), "warnings": warnings}
    location = f"{base}/api/v1/datasets/{dataset.id}/styles/{style.name}"
    return JSONResponse(body, status_code=201 if created else 200, headers={"Location": location})


@router.post("/datasets/{dataset_id}/styles/{name}/default")
def make_default(dataset_id: str, name: str, request: Request,
                 site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """Make the style ``name`` the dataset's default (used by WMS, tiles and maps when no style is named)."""
    dataset = site.catalog.get_dataset(dataset_id)
    styles.set_default(site, dataset, name)
    return list_styles(dataset_id, request, site)


@router.delete("/datasets/{dataset_id}/styles/{name}", status_code=204)
def delete_style(dataset_id: str, name: str, site: Annotated[Site, Depends(get_site)]) -> Response:
    dataset = site.catalog.get_dataset(dataset_id)
    styles.delete_style(site, dataset, name)
    return Response(status_code=204)


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge(f"a style is at most {MAX_BODY} bytes")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise TooLarge(f"a style is at most {MAX_BODY} bytes")
    return data
