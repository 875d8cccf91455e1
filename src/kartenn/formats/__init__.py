"""Pure conversions between metadata documents (bytes) and domain objects: no I/O, no database."""
