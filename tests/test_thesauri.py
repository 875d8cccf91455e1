"""Thesauri on both stores: the shipped INSPIRE themes, a SKOS import through the real CLI, keyword pickers and
INSPIRE theme facets in the request's language."""

from __future__ import annotations

from conftest import kartenn, shared
from kartenn.domain.security import OPERATOR
from kartenn.services.records import import_paths

SKOS = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:skos="http://www.w3.org/2004/02/skos/core#">
  <skos:ConceptScheme rdf:about="http://www.eionet.europa.eu/gemet/">
    <skos:prefLabel xml:lang="en">GEMET</skos:prefLabel>
  </skos:ConceptScheme>
  <skos:Concept rdf:about="http://www.eionet.europa.eu/gemet/concept/4165">
    <skos:prefLabel xml:lang="en">hydrology</skos:prefLabel><skos:prefLabel xml:lang="fr">hydrologie</skos:prefLabel>
  </skos:Concept>
  <skos:Concept rdf:about="http://www.eionet.europa.eu/gemet/concept/7377">
    <skos:prefLabel xml:lang="en">soil</skos:prefLabel><skos:prefLabel xml:lang="fr">sol</skos:prefLabel>
    <skos:altLabel xml:lang="fr">terre végétale</skos:altLabel>
  </skos:Concept>
</rdf:RDF>
"""
LAUGHS = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><rdf:RDF>&b;</rdf:RDF>'


def test_thesauri_and_keyword_picker(site, settings, server, tmp_path):
    gemet = tmp_path / "gemet-extrait.rdf"
    gemet.write_text(SKOS, encoding="utf-8")
    data_dir = str(settings.data_dir)
    result = kartenn("thesaurus", "import", str(gemet), "--id", "gemet", "--data-dir", data_dir, settings=settings)
    assert result.returncode == 0, result.stderr
    bad = tmp_path / "bad.rdf"
    bad.write_bytes(LAUGHS)
    refused = kartenn("thesaurus", "import", str(bad), "--data-dir", data_dir, settings=settings)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    with server.client() as http:
        listed = {t["id"]: t for t in http.get("/api/v1/thesauri").json()["thesauri"]}
        assert set(listed) == {"inspire-theme", "gemet"}
        assert listed["inspire-theme"]["concepts"] == 34 and listed["gemet"]["concepts"] == 2
        found = http.get("/api/v1/thesauri/inspire-theme/concepts", params={"q": "hydro", "lang": "fr"}).json()
        assert found["concepts"][0] == {"uri": "http://inspire.ec.europa.eu/theme/hy", "label": "Hydrographie",
                                        "labels": {"en": "Hydrography", "fr": "Hydrographie"}}
        found = http.get("/api/v1/thesauri/inspire-theme/concepts", params={"q": "parcel"},
                         headers={"Accept-Language": "en-GB,en;q=0.8"}).json()
        assert [c["label"] for c in found["concepts"]] == ["Cadastral parcels"]
        found = http.get("/api/v1/thesauri/gemet/concepts", params={"q": "vegetale", "lang": "fr"}).json()
        assert [c["label"] for c in found["concepts"]] == ["sol"]  # through its alternative label, accents folded
        everything = http.get("/api/v1/thesauri/inspire-theme/concepts", params={"limit": 100}).json()["concepts"]
        assert len(everything) == 34
        assert http.get("/api/v1/thesauri/nothing/concepts").status_code == 404


def test_theme_facet_in_the_request_language(site, server):
    assert import_paths(site.seen_by(OPERATOR), [shared("iso-metadata-records/pycsw-apiso"),
                               shared("iso-metadata-records/owslib-real-records/csw_geobretagne_mdmetadata.xml")]
                        ).errors == []
    with server.client() as http:
        for lang, names in (("fr", {"Ortho-imagerie", "Altitude", "Parcelles cadastrales"}),
                            ("en", {"Orthoimagery", "Elevation", "Cadastral parcels"})):
            facet = http.get("/api/v1/records", params={"limit": 0, "lang": lang}).json()["facets"]["theme"]
            assert {f["label"] for f in facet} == names, facet
            assert all(f["uri"].startswith("http://inspire.ec.europa.eu/theme/") for f in facet)
        facet = http.get("/api/v1/records", params={"limit": 0}, headers={"Accept-Language": "fr-FR"}).json()
        assert {"value": "Orthoimagery", "count": 10, "uri": "http://inspire.ec.europa.eu/theme/oi",
                "label": "Ortho-imagerie"} in facet["facets"]["theme"]
