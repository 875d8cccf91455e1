"""Opens the layers of a migrated site the way a QGIS project made against GeoServer names them (run by
/usr/bin/python3 with python3-qgis, headless).

Argument: a JSON object {"url"}. Prints one JSON object: per layer whether QGIS finds it, its extent and whether
a map of it comes back.
"""

import json
import sys

from qgis.core import QgsApplication, QgsRasterLayer


def wms(url, path, name):
    uri = f"crs=EPSG:4326&format=image/png&layers={name}&styles=&url={url}{path}"
    lyr = QgsRasterLayer(uri, name, "wms")
    if not lyr.isValid():
        return {"valid": False}
    image = lyr.dataProvider().block(1, lyr.extent(), 64, 32)  # a GetMap, drawn by QGIS's WMS provider
    return {"valid": True, "extent": [round(v, 2) for v in (lyr.extent().xMinimum(), lyr.extent().yMinimum(),
                                                           lyr.extent().xMaximum(), lyr.extent().yMaximum())],
            "drawn": image.isValid() and not image.isEmpty()}


def main():
    args = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    url = args["url"]
    report = {
        "wms ows ne:countries": wms(url, "/geoserver/ows", "ne:countries"),
        "wms workspace countries": wms(url, "/geoserver/ne/wms", "countries"),
        "wms ows topp:departements": wms(url, "/geoserver/ows", "topp:departements"),
    }
    print(json.dumps(report))
    app.exitQgis()


main()
