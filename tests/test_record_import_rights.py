"""Importing over a stored record is an edit: the rights of an edit, the state an edit keeps, a version and an
audit line; a refusal tells nothing of records the caller may not see. Both stores, in-process."""

from __future__ import annotations

import io
import zipfile

import pytest
from starlette.testclient import TestClient

from conftest import kartenn
from test_write_rights import CSW, _audit, _iso, _versions, fingerprint

XML = {"content-type": "application/xml"}


@pytest.fixture
def people(site, settings):
    """IUEM owns a private published record, a public one and a draft; Lille has an editor."""
    from kartenn.app import create_app
    from kartenn.domain.security import OPERATOR, Sharing
    from kartenn.services.identity import create_token
    from kartenn.services.records import import_bytes

    for org in ("iuem", "lille"):
        site.accounts.add_organisation(org)
    tokens = {}
    for user, org in (("edith", "iuem"), ("otto", "lille")):
        site.accounts.add_user(user)
        site.accounts.set_membership(user, org, "editor")
        tokens[user] = create_token(site, user)
    operator = site.seen_by(OPERATOR)
    for record_id, public, draft in (("prive", False, False), ("public", True, False), ("brouillon", False, True)):
        import_bytes(operator, _iso(record_id, f"Fiche {record_id}"), draft=draft,
                     sharing=Sharing(org="iuem", user="edith", public=public))
    app = create_app(settings)
    app.state.site, app.state.ready = site, True
    clients = {}
    for user, token in tokens.items():
        clients[user] = TestClient(app, raise_server_exceptions=False)
        clients[user].headers["Authorization"] = f"Bearer {token}"
    yield clients
    for http in clients.values():
        http.close()


def _zip(*docs: tuple[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in docs:
            z.writestr(name, data)
    return out.getvalue()


def test_import_over_a_record_is_an_edit_of_it(site, people):
    """The owner's editor: a new version in the state the record had (a draft stays a draft, even with a
    published document) or, for a published record, as through PUT: a working copy, a draft the published record
    waits for; an audit line; no new owner."""
    edith = people["edith"]
    for record_id, state in (("brouillon", "draft"), ("prive", "draft")):
        versions = _versions(site, record_id)
        r = edith.post("/api/v1/records", content=_iso(record_id, "Nouveau titre"), headers=XML)
        assert r.status_code == 201 and r.json()["imported"] == [record_id], r.text
        got = edith.get(f"/api/v1/records/{record_id}").json()
        assert (got["title"], got["state"], got["working_copy"]) == ("Nouveau titre", state, record_id == "prive")
        assert _versions(site, record_id) == versions + 1
        last = edith.get(f"/api/v1/records/{record_id}/versions").json()["versions"][0]
        assert (last["actor"], last["action"], last["state"]) == ("edith", "update", state)
        entry = _audit(site)[0]
        assert (entry["actor"], entry["event"], entry["resource"]) == ("edith", "record.update", f"record:{record_id}")
    # ?draft=true concerns new records only; the draft, now submitted, is not published by an import
    assert edith.post("/api/v1/records/brouillon/submit").status_code == 200
    r = edith.post("/api/v1/records?draft=true", content=_iso("brouillon", "Encore"), headers=XML)
    assert r.status_code == 201
    assert edith.get("/api/v1/records/brouillon").json()["state"] == "submitted"
    # a new record: version 1, an insert, audited
    r = edith.post("/api/v1/records?draft=true", content=_iso("neuf", "Neuf"), headers=XML)
    assert r.status_code == 201
    history = edith.get("/api/v1/records/neuf/versions").json()["versions"]
    assert [(v["action"], v["state"]) for v in history] == [("insert", "draft")]
    assert (_audit(site)[0]["event"], _audit(site)[0]["resource"]) == ("record.insert", "record:neuf")
    # through a zip, the same
    r = edith.post("/api/v1/records", files={"file": ("fiches.zip", _zip(("a.xml", _iso("prive", "Par zip"))))})
    assert r.status_code == 201 and r.json()["imported"] == ["prive"], r.text
    assert edith.get("/api/v1/records/prive").json()["title"] == "Par zip"
    published = site.catalog.get_record("prive")
    assert (published.title, published.state) == ("Fiche prive", "published")


def test_import_over_a_record_of_another_organisation_is_refused(site, people):
    """An editor of another organisation: refused alike for the record it may not see and for the one it sees
    but may not edit, as an XML body, with ?draft=true and in a zip; nothing changes, no version."""
    otto = people["otto"]
    before, audit = fingerprint(site), len(_audit(site))
    answers = set()
    for record_id in ("prive", "public", "brouillon"):
        for query in ("", "?draft=true"):
            r = otto.post(f"/api/v1/records{query}", content=_iso(record_id, "Détourné"), headers=XML)
            assert r.status_code == 403, r.text
            answers.add(r.json()["detail"].replace(record_id, "ID"))
        r = otto.post("/api/v1/records", files={"file": ("x.zip", _zip(("m.xml", _iso(record_id, "Détourné"))))})
        assert r.status_code == 403, r.text
    assert len(answers) == 1, answers
    assert fingerprint(site) == before
    assert {e["event"] for e in _audit(site)[:len(_audit(site)) - audit]} == {"access.denied"}
    # a zip holding a new record and a refused one: the new one only
    doc = _zip(("a.xml", _iso("a-moi", "À moi")), ("b.xml", _iso("prive", "Détourné")))
    r = otto.post("/api/v1/records", files={"file": ("x.zip", doc)})
    assert r.status_code == 201 and r.json()["imported"] == ["a-moi"] and len(r.json()["errors"]) == 1
    assert otto.get("/api/v1/records/prive").status_code == 404
    assert people["edith"].get("/api/v1/records/prive").json()["title"] == "Fiche prive"
    assert people["edith"].get("/api/v1/records/public").json()["title"] == "Fiche public"
    assert _versions(site, "prive") == _versions(site, "public") == 1


def _insert(*records: bytes) -> bytes:
    body = "".join(r.decode().split("?>", 1)[-1] for r in records)
    return (f'<csw:Transaction xmlns:csw="{CSW}" service="CSW" version="2.0.2"><csw:Insert>{body}</csw:Insert>'
            '</csw:Transaction>').encode()


def test_csw_insert_does_not_tell_what_exists(site, people):
    """Insert of an identifier taken by a record the caller may not see: the answer of any Insert refused for its
    identifier (one taken by a record it sees, or used twice in the transaction)."""
    otto = people["otto"]
    before = fingerprint(site)

    def answer(body: bytes, record_id: str) -> tuple[int, str]:
        r = otto.post("/csw", content=body)
        return r.status_code, r.text.replace(record_id, "ID")

    hidden = answer(_insert(_iso("prive", "X")), "prive")
    seen = answer(_insert(_iso("public", "X")), "public")
    twice = answer(_insert(_iso("libre", "X"), _iso("libre", "Y")), "libre")
    assert hidden[0] == 400 and "ExceptionReport" in hidden[1]
    assert hidden == seen == twice
    assert fingerprint(site) == before


def test_cli_writes_as_the_local_operator(site, settings, tmp_path):
    """``kartenn records import`` over a stored record: a version and an audit line, both by "cli"."""
    from kartenn.domain.security import OPERATOR
    from kartenn.services.records import import_bytes

    import_bytes(site.seen_by(OPERATOR), _iso("fiche", "Avant"))
    path = tmp_path / "fiche.xml"
    path.write_bytes(_iso("fiche", "Après"))
    kartenn("records", "import", str(path), "--data-dir", str(settings.data_dir), settings=settings, check=True)
    assert site.catalog.get_record("fiche").title == "Après"
    with site.engine.connect() as conn:
        from kartenn.stores.record_versions import history

        assert [(v["actor"], v["action"]) for v in history(conn, "fiche")] == [("cli", "update"), ("cli", "insert")]
    entry = _audit(site)[0]
    assert (entry["actor"], entry["event"], entry["resource"]) == ("cli", "record.update", "record:fiche")


def test_publishing_versions_the_dataset_record(site, settings):
    """``kartenn ingest`` and ``ingest --replace``: the dataset's record gets a version each time, by "cli"."""
    from conftest import shared
    from kartenn.stores.record_versions import history
    from test_write_rights import LAKES

    def cli(*args: str) -> None:
        kartenn(*args, "--data-dir", str(settings.data_dir), settings=settings, check=True)

    cli("ingest", str(shared(LAKES)))
    dataset = site.catalog.list_datasets()[0]
    cli("ingest", "--replace", dataset.id, str(shared(LAKES)))
    with site.engine.connect() as conn:
        assert [(v["actor"], v["action"]) for v in history(conn, dataset.record_id)] == [("cli", "update"),
                                                                                        ("cli", "insert")]
    assert [(e["actor"], e["event"]) for e in _audit(site)[:2]] == [("cli", "publish"), ("cli", "publish")]
