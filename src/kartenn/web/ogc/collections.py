"""OGC API landing page and collections (OGC API – Common / Features Part 1 core resources)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kartenn.domain import Dataset
from kartenn.services.exports import FORMATS
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ogc.html import render, wants_html
from kartenn.web.ogc.params import common_crs, crs_list, storage_crs
from kartenn.web.ogc.records import catalog_json

router = APIRouter(prefix="/ogc", tags=["ogc"])
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def collection_json(d: Dataset, base: str) -> dict[str, Any]:
    href = f"{base}/ogc/collections/{d.id}"
    data: dict[str, Any] = {
        "id": d.id,
        "title": d.title,
        "links": [{"rel": "self", "href": href, "type": "application/json", "title": d.title},
                  {"rel": "alternate", "href": f"{href}?f=html", "type": "text/html", "title": d.title}],
    }
    data["links"].append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/styles", "href": f"{href}/styles",
                          "type": "application/json", "title": f"{d.title}: styles"})
    if d.extent_wgs84:
        data["extent"] = {"spatial": {"bbox": [list(d.extent_wgs84)], "crs": CRS84}}
    if d.kind == "vector":
        data["itemType"] = "feature"
        data["crs"] = crs_list(d)
        if storage_crs(d):
            data["storageCrs"] = storage_crs(d)
        data["links"].append({"rel": "items", "href": f"{href}/items", "type": "application/geo+json",
                              "title": d.title})
        data["links"].append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                              "href": f"{href}/queryables", "type": "application/schema+json"})
        for fmt, (media, _, _) in FORMATS.items():
            data["links"].append({"rel": "enclosure", "href": f"{href}/download?f={fmt}", "type": media,
                                  "title": f"{d.title} ({fmt})"})
        data["links"].append({"rel": "describedby", "href": f"{href}/schema", "type": "application/schema+json",
                              "title": f"{d.title}: schema"})
    return data


@router.get("")
def landing(request: Request, site: Annotated[Site, Depends(get_site)]) -> Any:
    if wants_html(request):
        return render(request, "landing", heading=site.settings.title)
    base = base_url(request)
    return {
        "title": site.settings.title,
        "description": "OGC API of this Kartenn site",
        "links": [
            {"rel": "self", "href": f"{base}/ogc", "type": "application/json"},
            {"rel": "alternate", "href": f"{base}/ogc?f=html", "type": "text/html"},
            {"rel": "service-desc", "href": f"{base}/ogc/api", "type": "application/vnd.oai.openapi+json;version=3.0"},
            {"rel": "conformance", "href": f"{base}/ogc/conformance", "type": "application/json"},
            {"rel": "data", "href": f"{base}/ogc/collections", "type": "application/json"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector", "href": f"{base}/ogc/tiles",
             "type": "application/json", "title": "Vector tiles of all collections"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes", "href": f"{base}/ogc/tileMatrixSets",
             "type": "application/json"},
        ],
    }


@router.get("/collections")
def collections(request: Request, site: Annotated[Site, Depends(get_site)]) -> Any:
    datasets = site.catalog.list_datasets()
    if wants_html(request):
        return render(request, "collections", heading_key="ogc.collections", datasets=datasets)
    base = base_url(request)
    items = [collection_json(d, base) for d in datasets] + [catalog_json(site, base)]
    return {"collections": items, "crs": common_crs(),
            "links": [{"rel": "self", "href": f"{base}/ogc/collections", "type": "application/json"},
                      {"rel": "alternate", "href": f"{base}/ogc/collections?f=html", "type": "text/html"}]}


@router.get("/collections/{collection_id}")
def collection(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Any:
    dataset = site.catalog.get_dataset(collection_id)
    if wants_html(request):
        return render(request, "collection", collection=dataset, formats=list(FORMATS), heading=dataset.title)
    return collection_json(dataset, base_url(request))
