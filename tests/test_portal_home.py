"""The home page lists what is published, in French or English."""

from __future__ import annotations

import re

from conftest import shared
from kartenn.services.publish import publish_file


def test_home_page_in_both_languages(site, server):
    publish_file(site, shared("france-admin-express-2018/regions.geojson"), title="Régions de France")
    with server.client() as http:
        fr = http.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        assert fr.status_code == 200 and fr.headers["content-language"] == "fr"
        assert '<html lang="fr">' in fr.text and "Jeux de données" in fr.text
        assert "Régions de France" in fr.text and "13 objets" in fr.text
        # Every link on the page leads somewhere.
        for href in set(re.findall(r'href="(http[^"]+)"', fr.text)):
            assert http.get(href.replace("&amp;", "&")).status_code == 200, href
        en = http.get("/?lang=en", headers={"Accept-Language": "fr"})
        assert '<html lang="en">' in en.text and "Recent datasets" in en.text and "13 features" in en.text
        assert http.get("/?lang=xx").status_code == 400
