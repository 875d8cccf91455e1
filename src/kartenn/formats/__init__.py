"""Pure conversions between bytes and domain objects (styles, metadata, geometry encodings)."""
