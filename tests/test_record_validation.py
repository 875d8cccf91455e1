"""The validation report of records on both stores, through a live server: XSD errors and INSPIRE warnings."""

from __future__ import annotations

from conftest import shared

RECORDS = shared("iso-metadata-records")
GOOD = "pycsw-apiso/T_aerfo_RAS_1991_GR800P001800000012.xml"
SERVICE = "pycsw-apiso/3e9a8c05.xml"  # an extent where the 2006 schema does not allow one
GEOBRETAGNE = "owslib-real-records/csw_geobretagne_mdmetadata.xml"


def test_validation_report(server, site, editor_token):
    from kartenn.services.identity import create_token

    with server.client(editor_token) as http:
        for name in (GOOD, SERVICE, GEOBRETAGNE):
            r = http.post("/api/v1/records", content=(RECORDS / name).read_bytes(),
                          headers={"Content-Type": "application/xml"})
            assert r.status_code == 201, r.text
        ids = [site.catalog.get_record(i).id for i in ("3e9a8c05", "955c3e47-411e-4969-b61b-3556d1b9f879")]
        good_id = "366f6257-19eb-4f20-ba78-0698ac4aae77"
        good = http.get(f"/api/v1/records/{good_id}/validation").json()
        assert good["valid"] is True and not [e for e in good["errors"] if e["level"] == "error"]
        service = http.get(f"/api/v1/records/{ids[0]}/validation").json()
        assert service["valid"] is False
        error = next(e for e in service["errors"] if e["level"] == "error")
        assert error["path"].startswith("MD_Metadata/identificationInfo") and "extent" in error["message"]
        bretagne = http.get(f"/api/v1/records/{ids[1]}/validation").json()
        warnings = {e["message"] for e in bretagne["errors"] if e["level"] == "warning"}
        assert all(set(e) == {"level", "path", "message"} for e in bretagne["errors"])
        assert not any("title" in w or "abstract" in w for w in warnings)  # the record has both
        assert http.get("/api/v1/records/nothing/validation").status_code == 404
    # only those who may edit the record
    site.accounts.add_user("marc")
    site.accounts.set_membership("marc", "iuem", "member")
    with server.client() as http:
        assert http.get(f"/api/v1/records/{ids[1]}/validation").status_code == 401
    with server.client(create_token(site, "marc")) as http:
        assert http.get(f"/api/v1/records/{ids[1]}/validation").status_code == 403


def test_generated_record_report(site):
    from kartenn.domain import Record
    from kartenn.services.validation import validate

    report = validate(Record(id="lacs", title="Lacs", abstract="Les lacs", language="fre", modified="2024-01-01",
                             extent_wgs84=(-5.0, 47.0, -1.0, 49.0)))
    assert report["valid"] is True
    messages = {e["message"] for e in report["errors"]}
    assert "no topic category" in messages and "no lineage" in messages
    assert not any("bounding box" in m or "title" in m for m in messages)
