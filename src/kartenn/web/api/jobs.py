"""Jobs: state, progress and log of long work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from kartenn.domain import Job
from kartenn.errors import NotFound
from kartenn.site import Site
from kartenn.web.deps import base_url, get_site

router = APIRouter(tags=["jobs"])


def job_json(job: Job, base: str) -> dict[str, Any]:
    data = job.as_dict()
    data["params"] = {k: v for k, v in job.params.items() if k != "path"}  # server paths stay private
    data["links"] = [{"rel": "self", "href": f"{base}/api/v1/jobs/{job.id}", "type": "application/json"}]
    for dataset_id in job.result.get("datasets", []):
        data["links"].append({"rel": "item", "href": f"{base}/api/v1/datasets/{dataset_id}",
                              "type": "application/json"})
    return data


@router.get("/jobs")
def list_jobs(request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    base = base_url(request)
    return {"jobs": [job_json(j, base) for j in site.catalog.list_jobs() if site.may_see_job(j.params)]}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    job = site.catalog.get_job(job_id)
    if not site.may_see_job(job.params):
        raise NotFound(f"no job {job_id!r}")
    return job_json(job, base_url(request))
