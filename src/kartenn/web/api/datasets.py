"""Datasets and their records."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from kartenn.domain import Dataset
from kartenn.services import datasets
from kartenn.services.access import SiteView
from kartenn.services.timedim import time_extent, time_field
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site

router = APIRouter(tags=["datasets"])


def dataset_json(d: Dataset, base: str) -> dict[str, Any]:
    data = d.as_dict()
    data.pop("storage")
    links = [{"rel": "self", "href": f"{base}/api/v1/datasets/{d.id}", "type": "application/json"},
             {"rel": "collection", "href": f"{base}/ogc/collections/{d.id}", "type": "application/json"},
             {"rel": "styles", "href": f"{base}/api/v1/datasets/{d.id}/styles", "type": "application/json"}]
    if d.kind == "vector":
        links.append({"rel": "items", "href": f"{base}/ogc/collections/{d.id}/items",
                      "type": "application/geo+json"})
    data["links"] = links
    return data


@router.get("/datasets")
def list_datasets(request: Request, site: Annotated[Site, Depends(get_site)],
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    base = base_url(request)
    items = site.catalog.list_datasets(limit=limit, offset=offset)
    return {"datasets": [dataset_json(d, base) for d in items], "numberReturned": len(items)}


@router.get("/datasets/{dataset_id}")
def get_dataset(dataset_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    dataset = site.catalog.get_dataset(dataset_id)
    data = dataset_json(dataset, base_url(request))
    record = site.catalog.get_record(dataset.record_id)
    data["record"] = {"id": record.id, "title": record.title, "abstract": record.abstract,
                      "state": record.state, "lineage": record.lineage, "keywords": record.keywords}
    extent = time_extent(site, dataset)
    if extent is not None:  # a time-enabled dataset: its times (for the viewer's slider) or their range
        field, (values, default) = time_field(dataset), extent
        data["time"] = {"field": field, "default": default}
        if values.endswith("/0"):
            data["time"]["start"], data["time"]["end"] = values.split("/")[:2]
        else:
            data["time"]["values"] = values.split(",")
    series = site.catalog.series_of([dataset.id]).get(dataset.id)
    if series is not None:  # a station dataset: what it measures, and where a chart reads one station's series
        data["series"] = {**series, "locations": f"{base_url(request)}/ogc/collections/{dataset.id}/locations"}
    return data


@router.delete("/datasets/{dataset_id}", status_code=204)
def remove_dataset(dataset_id: str, site: Annotated[SiteView, Depends(get_site)]) -> Response:
    """Delete a dataset and its data (those who may publish it: its organisation's editors, admins)."""
    datasets.remove(site, dataset_id)
    return Response(status_code=204)
