"""Optimistic concurrency of record edits and workflow steps, on both stores: ETag on read, If-Match on write
(412 and nothing changed when stale), one conditional write so that of two writers of the same version only one
succeeds, and, without If-Match, a change that lost a race done again on the newer version."""

from __future__ import annotations

import threading

import pytest

from conftest import shared

RECORD = shared("iso-metadata-records/owslib-real-records/csw_geobretagne_mdmetadata.xml").read_bytes()
RID = "955c3e47-411e-4969-b61b-3556d1b9f879"


@pytest.fixture
def people(site, editor_token):  # type: ignore[no-untyped-def]
    from kartenn.services.identity import create_token

    site.accounts.add_user("rita")
    site.accounts.set_membership("rita", "iuem", "reviewer")
    return {"editor": editor_token, "reviewer": create_token(site, "rita")}


@pytest.fixture
def draft(server, people):  # type: ignore[no-untyped-def]
    with server.client(people["editor"]) as http:
        r = http.post("/api/v1/records", params={"draft": "true"}, content=RECORD,
                      headers={"Content-Type": "application/xml"})
        assert r.status_code == 201, r.text
    return RID


def _versions(http) -> int:  # type: ignore[no-untyped-def]
    return len(http.get(f"/api/v1/records/{RID}/versions").json()["versions"])


def test_stale_if_match_is_refused_and_changes_nothing(server, people, draft):
    with server.client(people["editor"]) as editor, server.client(people["reviewer"]) as reviewer:
        read = editor.get(f"/api/v1/records/{RID}")
        tag = read.headers["etag"]
        assert tag.startswith('"') and tag.endswith('"') and read.json()["state"] == "draft"
        assert editor.get(f"/api/v1/records/{RID}").headers["etag"] == tag  # stable while nothing changes
        # The current tag: the edit is done, and answers the new tag, which a read then gives too.
        r = editor.put(f"/api/v1/records/{RID}", json={"title": "Cadastre revu"}, headers={"If-Match": tag})
        assert r.status_code == 200, r.text
        fresh = r.headers["etag"]
        assert fresh != tag and editor.get(f"/api/v1/records/{RID}").headers["etag"] == fresh
        before = _versions(editor)
        # The old tag: 412, a problem document, and nothing written (record, versions).
        r = editor.put(f"/api/v1/records/{RID}", json={"title": "Écrasé"}, headers={"If-Match": tag})
        assert r.status_code == 412, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 412 and r.json()["title"] == "PreconditionFailed"
        assert editor.post(f"/api/v1/records/{RID}/submit", headers={"If-Match": tag}).status_code == 412
        now = editor.get(f"/api/v1/records/{RID}")
        assert now.json()["title"] == "Cadastre revu" and now.json()["state"] == "draft"
        assert now.headers["etag"] == fresh and _versions(editor) == before
        # Rights and state come first: an editor may not approve, whatever the tag (403, not 412).
        assert editor.post(f"/api/v1/records/{RID}/approve", headers={"If-Match": tag}).status_code == 403
        # Workflow steps with the current tag; the reviewer's steps with an old one are refused.
        r = editor.post(f"/api/v1/records/{RID}/submit", headers={"If-Match": fresh})
        assert r.status_code == 200 and r.json()["state"] == "submitted", r.text
        submitted = r.headers["etag"]
        for step in ("approve", "reject"):
            r = reviewer.post(f"/api/v1/records/{RID}/{step}", json={"comment": "non"}, headers={"If-Match": fresh})
            assert r.status_code == 412, (step, r.text)
        now = editor.get(f"/api/v1/records/{RID}")
        assert now.json()["state"] == "submitted" and now.headers["etag"] == submitted
        r = reviewer.post(f"/api/v1/records/{RID}/approve", headers={"If-Match": f'"other", {submitted}'})
        assert r.status_code == 200 and r.json()["state"] == "published", r.text
        r = editor.put(f"/api/v1/records/{RID}", json={"title": "Cadastre"}, headers={"If-Match": "*"})
        # "*": any version; the editor's change of the published record is its working copy, a draft
        assert r.status_code == 200 and (r.json()["state"], r.json()["working_copy"]) == ("draft", True), r.text
        assert r.headers["etag"] == editor.get(f"/api/v1/records/{RID}").headers["etag"]
        # Without If-Match, as before: the change is made.
        r = editor.put(f"/api/v1/records/{RID}", json={"abstract": "Sans condition."})
        assert r.status_code == 200 and r.json()["abstract"] == "Sans condition.", r.text


def test_two_edits_with_the_same_etag_one_wins(server, people, draft):
    with server.client(people["editor"]) as editor:
        tag = editor.get(f"/api/v1/records/{RID}").headers["etag"]
        before = _versions(editor)
    results: dict[str, int] = {}
    start = threading.Barrier(2)

    def write(title: str) -> None:
        with server.client(people["editor"]) as http:
            start.wait()
            results[title] = http.put(f"/api/v1/records/{RID}", json={"title": title},
                                      headers={"If-Match": tag}).status_code

    threads = [threading.Thread(target=write, args=(title,)) for title in ("Premier", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [200, 412], results
    winner = next(title for title, status in results.items() if status == 200)
    with server.client(people["editor"]) as editor:
        assert editor.get(f"/api/v1/records/{RID}").json()["title"] == winner
        assert _versions(editor) == before + 1


def test_the_write_is_conditional_in_the_store(site, people, draft):
    """Two writers that read the same version: the second write finds it gone, in the same transaction."""
    from kartenn.errors import PreconditionFailed

    first, second = site.catalog.get_record(RID), site.catalog.get_record(RID)
    first.title = "Premier"
    with site.catalog.begin() as conn:
        site.catalog.put_record(conn, first, expected=first.updated)
    second.title = "Second"
    with pytest.raises(PreconditionFailed), site.catalog.begin() as conn:
        site.catalog.put_record(conn, second, expected=second.updated)
    assert site.catalog.get_record(RID).title == "Premier"


def test_an_approval_racing_an_edit_keeps_both(site, people, draft, monkeypatch):
    """Without If-Match, a step that lost the race is done again on the newer version: the approval does not
    undo the edit made between its read and its write."""
    from kartenn.services import workflow

    editor = site.seen_by(site.accounts.identity("editor", "write"))
    reviewer = site.seen_by(site.accounts.identity("rita", "write"))
    workflow.submit(editor, RID)
    real_load, raced = workflow._load, []

    def load_then_edit(view, record_id):  # type: ignore[no-untyped-def]
        rec = real_load(view, record_id)
        if not raced:  # an editor's change lands after the reviewer read the record
            raced.append(True)
            workflow.edit(editor, record_id, fields={"title": "Titre corrigé"})
        return rec

    monkeypatch.setattr(workflow, "_load", load_then_edit)
    approved = workflow.approve(reviewer, RID, "ok")
    assert raced and approved.state == "published" and approved.title == "Titre corrigé"
    now = site.catalog.get_record(RID)
    assert now.state == "published" and now.title == "Titre corrigé"
    # With If-Match, the same race is a 412 instead.
    from kartenn.errors import PreconditionFailed

    raced.clear()
    monkeypatch.setattr(workflow, "_load", load_then_edit)
    with pytest.raises(PreconditionFailed):
        workflow.edit(editor, RID, fields={"abstract": "x"}, if_match=workflow.etag(now))
    assert site.catalog.get_record(RID).abstract != "x"
