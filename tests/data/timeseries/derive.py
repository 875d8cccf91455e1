"""Make the derived station files of this folder from the originals beside them (run from this folder).

- portland-8418150-msl-long.csv: NOAA's monthly table in long form (station, time, variable, value, unit, lon, lat):
  Monthly_MSL and Linear_Trend in metres, months without a value left out; the gauge's position from NOAA's
  station page (43.6567 N, 70.2467 W).
- hydat-02HC003-daily.geojson: the pygeoapi TinyDB file's features as a GeoJSON FeatureCollection, by date.
- seattle-newyork-weather.csv: vega's daily weather with the lon/lat of each city's station added
  (Seattle-Tacoma airport 47.4444 N 122.3139 W, New York Central Park 40.7789 N 73.9692 W).
"""

import csv
import json

with open("noaa-8418150-portland-me-monthly-msl.csv", newline="") as f, \
        open("portland-8418150-msl-long.csv", "w", newline="") as out:
    rows = csv.reader(f)
    next(rows)
    w = csv.writer(out)
    w.writerow(["station", "time", "variable", "value", "unit", "lon", "lat"])
    for row in rows:
        year, month, msl, _, trend = (c.strip() for c in row[:5])
        for variable, value in (("Monthly_MSL", msl), ("Linear_Trend", trend)):
            if value:
                w.writerow(["8418150", f"{int(year):04d}-{int(month):02d}-01", variable, value, "m", -70.2467, 43.6567])

with open("canada-hydat-daily-mean-02HC003.json") as f:
    features = list(json.load(f)["_default"].values())
features.sort(key=lambda ft: ft["properties"]["DATE"])
with open("hydat-02HC003-daily.geojson", "w") as out:
    json.dump({"type": "FeatureCollection", "features": features}, out)

places = {"Seattle": (-122.3139, 47.4444), "New York": (-73.9692, 40.7789)}
with open("vega-weather-seattle-newyork.csv", newline="") as f, \
        open("seattle-newyork-weather.csv", "w", newline="") as out:
    rows = csv.DictReader(f)
    w = csv.DictWriter(out, [*rows.fieldnames, "lon", "lat"])
    w.writeheader()
    for row in rows:
        lon, lat = places[row["location"]]
        w.writerow({**row, "lon": lon, "lat": lat})
