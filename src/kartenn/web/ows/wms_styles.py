"""GetLegendGraphic and GetStyles: a layer's style drawn as a legend, or the layers' styles as one SLD
document."""

from __future__ import annotations

from starlette.responses import Response

from kartenn.errors import NotFound
from kartenn.formats import sld
from kartenn.services import legend, render, styles
from kartenn.site import Site
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.wms_map import IMAGE_FORMATS, requested_layers


def get_legend_graphic(site: Site, params: dict[str, str]) -> Response:
    ds = requested_layers(site, params, "layer")[0]
    try:
        style = styles.style_for(site, ds, params.get("style", ""))
    except NotFound as exc:
        raise OWSError("StyleNotDefined", exc.message, "style") from None
    fmt = IMAGE_FORMATS.get(params.get("format", "image/png").lower(), "")
    if not fmt:
        raise OWSError("InvalidFormat", f"unsupported FORMAT {params.get('format')!r}", "format")
    return Response(legend.legend_image(style, fmt), media_type=render.MEDIA_TYPES[fmt])


def get_styles(site: Site, params: dict[str, str]) -> Response:
    """The layers' styles as one SLD 1.0 document (the SLD-WMS GetStyles operation)."""
    layers = [(ds.id, style) for ds in requested_layers(site, params) for style in styles.styles_of(site, ds).values()]
    return Response(sld.to_sld_layers(layers), media_type="application/vnd.ogc.sld+xml")
