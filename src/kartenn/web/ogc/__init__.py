"""OGC API under /ogc."""

from fastapi import APIRouter

from kartenn.web.ogc import collections, downloads, edr, features, openapi, records, styles

router = APIRouter()
router.include_router(records.router)  # before /collections/{id}: the catalogue is not a dataset
router.include_router(collections.router)
router.include_router(features.router)
router.include_router(downloads.router)
router.include_router(edr.router)
router.include_router(openapi.router)
router.include_router(styles.router)

__all__ = ["router"]
