"""``kartenn sync``: copy datasets with their records, styles and sharing from another Kartenn site. Registered
on the main command line by cli.py; the work is services/sync.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from kartenn.cli_options import AsJson, DataDir, DryRun


def sync(
    source: Annotated[str, typer.Option("--from", help="The source site's address, e.g. https://test.example.org.",
                                        show_default=False)],
    token: Annotated[str, typer.Option(help="An API token of the source (kartenn token create, there); default: "
                                            "KARTENN_SYNC_TOKEN, which keeps it out of the process list.",
                                       envvar="KARTENN_SYNC_TOKEN", show_default=False)],
    datasets: Annotated[list[str] | None, typer.Argument(help="Datasets to copy (default: every one the token may "
                                                              "see).", show_default=False)] = None,
    data_dir: DataDir = Path("site"),
    dry_run: DryRun = False,
    as_json: AsJson = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Also replace datasets changed here since the "
                                                                "last sync, or not copied by it.")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Remove here the datasets copied before that the source "
                                                          "no longer has (not those changed here since, unless "
                                                          "--overwrite).")] = False,
) -> None:
    """Copy datasets, with their records, styles and sharing, from another Kartenn site (a test platform to
    production). Run again, it copies what changed at the source and keeps what changed here (see --overwrite);
    it reports the datasets the source no longer has (see --delete)."""
    import orjson

    from kartenn.cli import _error, _fail, _operator, console, out
    from kartenn.errors import KartennError
    from kartenn.services.sync import sync as copy
    from kartenn.services.sync_source import SourceSite

    try:
        site = _operator(data_dir)
        try:
            with SourceSite(source, token) as remote:
                report = copy(site, remote, datasets or None, dry_run=dry_run, overwrite=overwrite,
                              delete=delete)
        finally:
            site.close()
    except KartennError as exc:
        raise _fail(exc.message) from None
    if as_json:
        typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        for verb, entries in (("create", report.created), ("update", report.updated)):
            for entry in entries:
                done = f"would {verb}" if dry_run else f"{verb}d"
                out.print(f"{done:<14} {entry['id']}  ({_details(entry)})", highlight=False, soft_wrap=True)
        for entry in report.deleted:
            done = "would delete" if dry_run else "deleted"
            out.print(f"{done:<14} {entry['id']}  ({entry['reason']})", highlight=False, soft_wrap=True)
        for entry in report.skipped:
            if "reason" in entry:
                out.print(f"{'skipped':<14} {entry['id']}: {entry['reason']}", highlight=False, soft_wrap=True)
    for entry in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {entry['id']}: {entry['message']}", highlight=False)
    for entry in report.skipped:
        if "error" in entry:
            _error(f"{entry['id']}: {entry['error']}")
    if not as_json:
        out.print(f"{len(report.created)} created, {len(report.updated)} updated, {len(report.deleted)} deleted, "
                  f"{len(report.skipped)} skipped"
                  + (" (dry run: nothing was changed)" if dry_run else ""), highlight=False)
    if report.failed:
        raise typer.Exit(code=1)


def _details(entry: dict[str, Any]) -> str:
    org = entry.get("organisation")
    owner = f"organisation {org}{' (new here)' if entry.get('organisation_created') else ''}" if org else \
        "no organisation"
    return f"record {entry['record']}, {owner}, {'public' if entry['public'] else 'private'}"
