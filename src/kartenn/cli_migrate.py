"""``kartenn migrate``: bring an existing spatial data infrastructure into the site (GeoServer, GeoNetwork).
Registered on the main command line by cli.py; the work is services/migration's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kartenn.cli_options import AsJson, DataDir, DryRun

migrate_app = typer.Typer(help="Bring an existing spatial data infrastructure into the site.", no_args_is_help=True)


@migrate_app.command("geoserver")
def migrate_geoserver(
    path: Annotated[Path, typer.Argument(help="The GeoServer data directory (with workspaces/, styles/, security/).")],
    data_dir: DataDir = Path("site"),
    dry_run: DryRun = False,
    as_json: AsJson = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Also replace what was changed in Kartenn since "
                                                                 "the last migration.")] = False,
) -> None:
    """Migrate layers (data, metadata, styles), layer groups, users, roles and data rules from GeoServer. Run it
    again to bring what changed at the source."""
    from kartenn.services.migration import migrate_geoserver as migrate

    _run(migrate, path, data_dir, dry_run=dry_run, as_json=as_json, overwrite=overwrite)


@migrate_app.command("geonetwork")
def migrate_geonetwork(
    path: Annotated[Path, typer.Argument(help="A GeoNetwork export (mef/ and api/, as scripts/export-geonetwork.sh "
                                              "writes it).")],
    data_dir: DataDir = Path("site"),
    dry_run: DryRun = False,
    as_json: AsJson = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Also replace records changed in Kartenn since "
                                                                 "the last migration.")] = False,
) -> None:
    """Migrate records (with their categories, thumbnails, files and sharing), groups, users and profiles from
    GeoNetwork 3.x or 4.x; run it after `migrate geoserver`, so that records find their layers. Run it again to
    bring what changed at the source."""
    from kartenn.services.migration import migrate_geonetwork as migrate

    _run(migrate, path, data_dir, dry_run=dry_run, as_json=as_json, overwrite=overwrite)


def _run(migrate, path: Path, data_dir: Path, *, dry_run: bool, as_json: bool,  # type: ignore[no-untyped-def]
         overwrite: bool) -> None:
    import orjson

    from kartenn.cli import _fail, _operator, console, out
    from kartenn.errors import KartennError

    try:
        site = _operator(data_dir)
        report = migrate(site, path, dry_run=dry_run, overwrite=overwrite)
    except KartennError as exc:
        raise _fail(exc.message) from None
    site.close()
    if as_json:
        typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    verbs = {"created": "would create" if dry_run else "created", "updated": "would update" if dry_run else "updated",
             "skipped": "skipped"}
    for status, verb in verbs.items():
        for entry in getattr(report, status):
            detail = f" ({entry.detail})" if entry.detail else ""
            out.print(f"{verb:>12}  {entry.kind:<7} {entry.source} → {entry.target}{detail}", highlight=False,
                      soft_wrap=True)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning.source}: {warning.message}", highlight=False,
                      soft_wrap=True)
    counts = ", ".join(f"{len(getattr(report, s))} {s}" for s in (*verbs, "warnings"))
    out.print(f"{'Dry run: nothing changed. ' if dry_run else ''}{counts}", highlight=False)
