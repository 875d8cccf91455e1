"""Harvest sources through the JSON API (platform administrators): add, list, run, remove, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from kartenn.errors import InvalidInput
from kartenn.services import harvest
from kartenn.services.access import SiteView
from kartenn.services.jobs import JobRunner
from kartenn.web.api.jobs import job_json
from kartenn.web.deps import base_url, get_jobs, get_site

router = APIRouter(tags=["harvests"])
Site = Annotated[SiteView, Depends(get_site)]


def _text(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} must be a non-empty string", locator=name)
    return value.strip()


@router.get("/harvests")
def sources(site: Site) -> dict[str, Any]:
    return {"harvests": [harvest.source_json(s) for s in harvest.list_sources(site)]}


@router.post("/harvests", status_code=201)
def add_source(site: Site, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """``{"name", "type", "url", "org", "every": "6h", "query", "public": true}``."""
    harvest.require_admin(site)
    public = body.get("public", True)
    if not isinstance(public, bool):
        raise InvalidInput("public must be true or false", locator="public")
    every = _text(body, "every")
    src = harvest.HarvestSource(str(_text(body, "name", True)), str(_text(body, "type", True)),
                                str(_text(body, "url", True)), _text(body, "org"), public,
                                harvest.parse_interval(every) if every else None, _text(body, "query"))
    return harvest.source_json(harvest.add_source(site, src))


@router.get("/harvests/{name}")
def source(name: str, site: Site) -> dict[str, Any]:
    return harvest.source_json(harvest.get_source(site, name))


@router.delete("/harvests/{name}")
def remove_source(name: str, site: Site) -> dict[str, Any]:
    return {"removed": name, "records": harvest.remove_source(site, name)}


@router.post("/harvests/{name}/run", status_code=202)
def run(name: str, request: Request, site: Site, jobs: Annotated[JobRunner, Depends(get_jobs)]) -> dict[str, Any]:
    """Harvest now, as a job (its own process, with the jobs' limits): the job, whose result is the run as the
    history keeps it; a run that fails fails the job with its reason."""
    job = harvest.request_run(site, name, jobs.submit)
    return job_json(job, base_url(request))


@router.get("/harvests/{name}/history")
def history(name: str, site: Site) -> dict[str, Any]:
    return {"runs": [harvest.run_json(r) for r in harvest.history(site, name)]}
