"""WFS-T (Transaction: Insert, Update, Delete) on both stores, for editors of the owning organisation."""

from __future__ import annotations

import shapely
from lxml import etree
from pyproj import Transformer

from conftest import shared

REGIONS = "france-admin-express-2018/regions.geojson"
WFS = "http://www.opengis.net/wfs/2.0"
GML = "http://www.opengis.net/gml/3.2"
FES = "http://www.opengis.net/fes/2.0"
INSERT = f"""<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:gml="{GML}"
    xmlns:fes="{FES}" xmlns:kartenn="urn:x-kartenn:features">
  <wfs:Insert>
    <kartenn:regions>
      <kartenn:geom><gml:Polygon gml:id="p1" srsName="urn:ogc:def:crs:EPSG::2154"><gml:exterior><gml:LinearRing>
        <gml:posList>145000 6830000 150000 6830000 150000 6835000 145000 6835000 145000 6830000</gml:posList>
      </gml:LinearRing></gml:exterior></gml:Polygon></kartenn:geom>
      <kartenn:code>99</kartenn:code><kartenn:nom>Île Nouvelle</kartenn:nom>
    </kartenn:regions>
  </wfs:Insert>
</wfs:Transaction>"""


def total(response, name: str) -> str | None:
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).findtext(f"{{{WFS}}}TransactionSummary/{{{WFS}}}total{name}")


def test_transactions_for_editors(site, server):
    """WFS-T as QGIS sends it: insert, update, delete; editors of the owning organisation only."""
    from kartenn.domain.security import Sharing
    from kartenn.services.identity import create_token
    from kartenn.services.publish import publish_file

    site.accounts.add_organisation("iuem")
    assert not publish_file(site, shared(REGIONS), sharing=Sharing(org="iuem"))[0].error
    for user, role in (("wfs-editor", "editor"), ("wfs-member", "member")):
        site.accounts.add_user(user)
        site.accounts.set_membership(user, "iuem", role)
    editor, member = create_token(site, "wfs-editor"), create_token(site, "wfs-member")
    with server.client() as anonymous:
        r = anonymous.post("/wfs", content=INSERT)
        assert r.status_code == 401 and b"ExceptionReport" in r.content
    with server.client(member) as http:
        assert http.post("/wfs", content=INSERT).status_code == 403
    with server.client(editor) as http:
        r = http.post("/wfs", content=INSERT)
        assert total(r, "Inserted") == "1"
        rid = etree.fromstring(r.content).find(f".//{{{FES}}}ResourceId").get("rid")
        fid = int(rid.split(".")[-1])
        new = http.get(f"/ogc/collections/regions/items/{fid}").json()
        assert new["properties"]["nom"] == "Île Nouvelle"
        shape = shapely.geometry.shape(new["geometry"])
        to_wgs84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
        lon, lat = to_wgs84.transform(147500, 6832500)
        assert shape.geom_type == "MultiPolygon" and shape.contains(shapely.Point(lon, lat))
        # Found through the spatial index, and counted in the dataset.
        found = http.get("/ogc/collections/regions/items",
                         params={"bbox": f"{lon - .001},{lat - .001},{lon + .001},{lat + .001}"}).json()
        assert fid in [f["id"] for f in found["features"]]
        assert http.get("/ogc/collections/regions/items").json()["numberMatched"] == 14
        update = f"""<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:fes="{FES}">
          <wfs:Update typeName="kartenn:regions">
            <wfs:Property><wfs:ValueReference>nom</wfs:ValueReference><wfs:Value>Île Renommée</wfs:Value></wfs:Property>
            <fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter>
          </wfs:Update>
        </wfs:Transaction>"""
        assert total(http.post("/wfs", content=update), "Updated") == "1"
        assert http.get(f"/ogc/collections/regions/items/{fid}").json()["properties"]["nom"] == "Île Renommée"
        bad = update.replace("<wfs:ValueReference>nom", "<wfs:ValueReference>colour")
        assert http.post("/wfs", content=bad).status_code == 400
        no_filter = update.replace(f'<fes:Filter><fes:ResourceId rid="{rid}"/></fes:Filter>', "")
        assert http.post("/wfs", content=no_filter).status_code == 400
        delete = f"""<wfs:Transaction service="WFS" version="2.0.0" xmlns:wfs="{WFS}" xmlns:fes="{FES}">
          <wfs:Delete typeName="kartenn:regions"><fes:Filter><fes:PropertyIsEqualTo>
            <fes:ValueReference>code</fes:ValueReference><fes:Literal>99</fes:Literal>
          </fes:PropertyIsEqualTo></fes:Filter></wfs:Delete>
        </wfs:Transaction>"""
        assert total(http.post("/wfs", content=delete), "Deleted") == "1"
        assert http.get(f"/ogc/collections/regions/items/{fid}").status_code == 404
        assert http.get("/ogc/collections/regions/items").json()["numberMatched"] == 13
        caps = http.get("/wfs", params={"service": "WFS", "request": "GetCapabilities"}).text
        assert 'name="Transaction"' in caps
    assert "features.edit" in {e["event"] for e in site.accounts.audit_log()}
