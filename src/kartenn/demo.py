"""The demo site: real open datasets shipped in demo/data, published once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from kartenn.domain.security import Sharing
from kartenn.services.publish import publish_file
from kartenn.site import Site

DEMO_DATA = Path(__file__).resolve().parents[2] / "demo" / "data"
# Each demo file and its description (from demo/data/LICENCES.md): title, abstract, keywords, ISO topic
# categories, licence and lineage, so that search, facets and the dataset pages have something to show.
DESCRIPTIONS: dict[str, dict] = {
    "regions-france.geojson": {
        "title": "Régions de France (IGN Admin Express 2018)",
        "abstract": "Les 13 régions de France métropolitaine, limites simplifiées d'Admin Express COG 2018.",
        "keywords": ["limites administratives", "régions", "France"], "topics": ["boundaries"],
        "licence": "Licence Ouverte / Open Licence (Etalab) — IGN, INSEE 2018", "language": "fre",
        "lineage": "IGN Admin Express COG 2018, simplified (github gregoiredavid/france-geojson).",
    },
    "poi_portugal.gpkg": {
        "title": "Points of interest, Portugal (OpenStreetMap)",
        "abstract": "8,107 OpenStreetMap points of interest in Portugal: shops, amenities, tourism.",
        "keywords": ["points of interest", "OpenStreetMap", "Portugal"], "topics": ["location"],
        "licence": "ODbL 1.0 — © OpenStreetMap contributors", "language": "eng",
        "lineage": "OpenStreetMap extract, from the pygeoapi test data.",
    },
    "boulder_buildings.zip": {
        "title": "Building footprints, Boulder",
        "abstract": "13,491 building footprints of Boulder, Colorado, with their year of construction.",
        "keywords": ["buildings", "footprints", "Boulder"], "topics": ["structure"],
        "licence": "MIT — © 2022 Johannes H. Uhl", "language": "eng",
        "lineage": "MTBF-33 building footprints (Uhl & Leyk 2022), from github opengeos/data.",
    },
    "opengeos-dtm.tif": {
        "title": "Lidar terrain model (DTM, 2 m)",
        "abstract": "Digital terrain model at 2 m resolution derived from airborne lidar (EPSG:26918).",
        "keywords": ["elevation", "lidar", "DTM"], "topics": ["elevation"],
        "licence": "MIT", "language": "eng", "lineage": "Lidar DTM, from github opengeos/data (elevation/dtm.tif).",
    },
    "landsat-rgb.tif": {
        "title": "Landsat 7 RGB scene",
        "abstract": "A subset of a Landsat 7 ETM+ scene in natural colours (red, green, blue bands; EPSG:32618).",
        "keywords": ["imagery", "Landsat", "satellite"], "topics": ["imageryBaseMapsEarthCover"],
        "licence": "CC0", "language": "eng", "lineage": "Landsat 7 ETM+ subset, from the rasterio test data.",
    },
    "coads_sst.nc": {
        "title": "Sea surface temperature, monthly climatology (COADS)",
        "abstract": "Monthly mean sea-surface temperature of the world on a 2° grid: a raster over twelve times.",
        "keywords": ["sea surface temperature", "ocean", "climatology"], "topics": ["oceans"],
        "licence": "NOAA PSL terms of use (ICOADS, NOAA PSL)", "language": "eng",
        "lineage": "ICOADS monthly climatology (NOAA PSL), from the pygeoapi test data.", "variable": "SST",
    },
    "wmo-stations.csv": {
        "title": "WMO weather stations",
        "abstract": "78 WMO weather observing stations with their WIGOS identifiers.",
        "keywords": ["meteorology", "weather stations", "WMO"], "topics": ["climatologyMeteorologyAtmosphere"],
        "licence": "Apache-2.0", "language": "eng", "lineage": "wis2box station list, from the pygeoapi test data.",
    },
    "naturalearth_countries.zip": {
        "title": "Countries of the world (Natural Earth)",
        "abstract": "177 countries of the world at 1:110 million scale, with population and GDP estimates.",
        "keywords": ["countries", "boundaries", "world"], "topics": ["boundaries"],
        "licence": "Public domain — Made with Natural Earth", "language": "eng",
        "lineage": "Natural Earth 1:110m admin 0 countries (geopandas naturalearth_lowres).",
    },
    "ne_110m_lakes.geojson": {
        "title": "Lakes of the world (Natural Earth)",
        "abstract": "The 25 largest lakes of the world at 1:110 million scale.",
        "keywords": ["hydrography", "lakes", "world"], "topics": ["inlandWaters"],
        "licence": "Public domain — Made with Natural Earth", "language": "eng",
        "lineage": "Natural Earth 1:110m lakes, from the pygeoapi test data.",
    },
    "portland-tide-gauge.csv": {
        "title": "Tide gauge, Portland, Maine: monthly mean sea level 1912–2020",
        "abstract": "Monthly mean sea level and its linear trend (metres) at NOAA tide gauge 8418150, Portland, "
                    "Maine, January 1912 to March 2020: a station dataset, read through OGC API – EDR.",
        "keywords": ["sea level", "tide gauge", "time series"], "topics": ["oceans"],
        "licence": "US public domain (NOAA)", "language": "eng", "series": "auto",
        "lineage": "NOAA CO-OPS sea level trends for station 8418150, in long form (tests/data/timeseries).",
    },
}
DEMO_ORG = ("demo", "Kartenn demo")  # owns the demo datasets (they stay public)
DEMO_ADMIN = "admin"


def demo_admin(site: Site) -> str | None:
    """Make the demo's platform administrator on the first run; its password, returned once, is kept nowhere
    else (only its hash). None when the account exists already."""
    import secrets

    from kartenn.domain.security import OPERATOR
    from kartenn.errors import NotFound
    from kartenn.services import accounts

    try:
        site.accounts.get_user(DEMO_ADMIN)
        return None
    except NotFound:
        pass
    password = secrets.token_urlsafe(12)
    accounts.add_user(site.seen_by(OPERATOR), DEMO_ADMIN, role="admin", password=password)
    return password


def load_demo(site: Site, console: Console) -> None:
    """Publish each demo file not published yet (by source name), so running it twice is harmless."""
    if not DEMO_DATA.exists():
        console.print(f"demo data not found in {DEMO_DATA}")
        return
    if DEMO_ORG[0] not in {o["id"] for o in site.accounts.list_organisations()}:
        site.accounts.add_organisation(*DEMO_ORG)
    done = {d.source.split("/")[0] for d in site.catalog.list_datasets()}
    for name, text in DESCRIPTIONS.items():
        if name in done:
            continue
        for outcome in publish_file(site, DEMO_DATA / name, title=text["title"], sharing=Sharing(org=DEMO_ORG[0]),
                                    variable=text.get("variable"), series=text.get("series")):
            if outcome.error:
                console.print(f"[red]error:[/red] {outcome.source}: {outcome.error}")
            else:
                describe(site, outcome.dataset.record_id, text)
                console.print(f"published {outcome.dataset.id}: {outcome.dataset.title}", highlight=False)


def describe(site: Site, record_id: str, text: dict) -> None:
    record = site.catalog.get_record(record_id)
    described = replace(record, abstract=text["abstract"], keywords=text["keywords"], topics=text["topics"],
                        constraints=[text["licence"]], language=text["language"], lineage=text["lineage"])
    with site.catalog.engine.begin() as conn:
        site.catalog.put_record(conn, described)
