"""How WMS answers a failure: a service exception report in the version's form, or an image for
EXCEPTIONS=INIMAGE or BLANK."""

from __future__ import annotations

import re

from starlette.responses import Response

from kartenn.services import legend, render
from kartenn.web.ows.common import WMS_111, WMS_130, OWSError, report_response
from kartenn.web.ows.wms_map import IMAGE_FORMATS

EXCEPTIONS_130 = {"XML": "xml", "INIMAGE": "inimage", "BLANK": "blank"}
EXCEPTIONS_111 = {"application/vnd.ogc.se_xml": "xml", "application/vnd.ogc.se_inimage": "inimage",
                  "application/vnd.ogc.se_blank": "blank"}


def error_response(exc: OWSError, params: dict[str, str], version: str) -> Response:
    """XML by default; an image for EXCEPTIONS=INIMAGE or BLANK when the map parameters allow one."""
    table = EXCEPTIONS_130 if version == "1.3.0" else EXCEPTIONS_111
    mode = table.get(params.get("exceptions", ""), {**EXCEPTIONS_130, **EXCEPTIONS_111}.get(
        params.get("exceptions", "").upper(), "xml"))
    if mode != "xml" and params.get("request", "").lower() in ("getmap", "map"):
        try:
            cap = 4096
            width = min(max(int(params.get("width", "")), 1), cap)
            height = min(max(int(params.get("height", "")), 1), cap)
            fmt = IMAGE_FORMATS.get(params.get("format", "image/png").lower(), "png")
        except ValueError:
            return exception_response(exc, version)
        if mode == "blank":
            transparent = params.get("transparent", "false").lower() == "true"
            bg = params.get("bgcolor")
            bg = "#" + bg[-6:] if bg and re.fullmatch(r"(0x|#)?[0-9a-fA-F]{6}", bg) else None
            body = render.blank_image(width, height, fmt, transparent=transparent, bgcolor=bg)
        else:
            body = legend.message_image(f"{exc.code}: {exc.message}", width, height, fmt)
        return Response(body, media_type=render.MEDIA_TYPES[fmt])
    return exception_response(exc, version)


def exception_response(exc: OWSError, version: str, headers: dict[str, str] | None = None) -> Response:
    return report_response(exc, WMS_130 if version == "1.3.0" else WMS_111, headers)
