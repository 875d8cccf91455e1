"""The validation report of records on both stores, through a live server: XSD errors and INSPIRE warnings."""

from __future__ import annotations

from conftest import shared

RECORDS = shared("iso-metadata-records")
GOOD = "pycsw-apiso/T_aerfo_RAS_1991_GR800P001800000012.xml"
SERVICE = "pycsw-apiso/3e9a8c05.xml"  # an extent where the 2006 schema does not allow one
GEOBRETAGNE = "owslib-real-records/csw_geobretagne_mdmetadata.xml"
CATCHMENTS = "pycsw-iso19115-3/metawal.wallonie.be-catchments.xml"  # ISO 19115-3, mdb 2.0, valid
MODEL = "pycsw-iso19115-3/auscope-3d-model.xml"  # ISO 19115-3: a CI_Date without its dateType
WALLONIE_SERVICE = "pycsw-iso19115-3/metawal.wallonie.be-srv.xml"  # with a data quality (ISO 19157-2) part


def test_validation_report(server, site, editor_token):
    from kartenn.services.identity import create_token

    with server.client(editor_token) as http:
        for name in (GOOD, SERVICE, GEOBRETAGNE, CATCHMENTS, MODEL, WALLONIE_SERVICE):
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
        # ISO 19115-3 records against the ISO 19115-3 schemas
        catchments = http.get("/api/v1/records/74f81503-8d39-4ec8-a49a-c76e0cd74946/validation").json()
        assert catchments["valid"] is True, catchments
        model = http.get("/api/v1/records/5ebc3cb7-a3b5-4760-a8ff-851d5d5beb32/validation").json()
        assert model["valid"] is False
        error = next(e for e in model["errors"] if e["level"] == "error")
        assert "CI_Date" in error["message"] and "dateType" in error["message"], error
        assert error["path"].startswith("MD_Metadata/identificationInfo")
        service_id = site.catalog.get_record("1714cd1e-6685-4dea-a6f4-b51612a15ed0").id
        wallonie = http.get(f"/api/v1/records/{service_id}/validation").json()
        assert any("data quality (ISO 19157-2) part is not checked" in e["message"] for e in wallonie["errors"]
                   if e["level"] == "warning")
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
