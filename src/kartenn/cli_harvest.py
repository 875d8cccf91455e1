"""``kartenn harvest``: sources of records from other catalogues and services, run by hand or on a schedule.
Registered on the main command line by cli.py; the work is services/harvest's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kartenn.cli_options import AsJson, DataDir

harvest_app = typer.Typer(help="Harvest other catalogues and services (CSW, OAI-PMH, OGC API Records, DCAT, "
                               "WMS/WFS/WMTS, Kartenn, GeoNetwork) into this catalogue.", no_args_is_help=True)


def _call(data_dir: Path, work):  # type: ignore[no-untyped-def]
    from kartenn.cli import _fail, _operator
    from kartenn.errors import KartennError

    site = _operator(data_dir)
    try:
        return work(site)
    except KartennError as exc:
        raise _fail(exc.message) from None
    finally:
        site.close()


def _print(value: object) -> None:
    import orjson

    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@harvest_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The source's name here (lower-case letters, digits, - and _).")],
    type_: Annotated[str, typer.Option("--type", help="csw, oai-pmh, ogcapi-records, dcat, wms, wfs, wmts, "
                                                      "kartenn or geonetwork.", show_default=False)],
    url: Annotated[str, typer.Option(help="The source's address (its CSW endpoint, OAI-PMH base URL, ...).",
                                     show_default=False)],
    org: Annotated[str | None, typer.Option(help="The organisation that owns the harvested records.")] = None,
    every: Annotated[str | None, typer.Option(help="Run on a schedule: 30m, 6h, 1d (default: by hand only).")] = None,
    query: Annotated[str | None, typer.Option(help="CSW: a CQL text constraint; OAI-PMH: a set.")] = None,
    private: Annotated[bool, typer.Option("--private", help="Records seen by the organisation only, not "
                                                            "everyone.")] = False,
    data_dir: DataDir = Path("site"),
) -> None:
    """Add a harvest source."""
    from kartenn.services import harvest

    def work(site):  # type: ignore[no-untyped-def]
        seconds = harvest.parse_interval(every) if every else None
        return harvest.add_source(site, harvest.HarvestSource(name, type_, url, org, not private, seconds, query))

    src = _call(data_dir, work)
    typer.echo(f"added harvest source {src.name} ({src.type} {src.url})")


@harvest_app.command("list")
def list_(data_dir: DataDir = Path("site"), as_json: AsJson = False) -> None:
    """The harvest sources."""
    from kartenn.services import harvest

    sources = _call(data_dir, harvest.list_sources)
    if as_json:
        _print([harvest.source_json(s) for s in sources])
        return
    for s in sources:
        every = f"every {s.every_seconds} s" if s.every_seconds else "by hand"
        typer.echo(f"{s.name}\t{s.type}\t{s.url}\t{s.org or '-'}\t{'public' if s.public else 'private'}\t{every}")


@harvest_app.command("run")
def run(name: Annotated[str, typer.Argument(help="The source to harvest now.")], data_dir: DataDir = Path("site"),
        as_json: AsJson = False) -> None:
    """Harvest a source now: add, update and remove records as it says."""
    from kartenn.cli import _error
    from kartenn.services import harvest

    result = _call(data_dir, lambda site: harvest.run(site, name))
    if as_json:
        _print(harvest.run_json(result))
    elif result.status == "succeeded":
        typer.echo(f"{name}: {result.message}")
        for failure in result.details.get("failures", []):
            _error(f"{name}: {failure}")
    if result.status != "succeeded":
        _error(f"{name}: {result.message}")
        raise typer.Exit(code=1)


@harvest_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The source to remove, with the records it brought.")],
           data_dir: DataDir = Path("site")) -> None:
    """Remove a harvest source and the records it brought."""
    from kartenn.services import harvest

    count = _call(data_dir, lambda site: harvest.remove_source(site, name))
    typer.echo(f"removed harvest source {name} and its {count} records")


@harvest_app.command("history")
def history(name: Annotated[str, typer.Argument(help="The source.")], data_dir: DataDir = Path("site"),
            as_json: AsJson = False) -> None:
    """The runs of a source, the last first."""
    from kartenn.services import harvest

    runs = _call(data_dir, lambda site: harvest.history(site, name))
    if as_json:
        _print([harvest.run_json(r) for r in runs])
        return
    for r in runs:
        typer.echo(f"{r.started:%Y-%m-%d %H:%M:%S}\t{r.status}\t{r.message}")
