"""An editor's change of a published record does not publish itself: it waits as the record's working copy, which
its editors and reviewers see, until a reviewer approves it. The same through PUT, an import and CSW-T Update;
those who may publish change the record directly. Both stores, in-process."""

from __future__ import annotations

import pytest
from lxml import etree
from starlette.testclient import TestClient

from test_write_rights import _audit, _csw_update, _iso

XML = {"content-type": "application/xml"}
RID = "fiche"
DC = "http://purl.org/dc/elements/1.1/"


@pytest.fixture
def people(site, settings):
    """IUEM owns a public published record; edith edits for IUEM, rita reviews, root administers the site."""
    from kartenn.app import create_app
    from kartenn.domain.security import OPERATOR, Sharing
    from kartenn.services.identity import create_token
    from kartenn.services.records import import_bytes

    site.accounts.add_organisation("iuem")
    tokens: dict[str, str | None] = {"anonymous": None}
    for user, role in (("edith", "editor"), ("rita", "reviewer"), ("eloi", "editor")):
        site.accounts.add_user(user)
        site.accounts.set_membership(user, "iuem", role)
        tokens[user] = create_token(site, user)
    site.accounts.add_user("root", admin=True)
    tokens["root"] = create_token(site, "root")
    import_bytes(site.seen_by(OPERATOR), _iso(RID, "Lacs du Finistère"),
                 sharing=Sharing(org="iuem", user="edith", public=True))
    app = create_app(settings)
    app.state.site, app.state.ready = site, True
    clients = {}
    for who, token in tokens.items():
        clients[who] = TestClient(app, raise_server_exceptions=False)
        if token:
            clients[who].headers["Authorization"] = f"Bearer {token}"
    yield clients
    for http in clients.values():
        http.close()


def _public(http: TestClient) -> dict[str, object]:
    """What anonymous callers get of the record: the JSON API, a search, CSW and an export."""
    got = http.get(f"/api/v1/records/{RID}").json()
    found = http.get("/api/v1/records", params={"q": "finistere"}).json()
    csw = http.get("/csw", params={"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": RID,
                                   "elementsetname": "full"})
    assert csw.status_code == 200, csw.text
    export = http.get(f"/api/v1/records/{RID}/iso19139.xml").text
    return {"title": got["title"], "state": got["state"], "working_copy": got["working_copy"],
            "search": [r["title"] for r in found["records"]],
            "csw": etree.fromstring(csw.content).findtext(f".//{{{DC}}}title"),
            "export": "Étangs" in export}


OLD = {"title": "Lacs du Finistère", "state": "published", "working_copy": False, "search": ["Lacs du Finistère"],
       "csw": "Lacs du Finistère", "export": False}
NEW_TITLE = "Étangs et lacs du Finistère"


def _change(http: TestClient, path: str, title: str) -> int:
    if path == "put":
        return http.put(f"/api/v1/records/{RID}", json={"title": title, "comment": "un titre plus juste"}).status_code
    if path == "import":
        return http.post("/api/v1/records", content=_iso(RID, title), headers=XML).status_code
    r = http.post("/csw", content=_csw_update(RID, title))
    assert b"totalUpdated>1<" in r.content, r.text
    return r.status_code


@pytest.mark.parametrize("path", ["put", "import", "csw"])
def test_an_editors_change_waits_for_review(site, people, path):
    anonymous, edith, rita = people["anonymous"], people["edith"], people["rita"]
    assert _public(anonymous) == OLD
    published_tag = anonymous.get(f"/api/v1/records/{RID}").headers["etag"]
    assert _change(edith, path, NEW_TITLE) in (200, 201)
    # everyone else, and every way of reading the catalogue, still has the published record
    assert _public(anonymous) == OLD
    assert site.catalog.get_record(RID).title == "Lacs du Finistère"
    # its editors and reviewers see the working copy, a draft
    for http in (edith, rita, people["eloi"]):
        got = http.get(f"/api/v1/records/{RID}")
        assert (got.json()["title"], got.json()["state"], got.json()["working_copy"]) == (NEW_TITLE, "draft", True)
        assert got.headers["etag"] != published_tag
    copy_tag = edith.get(f"/api/v1/records/{RID}").headers["etag"]
    # the working copy is edited in turn; a change made from the published version is stale
    r = edith.put(f"/api/v1/records/{RID}", json={"abstract": "Plans d'eau."}, headers={"If-Match": published_tag})
    assert r.status_code == 412, r.text
    r = edith.put(f"/api/v1/records/{RID}", json={"abstract": "Plans d'eau."}, headers={"If-Match": copy_tag})
    assert r.status_code == 200 and (r.json()["title"], r.json()["abstract"]) == (NEW_TITLE, "Plans d'eau."), r.text
    assert r.json()["working_copy"] is True
    copy_tag = r.headers["etag"]
    # submitted, then approved: the working copy replaces the published record
    r = edith.post(f"/api/v1/records/{RID}/submit", headers={"If-Match": copy_tag})
    assert r.status_code == 200 and r.json()["state"] == "submitted" and r.json()["working_copy"], r.text
    assert _public(anonymous) == OLD
    assert rita.post(f"/api/v1/records/{RID}/approve", headers={"If-Match": copy_tag}).status_code == 412
    assert edith.post(f"/api/v1/records/{RID}/approve").status_code == 403
    tag = rita.get(f"/api/v1/records/{RID}").headers["etag"]
    r = rita.post(f"/api/v1/records/{RID}/approve", json={"comment": "ok"}, headers={"If-Match": tag})
    assert r.status_code == 200 and (r.json()["state"], r.json()["working_copy"]) == ("published", False), r.text
    assert _public(anonymous) == {"title": NEW_TITLE, "state": "published", "working_copy": False,
                                  "search": [NEW_TITLE], "csw": NEW_TITLE, "export": True}
    assert anonymous.get(f"/api/v1/records/{RID}").json()["abstract"] == "Plans d'eau."
    assert edith.get(f"/api/v1/records/{RID}").json()["working_copy"] is False
    # the versions tell each step
    history = edith.get(f"/api/v1/records/{RID}/versions").json()["versions"]
    assert [(v["action"], v["state"], v["actor"]) for v in history] == [
        ("publish", "published", "rita"), ("submit", "submitted", "edith"), ("update", "draft", "edith"),
        ("update", "draft", "edith"), ("insert", "published", "cli")]
    assert history[3]["title"] == NEW_TITLE
    events = [(e["actor"], e["event"], e["detail"].get("working_copy")) for e in _audit(site)
              if e["resource"] == f"record:{RID}" and e["event"] != "access.denied"]
    assert events[:4] == [("rita", "record.publish", None), ("edith", "record.submit", True),
                          ("edith", "record.update", True), ("edith", "record.update", True)]
    # the next change of the published record is a working copy again
    assert _change(edith, path, "Lacs") in (200, 201)
    assert anonymous.get(f"/api/v1/records/{RID}").json()["title"] == NEW_TITLE


def test_a_rejected_working_copy_leaves_the_published_record(site, people):
    anonymous, edith, rita = people["anonymous"], people["edith"], people["rita"]
    assert _change(edith, "put", NEW_TITLE) == 200
    assert edith.post(f"/api/v1/records/{RID}/submit").status_code == 200
    assert rita.post(f"/api/v1/records/{RID}/reject", json={}).status_code == 400
    r = rita.post(f"/api/v1/records/{RID}/reject", json={"comment": "le titre était juste"})
    assert r.status_code == 200 and (r.json()["state"], r.json()["working_copy"]) == ("draft", True), r.text
    assert _public(anonymous) == OLD
    got = edith.get(f"/api/v1/records/{RID}").json()
    assert (got["title"], got["state"], got["working_copy"]) == (NEW_TITLE, "draft", True)  # kept, to rework
    last = edith.get(f"/api/v1/records/{RID}/versions").json()["versions"][0]
    assert (last["action"], last["state"], last["comment"]) == ("reject", "draft", "le titre était juste")
    # a published record without a pending change: nothing to submit, approve or reject
    r = edith.post(f"/api/v1/records/{RID}/submit")
    assert r.status_code == 200
    assert rita.post(f"/api/v1/records/{RID}/approve").status_code == 200
    assert edith.post(f"/api/v1/records/{RID}/submit").status_code == 409
    assert rita.post(f"/api/v1/records/{RID}/approve").status_code == 409


@pytest.mark.parametrize("path", ["put", "import", "csw"])
def test_those_who_may_publish_change_the_record_directly(site, people, path):
    """A platform admin, and an editor given ``publish`` on the record: published at once, no working copy."""
    anonymous = people["anonymous"]
    assert _change(people["root"], path, NEW_TITLE) in (200, 201)
    assert _public(anonymous)["title"] == NEW_TITLE and _public(anonymous)["csw"] == NEW_TITLE
    with site.catalog.begin() as conn:
        site.accounts.grant(conn, "record", RID, "user", "eloi", "publish")
    assert _change(people["eloi"], path, "Lacs et étangs") in (200, 201)
    got = anonymous.get(f"/api/v1/records/{RID}").json()
    assert (got["title"], got["state"], got["working_copy"]) == ("Lacs et étangs", "published", False)
    assert people["edith"].get(f"/api/v1/records/{RID}").json()["working_copy"] is False
    history = people["root"].get(f"/api/v1/records/{RID}/versions").json()["versions"]
    assert [(v["actor"], v["action"], v["state"]) for v in history] == [
        ("eloi", "update", "published"), ("root", "update", "published"), ("cli", "insert", "published")]


def test_each_path_builds_on_the_working_copy(site, people):
    """A CSW-T property update and an import after a PUT change the working copy, not the published record."""
    edith, anonymous = people["edith"], people["anonymous"]
    assert _change(edith, "put", NEW_TITLE) == 200
    update = _csw_update(RID, "x").decode().split("<csw:Update>")[0] + (
        "<csw:Update><csw:RecordProperty><csw:Name>dct:abstract</csw:Name><csw:Value>Plans d'eau.</csw:Value>"
        "</csw:RecordProperty><csw:Constraint version='1.1.0'><ogc:Filter xmlns:ogc='http://www.opengis.net/ogc'>"
        "<ogc:PropertyIsEqualTo><ogc:PropertyName>dc:identifier</ogc:PropertyName>"
        f"<ogc:Literal>{RID}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter></csw:Constraint></csw:Update>"
        "</csw:Transaction>")
    r = edith.post("/csw", content=update.encode())
    assert r.status_code == 200 and b"totalUpdated>1<" in r.content, r.text
    got = edith.get(f"/api/v1/records/{RID}").json()
    assert (got["title"], got["abstract"], got["working_copy"]) == (NEW_TITLE, "Plans d'eau.", True)
    assert _public(anonymous) == OLD
    assert edith.post(f"/api/v1/records/{RID}/submit").status_code == 200
    assert _change(edith, "import", "Lacs") == 201  # a submitted working copy is changed in place, as a record
    got = edith.get(f"/api/v1/records/{RID}").json()
    assert (got["title"], got["state"], got["working_copy"]) == ("Lacs", "submitted", True)
    assert _public(anonymous) == OLD


def test_two_working_copies_of_one_version_cannot_both_be_made(site, people):
    """Two editors that read the same published version: the second finds a working copy made meanwhile."""
    from kartenn.errors import PreconditionFailed
    from kartenn.services.working_copies import save_edits

    views = [site.seen_by(site.accounts.identity(user, "write")) for user in ("edith", "eloi")]
    published = site.catalog.get_record(RID)
    for view, title in zip(views, ("Premier", "Second"), strict=True):
        change = site.catalog.get_record(RID)
        change.title = title
        if title == "Second":
            with pytest.raises(PreconditionFailed), site.catalog.begin() as conn:
                save_edits(view, conn, [change], {RID: published}, expected=published.updated)
        else:
            with site.catalog.begin() as conn:
                save_edits(view, conn, [change], {RID: published}, expected=published.updated)
    assert people["eloi"].get(f"/api/v1/records/{RID}").json()["title"] == "Premier"
    assert site.catalog.get_record(RID).title == "Lacs du Finistère"
