"""The demo site: real open datasets shipped in demo/data, published once."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kartenn.services.publish import publish_file
from kartenn.site import Site

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo" / "data"
TITLES = {
    "regions-france.geojson": "Régions de France (IGN Admin Express 2018)",
    "poi_portugal.gpkg": "Points of interest, Portugal (OpenStreetMap)",
    "boulder_buildings.zip": "Building footprints, Boulder",
    "opengeos-dtm.tif": "Lidar terrain model (DTM, 2 m)",
    "landsat-rgb.tif": "Landsat 7 RGB scene",
    "wmo-stations.csv": "WMO weather stations",
    "naturalearth_countries.zip": "Countries of the world (Natural Earth)",
    "ne_110m_lakes.geojson": "Lakes of the world (Natural Earth)",
}


def load_demo(site: Site, console: Console) -> None:
    """Publish each demo file not published yet (by source name), so running it twice is harmless."""
    if not DEMO_DATA.exists():
        console.print(f"demo data not found in {DEMO_DATA}")
        return
    done = {d.source.split("/")[0] for d in site.catalog.list_datasets()}
    for name, title in TITLES.items():
        if name in done:
            continue
        for outcome in publish_file(site, DEMO_DATA / name, title=title):
            if outcome.error:
                console.print(f"[red]error:[/red] {outcome.source}: {outcome.error}")
            else:
                console.print(f"published {outcome.dataset.id}: {outcome.dataset.title}", highlight=False)
