"""The ASGI application: ``create_app(settings)`` mounts every router on one FastAPI app.

>>> app = create_app(Settings.load("./site"))   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kartenn import __version__
from kartenn.config import Settings
from kartenn.services.jobs import JobRunner
from kartenn.site import Site
from kartenn.web import api, auth, errors, ogc, operations, ows, portal
from kartenn.web.caching import CachePolicy
from kartenn.web.former_paths import FormerPaths
from kartenn.web.ogc import tiles as ogc_tiles
from kartenn.web.portal.context import static_files
from kartenn.web.responses import JSONResponse
from kartenn.web.security import SecurityHeaders
from kartenn.web.validators import Validators
from kartenn.web.warmup import WarmUp
from kartenn.web.warmup import start as start_imports


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        site = Site.open(settings)
        jobs = JobRunner(site, workers=settings.job_workers)
        jobs.recover()
        app.state.site, app.state.jobs = site, jobs
        app.state.ready = True
        start_imports()  # what requests import on first use, in one thread; requests wait for it
        yield
        jobs.shutdown()
        site.close()

    app = FastAPI(title=settings.title, version=__version__, lifespan=lifespan,
                  default_response_class=JSONResponse, openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None)
    app.state.ready = False
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Validators)
    app.add_middleware(CachePolicy)
    app.add_middleware(WarmUp)
    if settings.former_paths:
        app.add_middleware(FormerPaths)
    app.add_middleware(operations.RequestMetrics)  # the outermost: it sees every answer as sent
    errors.install(app)
    # Tiles and the OGC web services first: the router tries routes in order, and these answer most requests
    # (no path of theirs is one of the others').
    app.include_router(ogc_tiles.router)
    app.include_router(ows.router)
    app.include_router(api.router)
    app.include_router(ogc.router)
    app.include_router(portal.router)
    app.include_router(auth.router)
    app.include_router(operations.router)  # /readyz, /metrics
    app.mount("/static", static_files(), name="static")  # the portal's built front end

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        ready = app.state.ready
        return JSONResponse({"status": "ok" if ready else "starting"}, status_code=200 if ready else 503)

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: the data directory comes from KARTENN_DATA_DIR."""
    return create_app(Settings.load(os.environ.get("KARTENN_DATA_DIR", "site")))
