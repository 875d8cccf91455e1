"""Edits a Kartenn WFS layer with QGIS itself (run by /usr/bin/python3 with python3-qgis, headless).

Argument: a JSON object {"url", "token", "versions", "plan": {version: {"insert", "rename", "delete"}}}.
Prints one JSON object: per version what QGIS saw and whether each commit succeeded.
"""

import json
import sys

from qgis.core import QgsApplication, QgsFeature, QgsFeatureRequest, QgsGeometry, QgsVectorLayer
from qgis.core import QgsVectorDataProvider as Provider

EDITS = Provider.AddFeatures | Provider.ChangeGeometries | Provider.ChangeAttributeValues | Provider.DeleteFeatures


def layer(url, version, token=None, user=None):
    uri = f"url='{url}/wfs' typename='kartenn:regions' version='{version}' restrictToRequestBBOX='0'"
    if token:
        uri += f" username='{user}' password='{token}'"
    return QgsVectorLayer(uri, f"regions {version}", "WFS")


def one(expression, lyr):
    found = list(lyr.getFeatures(QgsFeatureRequest().setFilterExpression(expression)))
    if len(found) != 1:
        raise LookupError(f"{len(found)} features where {expression}")
    return found[0]


def edit(args, version, plan):
    report = {}
    anonymous = layer(args["url"], version)
    report["anonymous_valid"] = anonymous.isValid()
    report["anonymous_can_edit"] = bool(anonymous.dataProvider().capabilities() & EDITS)
    lyr = layer(args["url"], version, args["token"], args["user"])
    report["valid"] = lyr.isValid()
    if not lyr.isValid():
        report["error"] = lyr.error().summary()
        return report
    caps = lyr.dataProvider().capabilities()
    report["can_edit"] = (caps & EDITS) == EDITS
    report["count_before"] = lyr.featureCount()
    # 1. a new feature
    lyr.startEditing()
    feature = QgsFeature(lyr.fields())
    feature.setAttribute("code", plan["insert"]["code"])
    feature.setAttribute("nom", plan["insert"]["nom"])
    feature.setGeometry(QgsGeometry.fromWkt(plan["insert"]["wkt"]))
    report["added"] = lyr.addFeature(feature)
    report["commit_insert"] = lyr.commitChanges()
    report["errors_insert"] = lyr.commitErrors()
    # 2. move it, rename another, delete a third: one commit
    lyr.startEditing()
    new = one(f"\"code\" = '{plan['insert']['code']}'", lyr)
    moved = QgsGeometry(new.geometry())
    moved.translate(*plan["move"])
    report["moved"] = lyr.changeGeometry(new.id(), moved)
    renamed = one(f"\"code\" = '{plan['rename']['code']}'", lyr)
    report["renamed"] = lyr.changeAttributeValue(renamed.id(), lyr.fields().indexOf("nom"), plan["rename"]["nom"])
    gone = one(f"\"code\" = '{plan['delete']}'", lyr)
    report["deleted"] = lyr.deleteFeature(gone.id())
    report["commit_edits"] = lyr.commitChanges()
    report["errors_edits"] = lyr.commitErrors()
    return report


def main():
    args = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    out = {}
    for version in args["versions"]:
        try:
            out[version] = edit(args, version, args["plan"][version])
        except Exception as exc:  # reported, for the test to show
            out[version] = {"exception": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out))
    sys.stdout.flush()
    app.exitQgis()


main()
