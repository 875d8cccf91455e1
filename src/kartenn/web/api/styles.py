"""Named styles of a dataset: list, read (JSON model, SLD 1.0, MapLibre style JSON), create or replace (JSON
model or SLD), delete, make the default.

    curl -X PUT -H 'Content-Type: application/vnd.ogc.sld+xml' --data-binary @classes.sld \\
         -H "Authorization: Bearer $TOKEN" https://maps.example.org/api/v1/datasets/regions/styles/classes
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kartenn.domain import Dataset
from kartenn.domain.style import Style, parse_style
from kartenn.errors import InvalidInput, TooLarge, UnsupportedFormat
from kartenn.formats.maplibre_style import to_maplibre
from kartenn.formats.sld import to_sld
from kartenn.formats.sld_import import from_sld
from kartenn.services import styles
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.responses import JSONResponse

router = APIRouter(tags=["styles"])
SLD_TYPE = "application/vnd.ogc.sld+xml"
MAPLIBRE_TYPE = "application/vnd.mapbox.style+json"
SLD_BODIES = (SLD_TYPE, "text/xml", "application/xml")
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


def encode(dataset: Dataset, style: Style, f: str, base: str) -> Response:
    """The style in one encoding, with its revision as the ETag."""
    headers = {"ETag": f'"{styles.style_revision(dataset, style)}"'}
    if f == "sld":
        return Response(to_sld(dataset.id, style), media_type=SLD_TYPE, headers=headers)
    if f == "mapbox":
        if dataset.kind != "vector":
            raise UnsupportedFormat(f"{dataset.id} is raster data: its styles have no MapLibre encoding", locator="f")
        tilejson = f"{base}/ogc/collections/{dataset.id}/tiles/WebMercatorQuad/tilejson"
        doc, warnings = to_maplibre(style, dataset.id, tilejson, title=dataset.title)
        if warnings:
            doc["metadata"]["kartenn:warnings"] = warnings
        return Response(orjson.dumps(doc), media_type=MAPLIBRE_TYPE, headers=headers)
    return Response(orjson.dumps(style.model_dump(mode="json")), media_type="application/json", headers=headers)


def summary(dataset: Dataset, style: Style, base: str) -> dict[str, Any]:
    return {"name": style.name, "title": style.title or style.name, "kind": style.kind,
            "default": style.name == styles.default_name(dataset),
            "revision": styles.style_revision(dataset, style), "links": style_links(dataset, style.name, base)}


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
    return encode(dataset, style, encoding(f, request.headers.get("accept", "")), base_url(request))


@router.put("/datasets/{dataset_id}/styles/{name}", openapi_extra=BODY)
async def put_style(dataset_id: str, name: str, request: Request, site: Annotated[Site, Depends(get_site)],
                    default: bool = False) -> JSONResponse:
    """Create or replace the style ``name`` from a JSON model or an SLD document; ``default=true`` also makes
    it the default style."""
    dataset = site.catalog.get_dataset(dataset_id)
    site.require("edit", "dataset", dataset.id)  # before reading the body
    style, warnings = parse_body(dataset, name, await _body(request), request.headers.get("content-type", ""))
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


def parse_body(dataset: Dataset, name: str, data: bytes, content_type: str) -> tuple[Style, list[str]]:
    """A style named ``name`` from a JSON model or an SLD document (its first UserStyle)."""
    media = content_type.split(";")[0].strip().lower()
    fields = {f.name: f.type for f in dataset.fields}
    if media in SLD_BODIES:
        imported = from_sld(data, fields, name=name, raster_default=dataset.style if dataset.kind != "vector" else None)
        warnings = list(imported.warnings)
        if len(imported.styles) > 1:
            warnings.append(f"the document has {len(imported.styles)} styles: the first was kept")
        return imported.styles[0], warnings
    if media not in ("application/json", ""):
        raise UnsupportedFormat(f"send the style as application/json or {SLD_TYPE}, not {media!r}")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("a style is a JSON object")
    return parse_style({**value, "name": name}, list(fields)), []
