"""The command line: thin, it only calls services. Errors are one line and a non-zero exit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kartenn.config import Settings
from kartenn.errors import KartennError

app = typer.Typer(help="Kartenn: publish, catalogue and serve geospatial data.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long
out = Console()

DataDir = Annotated[Path, typer.Option("--data-dir", "-d", help="The site's data directory.",
                                       envvar="KARTENN_DATA_DIR")]


def _site(data_dir: Path, create: bool = False):  # type: ignore[no-untyped-def]
    from kartenn.site import Site

    return Site.open(Settings.load(data_dir), create=create)


def _error(message: str) -> None:
    """One line on standard error, never wrapped, so scripts can read it."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _error(message)
    return typer.Exit(code=1)


@app.command()
def init(data_dir: Annotated[Path, typer.Argument(help="Folder to create.")] = Path("site")) -> None:
    """Create a data directory with its configuration and catalogue."""
    try:
        site = _site(data_dir, create=True)
    except KartennError as exc:
        raise _fail(exc.message) from None
    store = "PostGIS" if site.settings.uses_postgis else "SQLite + GeoPackage"
    out.print(f"Initialised {site.settings.data_dir} ({store})", highlight=False, soft_wrap=True)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files to publish (GeoPackage, zipped Shapefile, CSV…).")],
    data_dir: DataDir = Path("site"),
    title: Annotated[str | None, typer.Option(help="Title of the dataset (one input only).")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of inputs that do not say theirs, e.g. EPSG:2154.")] = None,
    replace: Annotated[str | None, typer.Option(help="Update this dataset in place, keeping its id.")] = None,
) -> None:
    """Publish each file as one or more datasets, each with a catalogue record."""
    from kartenn.services.publish import publish_file

    if (title or replace) and len(files) != 1:
        raise _fail("--title and --replace take a single input")
    try:
        site = _site(data_dir)
    except KartennError as exc:
        raise _fail(exc.message) from None
    published, failures = [], 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal and "KARTENN_PROGRESS"
                  not in os.environ) as bar:
        for path in files:
            task = bar.add_task(path.name, total=None)

            def progress(done: int, total: int | None, message: str, task=task) -> None:  # type: ignore[no-untyped-def]
                bar.update(task, completed=done, total=total, description=message)

            try:
                outcomes = publish_file(site, path, title=title, crs=crs, replace=replace, progress=progress)
            except KartennError as exc:
                _error(exc.message)
                failures += 1
                continue
            finally:
                bar.remove_task(task)
            for outcome in outcomes:
                if outcome.error:
                    _error(f"{outcome.source}: {outcome.error}")
                    failures += 1
                else:
                    for line in outcome.log:
                        console.print(f"  {outcome.source}: {line}", highlight=False, style="dim")
                    published.append(outcome.dataset)
    if published:
        out.print(_summary(published))
    site.close()
    if failures:
        raise typer.Exit(code=1)


def _summary(datasets: list) -> Table:  # type: ignore[type-arg]
    table = Table(title="Published", title_justify="left")
    for column in ("id", "title", "kind", "CRS", "count", "extent (WGS 84)"):
        table.add_column(column, overflow="fold")
    for d in datasets:
        extent = ", ".join(f"{v:.4f}" for v in d.extent_wgs84) if d.extent_wgs84 else "—"
        count = str(d.count) if d.kind == "vector" else f"{d.raster['width']}×{d.raster['height']}"
        table.add_row(d.id, d.title, d.kind, d.crs if d.srid else "custom", count, extent)
    return table


@app.command()
def datasets(data_dir: DataDir = Path("site")) -> None:
    """List the published datasets."""
    try:
        site = _site(data_dir)
    except KartennError as exc:
        raise _fail(exc.message) from None
    items = site.catalog.list_datasets()
    if items:
        out.print(_summary(items))
    else:
        out.print("No dataset yet: publish one with kartenn ingest FILE")


@app.command()
def serve(
    data_dir: DataDir = Path("site"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes.")] = 1,
) -> None:
    """Serve the portal, the OGC APIs, OWS services and the JSON API."""
    import uvicorn

    try:
        settings = Settings.load(data_dir)
        _site(data_dir).close()
    except KartennError as exc:
        raise _fail(exc.message) from None
    os.environ["KARTENN_DATA_DIR"] = str(settings.data_dir)
    console.print(f"Serving {settings.data_dir} on http://{host}:{port}", highlight=False, soft_wrap=True)
    uvicorn.run("kartenn.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info", proxy_headers=True)


@app.command()
def demo(
    data_dir: DataDir = Path("demo-site"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the demo data and stop.")] = False,
) -> None:
    """Create a site with the bundled demo datasets, then serve it."""
    from kartenn.demo import load_demo

    try:
        site = _site(data_dir, create=True)
        load_demo(site, console)
        site.close()
    except KartennError as exc:
        raise _fail(exc.message) from None
    if not no_serve:
        serve(data_dir=data_dir, host=host, port=port, workers=1)


records_app = typer.Typer(help="Catalogue records: import and export ISO 19139, ISO 19115-3, Dublin Core.",
                          no_args_is_help=True)
app.add_typer(records_app, name="records")


@records_app.command("import")
def records_import(
    files: Annotated[list[Path], typer.Argument(help="XML files, folders, zips or GeoNetwork MEF archives.")],
    data_dir: DataDir = Path("site"),
) -> None:
    """Import metadata records; the original XML is kept and its fields indexed for search."""
    from kartenn.services.records import import_paths

    try:
        site = _site(data_dir)
    except KartennError as exc:
        raise _fail(exc.message) from None
    report = import_paths(site, files)
    site.close()
    for error in report.errors:
        _error(error)
    out.print(f"{len(report.imported)} record(s) imported", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(code=1)


@records_app.command("export")
def records_export(
    record_id: Annotated[str, typer.Argument(help="Identifier of the record.")],
    data_dir: DataDir = Path("site"),
    schema: Annotated[str, typer.Option("--format", help="iso19139, iso19115-3 or dc.")] = "iso19139",
) -> None:
    """Write a record as XML on standard output."""
    from kartenn.services.records import export_record

    try:
        site = _site(data_dir)
        data = export_record(site.catalog.get_record(record_id), schema)
    except KartennError as exc:
        raise _fail(exc.message) from None
    site.close()
    typer.echo(data.decode("utf-8"), nl=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
