"""Kartenn: a spatial data infrastructure in one Python package."""

__version__ = "0.1.0"
