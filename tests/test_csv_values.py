"""A published CSV keeps every value as written: only empty cells are null ("NA" is Namibia), on both stores."""

from __future__ import annotations

import csv

import shapely

from conftest import shared
from kartenn.services.publish import publish_file

CITIES = "geonames-cities1000/rg_cities1000.csv"


def test_every_csv_value_is_kept(site):
    with open(shared(CITIES), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sum(r["cc"] == "NA" for r in rows) > 40  # Namibia's places
    (outcome,) = publish_file(site, shared(CITIES))
    assert outcome.error is None, outcome.error
    ds = outcome.dataset
    fields = [f.name for f in ds.fields]
    assert fields == ["name", "admin1", "admin2", "cc"]
    features = sorted(site.features.features_in_box(ds.storage, fields, (-180, -90, 180, 90), len(rows) + 1),
                      key=lambda f: f["fid"])
    assert len(features) == len(rows)
    for row, feature in zip(rows, features, strict=True):
        assert feature["properties"] == {k: row[k] or None for k in fields}, row
        point = shapely.from_wkb(feature["wkb"])
        assert (point.x, point.y) == (float(row["lon"]), float(row["lat"])), row
