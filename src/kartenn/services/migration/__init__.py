"""Migrating another spatial data infrastructure into a Kartenn site: a GeoServer 2.x data directory, then a
GeoNetwork 3.x or 4.x catalogue (its export: MEF archives and the JSON answers of its API).

>>> report = migrate_geoserver(site.seen_by(OPERATOR), Path("/var/lib/geoserver/data"))   # doctest: +SKIP
>>> [e.target for e in report.created if e.kind == "dataset"]                             # doctest: +SKIP
['countries', 'populated_places', 'dtm', 'departements', 'regions']

What comes across, and how (each step in its module):

- ``geoserver.py`` reads workspaces, stores, layers, styles and layer groups; ``security.py`` users, groups,
  roles and the data and service rules.
- ``people.py``: each workspace becomes an organisation owning its datasets; each role (but ADMIN and
  ROLE_ADMINISTRATOR, which make platform administrators) an organisation whose members are the users holding
  it (directly, through their groups, or by inheritance from a child role). GROUP_ADMIN is a role like the others
  for data rules (its organisation ``group_admin`` gets the rights the rules give it); the user administration
  it allows in GeoServer is not carried over (Kartenn has only platform administrators), and is reported.
- ``layers.py``: each layer with data Kartenn can read (Shapefiles with their store's charset, GeoPackage
  tables, GeoTIFF, PostGIS tables when the database answers) becomes a dataset, with its title, abstract,
  keywords, default and alternate styles (SLD) and the grants that let the same people see and change it
  (``security.layer_grants``: read → view and download, write → edit, admin → publish).
- ``groups.py``: layer groups become saved maps.
- Service rules (``services.properties``) and what has no equivalent are reported as warnings.

From GeoNetwork (``migrate_geonetwork``): ``geonetwork.py`` reads the export; ``geonetwork_people.py`` makes
groups organisations and users accounts (one account for a name GeoServer had too); ``geonetwork_records.py``
imports the records with their categories, files and sharing, a record describing a migrated layer becoming its
dataset's record.

Running it again updates what changed at the source and adds what is new: every object made is remembered with a
fingerprint of its source (stores/migration_sources.py). What was changed in Kartenn since is reported and kept,
unless ``overwrite``. ``dry_run`` reads and compares but writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kartenn.services.accounts import require_admin
from kartenn.services.migration.geoserver import read_data_directory
from kartenn.services.migration.run import Report, Run
from kartenn.services.migration.security import read_security

__all__ = ["migrate_geoserver", "migrate_geonetwork", "Report"]


def migrate_geoserver(site: Any, root: Path, *, dry_run: bool = False, overwrite: bool = False) -> Report:
    """Migrate the GeoServer data directory ``root`` into ``site`` (a platform administrator's view of it)."""
    from kartenn.services.migration import groups, layers, people

    require_admin(site)
    data = read_data_directory(root)
    security = read_security(root)
    run = Run(site, root, data, security, dry_run=dry_run, overwrite=overwrite)
    for note in data.notes + security.notes:
        run.report.warn(note.source, note.message)
    people.organisations(run)
    people.users(run)
    layers.datasets(run)
    groups.layer_groups(run)
    for key, value in security.service_rules:
        run.report.warn("services.properties", f"{key}={value}: Kartenn has no rights per service (only per dataset: "
                        "view, download, edit, publish); this rule is not carried over")
    if security.mode != "HIDE":
        run.report.warn("layers.properties", f"mode={security.mode}: Kartenn hides what one may not see (as HIDE); "
                        "its 401 asks anonymous callers to log in for what they may not do")
    if not dry_run:
        site.accounts.log(site.identity.name, "migrate", f"geoserver:{root}", created=len(run.report.created),
                          updated=len(run.report.updated), warnings=len(run.report.warnings))
    return run.report


def migrate_geonetwork(site: Any, root: Path, *, dry_run: bool = False, overwrite: bool = False) -> Report:
    """Migrate the GeoNetwork export ``root`` (scripts/export-geonetwork.sh) into ``site`` (a platform
    administrator's view of it); run it after ``migrate_geoserver`` so records find their layers' datasets."""
    from kartenn.services.migration import geonetwork_people, geonetwork_records
    from kartenn.services.migration.geonetwork import read_export

    require_admin(site)
    export = read_export(root, site.settings)
    run = Run(site, root, export, None, system="geonetwork", dry_run=dry_run, overwrite=overwrite)
    for note in export.notes:
        run.report.warn(note.source, note.message)
    geonetwork_people.organisations(run)
    geonetwork_people.users(run)
    geonetwork_records.records(run)
    if not dry_run:
        site.accounts.log(site.identity.name, "migrate", f"geonetwork:{root}", created=len(run.report.created),
                          updated=len(run.report.updated), warnings=len(run.report.warnings))
    return run.report
