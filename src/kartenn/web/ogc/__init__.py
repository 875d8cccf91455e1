"""OGC API under /ogc."""

from fastapi import APIRouter

from kartenn.web.ogc import collections, downloads, features, openapi, styles

router = APIRouter()
router.include_router(collections.router)
router.include_router(features.router)
router.include_router(downloads.router)
router.include_router(openapi.router)
router.include_router(styles.router)

__all__ = ["router"]
