"""The portal's server-rendered pages, in French and English."""

from kartenn.web.portal.pages import router

__all__ = ["router"]
