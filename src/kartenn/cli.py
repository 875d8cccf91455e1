"""The command line: thin, it only calls services. Errors are one line and a non-zero exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kartenn.cli_migrate import migrate_app
from kartenn.cli_options import DataDir
from kartenn.cli_sync import sync as sync_command
from kartenn.config import Settings
from kartenn.errors import KartennError

app = typer.Typer(help="Kartenn: publish, catalogue and serve geospatial data.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
console = Console(stderr=True, soft_wrap=True)  # an error stays one line, however long
out = Console()



def _site(data_dir: Path, create: bool = False, **settings: str | None):  # type: ignore[no-untyped-def]
    """The site, or one line and a non-zero exit when it cannot be opened (e.g. with another store than its own)."""
    from kartenn.site import Site

    try:
        given = {name: value for name, value in settings.items() if value is not None}
        return Site.open(Settings.load(data_dir, **given), create=create)
    except KartennError as exc:
        raise _fail(exc.message) from None


def _operator(data_dir: Path):  # type: ignore[no-untyped-def]
    """The site as its local operator sees it, for the commands that change it: every dataset and record, every
    right (a platform administrator, see domain.security.OPERATOR); every change is audited under that name."""
    from kartenn.domain.security import OPERATOR

    return _site(data_dir).seen_by(OPERATOR)


def _error(message: str) -> None:
    """One line on standard error, never wrapped, so scripts can read it."""
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _error(message)
    return typer.Exit(code=1)


@app.command()
def init(data_dir: Annotated[Path, typer.Argument(help="Folder to create.")] = Path("site"),
         database_url: Annotated[str | None, typer.Option(
             help="PostGIS database (postgresql://user@host:5432/db) instead of the embedded store; default: "
                  "KARTENN_DATABASE_URL. The password is not recorded: keep it in the variable, PGPASSWORD or "
                  "~/.pgpass.")] = None) -> None:
    """Create a data directory with its configuration and catalogue, and record its store (which also records the
    store of a site made by an earlier Kartenn)."""
    site = _site(data_dir, create=True, database_url=database_url)
    out.print(f"Initialised {site.settings.data_dir} ({site.store_name})", highlight=False, soft_wrap=True)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files to publish (GeoPackage, zipped Shapefile, CSV…).")],
    data_dir: DataDir = Path("site"),
    title: Annotated[str | None, typer.Option(help="Title of the dataset (one input only).")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of inputs that do not say theirs, e.g. EPSG:2154.")] = None,
    replace: Annotated[str | None, typer.Option(help="Update this dataset in place, keeping its id.")] = None,
    org: Annotated[str | None, typer.Option(help="Organisation that owns the new datasets.")] = None,
    private: Annotated[bool, typer.Option("--private", help="Only the owning organisation sees them.")] = False,
    variable: Annotated[str | None, typer.Option(help="Publish only this variable of a NetCDF file.")] = None,
    series: Annotated[str | None, typer.Option(
        help="Read the files as measurements at stations: station=COL,time=COL[,variable=COL,value=COL,unit=COL] "
             "(long form) or station=COL,time=COL (wide form: every numeric column is a variable); 'auto' finds "
             "the columns by their usual names.")] = None,
) -> None:
    """Publish each file as one or more datasets, each with a catalogue record. A NetCDF variable with a time
    axis, or a folder (or zip) of GeoTIFFs named by date, becomes one raster time stack."""
    from kartenn.domain.security import Sharing
    from kartenn.services.publish import publish_file

    if (title or replace) and len(files) != 1:
        raise _fail("--title and --replace take a single input")
    if private and not org:
        raise _fail("--private needs --org: the organisation whose members will see the data")
    try:
        site = _operator(data_dir)
        if org and not site.accounts.has_organisation(org):
            raise _fail(f"no organisation {org!r}; create it with: kartenn org add {org}")
    except KartennError as exc:
        raise _fail(exc.message) from None
    sharing = Sharing(org=org, public=not private)
    published, failures = [], 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal and "KARTENN_PROGRESS"
                  not in os.environ) as bar:
        for path in files:
            task = bar.add_task(path.name, total=None)

            def progress(done: int, total: int | None, message: str, task=task) -> None:  # type: ignore[no-untyped-def]
                bar.update(task, completed=done, total=total, description=message)

            try:
                outcomes = publish_file(site, path, title=title, crs=crs, replace=replace, progress=progress,
                                        sharing=sharing, variable=variable, series=series)
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
def delete(dataset_id: Annotated[str, typer.Argument(help="The dataset to remove.")],
           data_dir: DataDir = Path("site")) -> None:
    """Delete a dataset: its data, record and grants."""
    from kartenn.services import datasets

    try:
        datasets.remove(_operator(data_dir), dataset_id)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Dataset {dataset_id} deleted", highlight=False)


@app.command()
def serve(
    data_dir: DataDir = Path("site"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes.")] = 1,
) -> None:
    """Serve the portal, the OGC APIs, OWS services and the JSON API."""
    import uvicorn

    from kartenn.serving import APP, serve_workers, uvicorn_options

    try:
        settings = Settings.load(data_dir)
        _site(data_dir).close()
    except KartennError as exc:
        raise _fail(exc.message) from None
    os.environ["KARTENN_DATA_DIR"] = str(settings.data_dir)
    os.environ["KARTENN_WORKERS"] = str(workers)  # each process draws maps on its share of the cores
    options = uvicorn_options(settings.forwarded_allow_ips, settings.log_format, settings.shutdown_timeout)
    console.print(f"Serving {settings.data_dir} on http://{host}:{port}", highlight=False, soft_wrap=True)
    if workers > 1:  # a listening socket per process: the kernel spreads connections across them
        try:
            status = serve_workers(workers, host, port, options)
        except OSError as exc:
            raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        if status:
            raise _fail("a worker process could not start: see the messages above")
        return
    uvicorn.run(APP, host=host, port=port, **options)


@app.command()
def demo(
    data_dir: DataDir = Path("demo-site"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the demo data and stop.")] = False,
) -> None:
    """Create a site with the bundled demo datasets, then serve it."""
    from kartenn.demo import DEMO_ADMIN, demo_admin, load_demo

    try:
        site = _site(data_dir, create=True)
        load_demo(site, console)
        password = demo_admin(site)
        site.close()
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"\nPortal: http://{host}:{port}/  (HOST= and PORT= move it: make demo PORT=8080)", highlight=False)
    if password:
        out.print(f"Log in as {DEMO_ADMIN!r} with the password {password!r} (shown this once).", highlight=False)
    else:
        out.print(f"Log in as {DEMO_ADMIN!r}; its password was shown when {data_dir} was made. To make another "
                  f"administrator: kartenn user add NAME --role admin --password-stdin --data-dir {data_dir}",
                  highlight=False)
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
        site = _operator(data_dir)
    except KartennError as exc:
        raise _fail(exc.message) from None
    report = import_paths(site, files)
    site.close()
    for error in report.errors:
        _error(error)
    out.print(f"{len(report.imported)} record(s) imported", highlight=False, soft_wrap=True)
    if report.errors:
        raise typer.Exit(code=1)


@records_app.command("contacts")
def records_contacts(data_dir: DataDir = Path("site")) -> None:
    """Name each dataset's owning organisation (else the site's publisher) in its record: for datasets
    published before records named them, or after publisher_name changed in kartenn.toml."""
    from kartenn.services import datasets

    try:
        site = _operator(data_dir)
        changed = datasets.sync_owners(site)
    except KartennError as exc:
        raise _fail(exc.message) from None
    site.close()
    out.print(f"{changed} record(s) updated", highlight=False, soft_wrap=True)


@records_app.command("export")
def records_export(
    record_id: Annotated[str, typer.Argument(help="Identifier of the record.")],
    data_dir: DataDir = Path("site"),
    schema: Annotated[str, typer.Option("--format", help="iso19139, iso19115-3, dc, dcat.rdf, dcat.jsonld or "
                                                         "schemaorg.jsonld.")] = "iso19139",
) -> None:
    """Write a record on standard output; links are made on the site's base_url (else http://localhost:8000)."""
    from kartenn.services.record_exports import record_document

    try:
        site = _site(data_dir)
        base = (site.settings.base_url or "http://localhost:8000").rstrip("/")
        data, _ = record_document(site, site.catalog.get_record(record_id), base, schema)
    except KartennError as exc:
        raise _fail(exc.message) from None
    site.close()
    typer.echo(data.decode("utf-8"), nl=False)


org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens (for scripts, QGIS and other clients).", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
thesaurus_app = typer.Typer(help="Thesauri for keywords (SKOS): the INSPIRE themes ship; import others.",
                            no_args_is_help=True)
app.add_typer(thesaurus_app, name="thesaurus")


@thesaurus_app.command("import")
def thesaurus_import(path: Annotated[Path, typer.Argument(help="A SKOS file: RDF/XML (.rdf) or Turtle (.ttl).")],
                     data_dir: DataDir = Path("site"),
                     thesaurus_id: Annotated[str | None, typer.Option("--id", help="Default: from the file name.")]
                     = None) -> None:
    """Import (or replace) a SKOS thesaurus, e.g. GEMET."""
    from kartenn.services.thesauri import add_thesaurus

    try:
        site = _operator(data_dir)
        if not path.is_file():
            raise _fail(f"{path}: no such file")
        ident = add_thesaurus(site, path, thesaurus_id)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Thesaurus {ident} imported", highlight=False)


@thesaurus_app.command("list")
def thesaurus_list(data_dir: DataDir = Path("site")) -> None:
    from kartenn.services.thesauri import list_thesauri

    for t in list_thesauri(_site(data_dir)):
        typer.echo(f"{t['id']}\t{t['concepts']}\t{t['title']}")


@org_app.command("add")
def org_add(org_id: Annotated[str, typer.Argument(help="Short name, e.g. iuem.")], data_dir: DataDir = Path("site"),
            name: Annotated[str | None, typer.Option(help="Full name.")] = None) -> None:
    """Create an organisation."""
    from kartenn.services import accounts

    try:
        accounts.add_organisation(_operator(data_dir), org_id, name)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Organisation {org_id} created", highlight=False)


@org_app.command("list")
def org_list(data_dir: DataDir = Path("site")) -> None:
    site = _site(data_dir)
    for org in site.accounts.list_organisations():
        typer.echo(f"{org['id']}\t{org['name']}")


@user_app.command("add")
def user_add(
    user_id: Annotated[str, typer.Argument(help="Login name.")],
    data_dir: DataDir = Path("site"),
    org: Annotated[str | None, typer.Option(help="Organisation the user belongs to.")] = None,
    role: Annotated[str, typer.Option(help="member, editor, reviewer, or admin (platform administrator).")] = "member",
    email: Annotated[str, typer.Option(help="E-mail address.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read a password from standard input.")]
    = False,
) -> None:
    """Create a user, with a role in an organisation (admin: platform administrator)."""
    from kartenn.domain.security import ROLES
    from kartenn.services import accounts

    if role not in ROLES:
        raise _fail(f"--role must be one of {', '.join(ROLES)}")
    if role != "admin" and not org:
        raise _fail("--org is needed for a member, editor or reviewer")
    try:
        site = _operator(data_dir)
        if org and not site.accounts.has_organisation(org):
            raise _fail(f"no organisation {org!r}; create it with: kartenn org add {org}")
        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        accounts.add_user(site, user_id, org=org, role=role, email=email, password=password)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"User {user_id} created" + (f" ({role} of {org})" if org else f" ({role})"), highlight=False)


@user_app.command("list")
def user_list(data_dir: DataDir = Path("site")) -> None:
    site = _site(data_dir)
    for user in site.accounts.list_users():
        roles = ",".join(f"{org}:{role}" for org, role in user["roles"].items())
        flags = " ".join(f for f, on in (("admin", user["admin"]), ("disabled", not user["active"])) if on)
        typer.echo(f"{user['id']}\t{roles}\t{flags}".rstrip())


@user_app.command("role")
def user_role(
    user_id: Annotated[str, typer.Argument(help="The user.")],
    org: Annotated[str, typer.Argument(help="The organisation.")],
    role: Annotated[str, typer.Argument(help="member, editor, reviewer, admin, or none to remove.")],
    data_dir: DataDir = Path("site"),
) -> None:
    """Set (or remove, with 'none') a user's role in an organisation."""
    from kartenn.domain.security import ROLES
    from kartenn.services import accounts

    if role not in (*ROLES, "none"):
        raise _fail(f"the role must be one of {', '.join(ROLES)} or none")
    try:
        site = _operator(data_dir)
        site.accounts.get_user(user_id)
        accounts.set_role(site, user_id, org, None if role == "none" else role)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"{user_id}: {role} in {org}", highlight=False)


@user_app.command("disable")
def user_disable(user_id: Annotated[str, typer.Argument(help="The user.")], data_dir: DataDir = Path("site"),
                 enable: Annotated[bool, typer.Option("--enable", help="Enable the account again.")] = False) -> None:
    """Disable an account (its sessions end; its tokens stop working), or enable it again."""
    from kartenn.services import accounts

    try:
        accounts.set_active(_operator(data_dir), user_id, enable)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"{user_id} {'enabled' if enable else 'disabled'}", highlight=False)


@user_app.command("requests")
def user_requests(data_dir: DataDir = Path("site")) -> None:
    """Account requests waiting for approval (made at /auth/signup)."""
    site = _site(data_dir)
    for req in site.accounts.list_signups():
        typer.echo(f"{req['id']}\t{req['email']}\t{req['org'] or ''}\t{req['message']}")


@user_app.command("approve")
def user_approve(
    user_id: Annotated[str, typer.Argument(help="The name asked for.")],
    data_dir: DataDir = Path("site"),
    org: Annotated[str | None, typer.Option(help="Organisation (default: the one asked for).")] = None,
    role: Annotated[str, typer.Option(help="member, editor or reviewer.")] = "member",
) -> None:
    """Approve an account request: the account is created with the password given when asking."""
    from kartenn.services.identity import approve_signup

    if role not in ("member", "editor", "reviewer"):
        raise _fail("--role must be member, editor or reviewer")
    try:
        done = approve_signup(site := _operator(data_dir), user_id, site.identity.name, org=org, role=role)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"User {user_id} approved" + (f" ({role} of {done['org']})" if done["org"] else ""), highlight=False)


@user_app.command("reject")
def user_reject(user_id: Annotated[str, typer.Argument(help="The name asked for.")],
                data_dir: DataDir = Path("site")) -> None:
    """Turn an account request down."""
    from kartenn.services.identity import reject_signup

    try:
        reject_signup(site := _operator(data_dir), user_id, site.identity.name)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Request of {user_id} rejected", highlight=False)


@token_app.command("create")
def token_create(
    user_id: Annotated[str, typer.Argument(help="The token's user.")],
    data_dir: DataDir = Path("site"),
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    scope: Annotated[str, typer.Option(help="read or write.")] = "write",
    days: Annotated[int, typer.Option(help="Days before it expires (0: never).")] = 365,
) -> None:
    """Create an API token; it is printed once, on the last line."""
    from kartenn.services.identity import create_token

    try:
        token = create_token(_operator(data_dir), user_id, name=name, scope=scope, days=days or None)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Token for {user_id} ({scope}); keep it secret, it is not shown again:", highlight=False)
    typer.echo(token)


@app.command()
def grant(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    action: Annotated[str, typer.Argument(help="view, download, edit or publish.")],
    data_dir: DataDir = Path("site"),
    org: Annotated[str | None, typer.Option(help="To this organisation's members.")] = None,
    user: Annotated[str | None, typer.Option(help="To this user.")] = None,
    public: Annotated[bool, typer.Option("--public", help="To everyone, anonymous included.")] = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the grant back.")] = False,
) -> None:
    """Give (or take back) a right on a dataset."""
    from kartenn.domain.security import ACTIONS
    from kartenn.services import grants

    if action not in ACTIONS:
        raise _fail(f"action must be one of {', '.join(ACTIONS)}")
    if [bool(org), bool(user), public].count(True) != 1:
        raise _fail("give exactly one of --org, --user, --public")
    principal, principal_id = ("org", org) if org else ("user", user) if user else ("public", "")
    try:
        site = _operator(data_dir)
        site.catalog.get_dataset(dataset)
        if org and not site.accounts.has_organisation(org):
            raise _fail(f"no organisation {org!r}")
        if user:
            site.accounts.get_user(user)
        grants.change_grant(site, dataset, principal, principal_id or "", action, revoke=revoke)
    except KartennError as exc:
        raise _fail(exc.message) from None
    who = principal if principal == "public" else f"{principal} {principal_id}"
    out.print(f"{'Revoked' if revoke else 'Granted'} {action} on {dataset} {'from' if revoke else 'to'} {who}",
              highlight=False)


@app.command()
def audit(data_dir: DataDir = Path("site"),
          event: Annotated[str | None, typer.Option(help="Only this kind of event, e.g. login.failed.")] = None,
          limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50) -> None:
    """The audit log: logins, publications, grants, deletions, refused access."""
    site = _site(data_dir)
    for entry in site.accounts.audit_log(event=event, limit=limit):
        typer.echo(f"{entry['at']}\t{entry['actor']}\t{entry['event']}\t{entry['resource']}")


style_app = typer.Typer(help="Named styles of datasets: list, import (SLD or JSON), export, delete.",
                        no_args_is_help=True)
app.add_typer(style_app, name="style")


@style_app.command("list")
def style_list(dataset: Annotated[str, typer.Argument(help="Dataset id.")], data_dir: DataDir = Path("site")) -> None:
    """The dataset's styles, the default first."""
    from kartenn.services import styles

    try:
        site = _operator(data_dir)
        ds = site.catalog.get_dataset(dataset)
        for style in styles.styles_of(site, ds).values():
            mark = "default" if style.name == styles.default_name(ds) else ""
            typer.echo(f"{style.name}\t{style.title}\t{styles.style_revision(ds, style)}\t{mark}".rstrip())
    except KartennError as exc:
        raise _fail(exc.message) from None


@style_app.command("put")
def style_put(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    name: Annotated[str, typer.Argument(help="Style name.")],
    file: Annotated[Path, typer.Argument(help="An SLD document (.sld, .xml) or a JSON style (.json).")],
    data_dir: DataDir = Path("site"),
    default: Annotated[bool, typer.Option("--default", help="Also make it the default style.")] = False,
) -> None:
    """Create or replace a style from an SLD or JSON file."""
    from kartenn.services import styles

    try:
        site = _operator(data_dir)
        ds = site.catalog.get_dataset(dataset)
        media = "application/json" if file.suffix.lower() == ".json" else styles.SLD_TYPE
        style, warnings = styles.read_style(ds, name, file.read_bytes(), media)
        created = styles.put_style(site, ds, style, make_default=default)
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    except KartennError as exc:
        raise _fail(exc.message) from None
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    out.print(f"{'Created' if created else 'Replaced'} style {style.name} of {dataset}", highlight=False)


@style_app.command("get")
def style_get(
    dataset: Annotated[str, typer.Argument(help="Dataset id.")],
    name: Annotated[str, typer.Argument(help="Style name.")],
    data_dir: DataDir = Path("site"),
    format: Annotated[str, typer.Option("--format", "-f", help="sld, json or mapbox.")] = "sld",
) -> None:
    """Write a style to standard output as SLD 1.0, the JSON model or MapLibre style JSON."""
    from kartenn.services import styles

    if format not in ("sld", "json", "mapbox"):
        raise _fail("--format is sld, json or mapbox")
    try:
        site = _operator(data_dir)
        ds = site.catalog.get_dataset(dataset)
        base = (site.settings.base_url or "http://127.0.0.1:8000").rstrip("/")  # serve's default address
        body, _ = styles.export_style(ds, styles.style_for(site, ds, name), format, base,
                                     site.settings.glyphs_url)
    except KartennError as exc:
        raise _fail(exc.message) from None
    sys.stdout.buffer.write(body + b"\n")


@style_app.command("delete")
def style_delete(dataset: Annotated[str, typer.Argument(help="Dataset id.")],
                 name: Annotated[str, typer.Argument(help="Style name.")], data_dir: DataDir = Path("site")) -> None:
    """Delete a named style (not the default one)."""
    from kartenn.services import styles

    try:
        site = _operator(data_dir)
        styles.delete_style(site, site.catalog.get_dataset(dataset), name)
    except KartennError as exc:
        raise _fail(exc.message) from None
    out.print(f"Deleted style {name} of {dataset}", highlight=False)


app.command("sync")(sync_command)


app.add_typer(migrate_app, name="migrate")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
