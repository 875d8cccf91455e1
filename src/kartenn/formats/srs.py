"""CRS names and their axis order: kept for the modules that import them from here; see ``kartenn.crs``."""

from kartenn.crs import canonical, north_first, to_crs

__all__ = ["canonical", "north_first", "to_crs"]
