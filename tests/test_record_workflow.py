"""The editing workflow on both stores through a live server: drafts, submission, review, versions, visibility
in the JSON API, its facets and CSW."""

from __future__ import annotations

from lxml import etree

from conftest import shared

RECORD = shared("iso-metadata-records/owslib-real-records/csw_geobretagne_mdmetadata.xml").read_bytes()
RID = "955c3e47-411e-4969-b61b-3556d1b9f879"
CSW = "http://www.opengis.net/cat/csw/2.0.2"


def csw_hits(http) -> int:  # type: ignore[no-untyped-def]
    r = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecords",
                                 "typenames": "csw:Record", "resulttype": "hits", "constraintlanguage": "CQL_TEXT",
                                 "constraint": "dc:title LIKE '%Cadastre%'"})
    return int(etree.fromstring(r.content).find(f"{{{CSW}}}SearchResults").get("numberOfRecordsMatched"))


def sees(http) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    search = http.get("/api/v1/records", params={"q": "cadastre"}).json()
    return {"record": http.get(f"/api/v1/records/{RID}").status_code == 200, "search": search["matched"] == 1,
            "facets": any(v["count"] for vs in search["facets"].values() for v in vs), "csw": csw_hits(http) == 1}


def test_draft_submit_review_publish(server, site, editor_token):
    from kartenn.services.identity import create_token

    site.accounts.add_organisation("lille")
    for user, org, role in (("rita", "iuem", "reviewer"), ("marc", "iuem", "member"), ("olga", "lille", "editor")):
        site.accounts.add_user(user)
        site.accounts.set_membership(user, org, role)
    tokens = {"anonymous": None, "editor": editor_token, **{who: create_token(site, user) for who, user in (
        ("reviewer", "rita"), ("member", "marc"), ("outsider", "olga"))}}
    clients = {who: server.client(token) for who, token in tokens.items()}
    editor, reviewer = clients["editor"], clients["reviewer"]
    try:
        r = editor.post("/api/v1/records", params={"draft": "true"}, content=RECORD,
                        headers={"Content-Type": "application/xml"})
        assert r.status_code == 201, r.text
        assert editor.get(f"/api/v1/records/{RID}").json()["state"] == "draft"
        # a draft: the organisation's editors and reviewers see it, nobody else
        for who, http in clients.items():
            expected = who in ("editor", "reviewer")
            assert sees(http) == dict.fromkeys(("record", "search", "facets", "csw"), expected), who
        # edits make versions; a whole document must keep the identifier
        r = editor.put(f"/api/v1/records/{RID}", json={"title": "Cadastre revu", "comment": "un titre plus clair"})
        assert r.status_code == 200 and r.json()["title"] == "Cadastre revu", r.text
        assert b"Cadastre revu" in editor.get(f"/api/v1/records/{RID}/iso19139.xml").content
        other = RECORD.replace(RID.encode(), b"another-id")
        assert editor.put(f"/api/v1/records/{RID}", content=other,
                          headers={"Content-Type": "application/xml"}).status_code == 400
        assert editor.put(f"/api/v1/records/{RID}", json={"lineage": "x"}).status_code == 400  # keeps its XML
        assert editor.put(f"/api/v1/records/{RID}", content=RECORD.replace(b"Cadastre 2018", b"Cadastre 2019"),
                          headers={"Content-Type": "application/xml"}).json()["title"] == "Cadastre 2019 en Bretagne"
        for who in ("anonymous", "member", "outsider"):
            status = clients[who].put(f"/api/v1/records/{RID}", json={"title": "x"}).status_code
            assert status == 404, who  # they do not see the draft at all
        # submit, reject with a comment, submit again, approve
        assert editor.post(f"/api/v1/records/{RID}/approve").status_code == 403  # editors do not review
        assert editor.post(f"/api/v1/records/{RID}/submit").json()["state"] == "submitted"
        assert editor.post(f"/api/v1/records/{RID}/submit").status_code == 409
        assert reviewer.post(f"/api/v1/records/{RID}/reject", json={}).status_code == 400
        r = reviewer.post(f"/api/v1/records/{RID}/reject", json={"comment": "il manque la généalogie"})
        assert r.json()["state"] == "draft"
        editor.post(f"/api/v1/records/{RID}/submit")
        assert reviewer.get("/api/v1/records", params={"state": "submitted"}).json()["matched"] == 1
        assert reviewer.post(f"/api/v1/records/{RID}/approve").json()["state"] == "published"
        for who, http in clients.items():
            assert sees(http) == dict.fromkeys(("record", "search", "facets", "csw"), True), who
        # the history, for those who may edit the record
        history = editor.get(f"/api/v1/records/{RID}/versions").json()["versions"]
        assert [v["action"] for v in history] == ["publish", "submit", "reject", "submit", "update", "update",
                                                  "insert"]
        assert history[2]["comment"] == "il manque la généalogie" and history[2]["actor"] == "rita"
        assert history[-2]["title"] == "Cadastre revu" and history[-2]["version"] == 2
        assert (history[-1]["state"], history[-1]["version"]) == ("draft", 1)  # the import
        assert clients["anonymous"].get(f"/api/v1/records/{RID}/versions").status_code == 401
        assert clients["outsider"].get(f"/api/v1/records/{RID}/versions").status_code == 403
        events = {(e["event"], e["actor"]) for e in site.accounts.audit_log(limit=100)}
        assert {("record.submit", "editor"), ("record.reject", "rita"), ("record.publish", "rita"),
                ("record.update", "editor")} <= events
    finally:
        for http in clients.values():
            http.close()
