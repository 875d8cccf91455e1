"""OGC API under /ogc."""

from kartenn.web.ogc.collections import router

__all__ = ["router"]
