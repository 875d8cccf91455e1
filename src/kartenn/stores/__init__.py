"""Stores: the only code that talks to SQLite, GeoPackage, PostgreSQL/PostGIS or the file system."""
