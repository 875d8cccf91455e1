"""Pure conversions between bytes and domain objects: metadata documents, styles, geometry encodings."""
