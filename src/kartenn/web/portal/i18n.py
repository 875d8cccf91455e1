"""The portal's strings in French and English, and the choice of language for a request.

>>> pick_language("fr-FR,fr;q=0.9,en;q=0.8", None)
'fr'
"""

from __future__ import annotations

LANGUAGES = ("fr", "en")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "tagline": "Open geographic data: find, view and reuse.",
        "datasets": "Datasets",
        "none": "No dataset is published yet.",
        "kind.vector": "Vector",
        "kind.raster": "Raster",
        "features": "features",
        "extent": "Extent (WGS 84)",
        "crs": "Coordinate system",
        "services": "Services",
        "api": "OGC API",
        "items": "Features (GeoJSON)",
        "metadata": "Metadata (JSON)",
        "switch": "Français",
        "language": "Language",
        "count": "{n} datasets",
        "ogc.path": "Path",
        "ogc.collections": "Collections",
        "ogc.conformance": "Conformance classes",
        "ogc.api": "API definition (OpenAPI)",
        "ogc.title": "Title",
        "ogc.kind": "Kind",
        "ogc.browse": "Browse the features",
        "ogc.fields": "Fields",
        "ogc.name": "Name",
        "ogc.type": "Type",
        "ogc.download": "Download",
        "ogc.shown": "{shown} of {matched} features",
        "ogc.pages": "Pages",
        "ogc.prev": "Previous",
        "ogc.next": "Next",
        "ogc.geometry": "Geometry",
        "ogc.feature": "Feature {id}",
    },
    "fr": {
        "tagline": "Données géographiques ouvertes : trouver, visualiser, réutiliser.",
        "datasets": "Jeux de données",
        "none": "Aucun jeu de données n'est encore publié.",
        "kind.vector": "Vecteur",
        "kind.raster": "Raster",
        "features": "objets",
        "extent": "Emprise (WGS 84)",
        "crs": "Système de coordonnées",
        "services": "Services",
        "api": "OGC API",
        "items": "Objets (GeoJSON)",
        "metadata": "Métadonnées (JSON)",
        "switch": "English",
        "language": "Langue",
        "count": "{n} jeux de données",
        "ogc.path": "Chemin",
        "ogc.collections": "Collections",
        "ogc.conformance": "Classes de conformité",
        "ogc.api": "Définition de l'API (OpenAPI)",
        "ogc.title": "Titre",
        "ogc.kind": "Nature",
        "ogc.browse": "Parcourir les objets",
        "ogc.fields": "Champs",
        "ogc.name": "Nom",
        "ogc.type": "Type",
        "ogc.download": "Télécharger",
        "ogc.shown": "{shown} objets sur {matched}",
        "ogc.pages": "Pages",
        "ogc.prev": "Précédents",
        "ogc.next": "Suivants",
        "ogc.geometry": "Géométrie",
        "ogc.feature": "Objet {id}",
    },
}


def pick_language(accept_language: str | None, asked: str | None) -> str:
    if asked in LANGUAGES:
        return asked  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "fr"


def translator(lang: str):  # type: ignore[no-untyped-def]
    table = STRINGS[lang]

    def t(key: str, **values: object) -> str:
        return table.get(key, STRINGS["en"].get(key, key)).format(**values)

    return t
