"""The JSON API under /api/v1."""

from fastapi import APIRouter

from kartenn.web.api import admin, datasets, harvests, jobs, maps, records, styles, thesauri, uploads

router = APIRouter(prefix="/api/v1")
router.include_router(datasets.router)
router.include_router(jobs.router)
router.include_router(uploads.router)
router.include_router(records.router)
router.include_router(admin.router)
router.include_router(maps.router)
router.include_router(styles.router)
router.include_router(thesauri.router)
router.include_router(harvests.router)
