"""OGC API – Styles, as far as discovery goes: a collection's styles and their stylesheets (SLD, MapLibre)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kartenn.services import styles
from kartenn.site import Site
from kartenn.web.api.styles import encode, encoding, style_links
from kartenn.web.deps import base_url, get_site

router = APIRouter(prefix="/ogc", tags=["ogc"])


@router.get("/collections/{collection_id}/styles")
def collection_styles(collection_id: str, request: Request,
                      site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    dataset = site.catalog.get_dataset(collection_id)
    base = base_url(request)
    href = f"{base}/ogc/collections/{dataset.id}/styles"
    found = []
    for style in styles.styles_of(site, dataset).values():
        links = [{**link, "href": link["href"].replace(f"{base}/api/v1/datasets/{dataset.id}/styles", href)}
                 for link in style_links(dataset, style.name, base) if link["rel"] == "stylesheet"]
        found.append({"id": style.name, "title": style.title or style.name, "links": links})
    return {"default": styles.default_name(dataset), "styles": found,
            "links": [{"rel": "self", "href": href, "type": "application/json"},
                      {"rel": "collection", "href": f"{base}/ogc/collections/{dataset.id}",
                       "type": "application/json"}]}


@router.get("/collections/{collection_id}/styles/{style_id}")
def collection_style(collection_id: str, style_id: str, request: Request,
                     site: Annotated[Site, Depends(get_site)],
                     f: Annotated[str | None, Query(description="sld, mapbox or json")] = None) -> Response:
    """A stylesheet: SLD 1.0 unless ``f`` or the Accept header asks for MapLibre style JSON or the JSON model."""
    dataset = site.catalog.get_dataset(collection_id)
    style = styles.style_for(site, dataset, style_id)
    accept = request.headers.get("accept", "")
    fmt = encoding(f, accept) if f or "application/json" in accept or "mapbox" in accept else "sld"
    return encode(dataset, style, fmt, base_url(request), site.settings.glyphs_url)


@router.get("/collections/{collection_id}/styles/{style_id}/metadata")
def collection_style_metadata(collection_id: str, style_id: str, request: Request,
                              site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    """What OGC API – Styles calls style metadata: the stylesheets and the layer the style draws."""
    dataset = site.catalog.get_dataset(collection_id)
    style = styles.style_for(site, dataset, style_id)
    base = base_url(request)
    href = f"{base}/ogc/collections/{dataset.id}/styles/{style.name}"
    sheets = [{"title": "SLD 1.0", "version": "1.0.0", "specification": "http://www.opengis.net/def/spec/ogc/sld",
               "native": False, "link": {"rel": "stylesheet", "href": f"{href}?f=sld", "type": styles.SLD_TYPE}}]
    if dataset.kind == "vector":
        sheets.append({"title": "MapLibre style", "version": "8",
                       "specification": "https://maplibre.org/maplibre-style-spec/", "native": False,
                       "link": {"rel": "stylesheet", "href": f"{href}?f=mapbox", "type": styles.MAPLIBRE_TYPE}})
    layer: dict[str, Any] = {"id": dataset.id, "type": "raster" if dataset.kind != "vector" else {
        0: "point", 1: "line", 2: "polygon"}.get(_dimension(dataset.geometry_type), "geometry")}
    if dataset.kind == "vector":
        layer["sampleData"] = {"rel": "start", "href": f"{base}/ogc/collections/{dataset.id}/items",
                               "type": "application/geo+json"}
    return {"id": style.name, "title": style.title or style.name, "scope": "style",
            "revision": styles.style_revision(dataset, style), "stylesheets": sheets, "layers": [layer],
            "links": [{"rel": "self", "href": f"{href}/metadata", "type": "application/json"}]}


def _dimension(geometry_type: str | None) -> int | None:
    kind = (geometry_type or "").lower()
    return 2 if "polygon" in kind else 1 if "line" in kind else 0 if "point" in kind else None
