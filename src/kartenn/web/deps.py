"""Shared request dependencies: the site and the job runner, from the application state."""

from __future__ import annotations

from fastapi import Request

from kartenn.services.jobs import JobRunner
from kartenn.site import Site


def get_site(request: Request) -> Site:
    return request.app.state.site  # type: ignore[no-any-return]


def get_jobs(request: Request) -> JobRunner:
    return request.app.state.jobs  # type: ignore[no-any-return]


def base_url(request: Request) -> str:
    configured = request.app.state.site.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")
