"""Default styles: readable on light and dark basemaps, chosen by geometry type or raster bands."""

from __future__ import annotations

from typing import Any

FILL = "#2f7ebc"
STROKE = "#f5f5f5"
OUTLINE = "#16425b"


def default_vector_style(geometry_type: str) -> dict[str, Any]:
    """
    >>> default_vector_style("MultiPolygon")["rules"][0]["symbolizers"][0]["kind"]
    'fill'
    """
    kind = geometry_type.lower()
    if "polygon" in kind:
        symbolizer = {"kind": "fill", "color": FILL, "opacity": 0.45, "outline_color": OUTLINE,
                      "outline_width": 1.0}
    elif "line" in kind:
        symbolizer = {"kind": "line", "color": FILL, "width": 2.0, "casing_color": STROKE, "casing_width": 3.5}
    else:
        symbolizer = {"kind": "marker", "shape": "circle", "color": FILL, "radius": 4.0,
                      "outline_color": STROKE, "outline_width": 1.0}
    return {"name": "default", "title": "Default", "rules": [{"name": "all", "symbolizers": [symbolizer]}]}


def default_raster_style(bands: int, dtype: str, stats: list[tuple[float, float]]) -> dict[str, Any]:
    if bands >= 3 and dtype == "uint8":
        return {"name": "default", "title": "Default", "kind": "rgb", "bands": [1, 2, 3]}
    low, high = stats[0] if stats else (0.0, 255.0)
    return {"name": "default", "title": "Default", "kind": "ramp", "band": 1, "ramp": "viridis",
            "min": low, "max": high}
