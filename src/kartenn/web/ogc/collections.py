"""OGC API landing page and collections (OGC API – Common / Features Part 1 core resources)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kartenn.domain import Dataset
from kartenn.services.exports import FORMATS
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site
from kartenn.web.ogc.edr import collection_extra
from kartenn.web.ogc.html import render, wants_html
from kartenn.web.ogc.params import common_crs, crs_list, storage_crs
from kartenn.web.ogc.records import catalog_json

router = APIRouter(prefix="/ogc", tags=["ogc"])
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def collection_json(d: Dataset, base: str, edr_metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A collection; ``edr_metadata`` adds the EDR queries and parameters of a station dataset or a raster time
    stack."""
    href = f"{base}/ogc/collections/{d.id}"
    data: dict[str, Any] = {
        "id": d.id,
        "title": d.title,
        "links": [{"rel": "self", "href": href, "type": "application/json", "title": d.title},
                  {"rel": "alternate", "href": f"{href}?f=html", "type": "text/html", "title": d.title}],
    }
    data["links"].append({"rel": f"{OGC_REL}styles", "href": f"{href}/styles",
                          "type": "application/json", "title": f"{d.title}: styles"})
    if d.extent_wgs84:
        data["extent"] = {"spatial": {"bbox": [list(d.extent_wgs84)], "crs": CRS84}}
    data["links"] += _map_links(d, href)
    if d.kind == "raster":
        data["layerDataType"] = "Raster"  # GDAL's OGC API Features client leaves it out (no /items)
        if d.raster.get("times"):  # a raster time stack: its times, for ?datetime= of its map and tiles
            times = d.raster["times"]
            data.setdefault("extent", {})["temporal"] = {"interval": [[times[0], times[-1]]], "values": times,
                                                         "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    if d.kind == "vector":
        data["itemType"] = "feature"
        data["layerDataType"] = "Vector"
        data["crs"] = crs_list(d)
        if storage_crs(d):
            data["storageCrs"] = storage_crs(d)
        data["links"].append({"rel": "items", "href": f"{href}/items", "type": "application/geo+json",
                              "title": d.title})
        data["links"].append({"rel": f"{OGC_REL}queryables",
                              "href": f"{href}/queryables", "type": "application/schema+json"})
        for fmt, (media, _, _) in FORMATS.items():
            data["links"].append({"rel": "enclosure", "href": f"{href}/download?f={fmt}", "type": media,
                                  "title": f"{d.title} ({fmt})"})
        data["links"].append({"rel": "describedby", "href": f"{href}/schema", "type": "application/schema+json",
                              "title": f"{d.title}: schema"})
        # GDAL (3.6 and later) types every field, 64-bit integers included, from an XML Schema under this rel.
        data["links"].append({"rel": "describedBy", "href": f"{href}/schema?f=xml", "type": "text/xml",
                              "title": f"{d.title}: XML schema"})
    if edr_metadata:
        extra = dict(edr_metadata)
        data["links"] += extra.pop("links")
        temporal = extra.pop("temporal")
        data.setdefault("extent", {}).setdefault("temporal", temporal)  # a stack's own lists its times too
        data.update(extra)
    return data


def _map_links(d: Dataset, href: str) -> list[dict[str, Any]]:
    """OGC API Tiles and Maps relations: the tilesets and the map of a collection."""
    kind = "vector" if d.kind == "vector" else "map"
    links = [{"rel": f"{OGC_REL}tilesets-{kind}", "href": f"{href}/tiles", "type": "application/json",
              "title": f"{d.title}: tilesets"}]
    links += [{"rel": f"{OGC_REL}map", "href": f"{href}/map?f={f}", "type": media, "title": f"{d.title}: map"}
              for f, media in (("png", "image/png"), ("jpeg", "image/jpeg"))]
    if kind == "vector":
        # GDAL's OGC API driver (3.6) opens a collection through the first typed relation it finds among
        # tiles, map and items: untyped, the tiles and map of a vector collection leave it to read the items.
        for link in links:
            del link["type"]
    return links


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
    extra = collection_extra(site, datasets, base)
    items = [collection_json(d, base, extra.get(d.id)) for d in datasets] + [catalog_json(site, base)]
    return {"collections": items, "crs": common_crs(),
            "links": [{"rel": "self", "href": f"{base}/ogc/collections", "type": "application/json"},
                      {"rel": "alternate", "href": f"{base}/ogc/collections?f=html", "type": "text/html"}]}


@router.get("/collections/{collection_id}")
def collection(collection_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> Any:
    dataset = site.catalog.get_dataset(collection_id)
    if wants_html(request):
        return render(request, "collection", collection=dataset, formats=list(FORMATS), heading=dataset.title)
    base = base_url(request)
    return collection_json(dataset, base, collection_extra(site, [dataset], base).get(dataset.id))
