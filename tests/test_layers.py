"""The layers' rules, read from the source: only stores/ knows which database runs behind a site and writes SQL;
web/ never imports stores/; the command line and web/ never write the audit log themselves (the services they
call do, with the rights check)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kartenn

PACKAGE = Path(kartenn.__file__).parent
STORES = PACKAGE / "stores"
# Words that name a back end in code (not in strings: media types and help texts may say "GeoPackage").
BACK_END_WORDS = ("postgres", "postgis", "sqlite", "geopackagestore")
BACK_END_MODULES = ("kartenn.stores.geopackage", "kartenn.stores.postgis")
# module (relative to src/kartenn) → names it may still use, and why
ALLOWED_NAMES = {
    "config.py": {"uses_postgis"},  # the setting that says which database a site names; read by stores/binding.py
}
ALLOWED_PACKAGES = ("testing/",)  # starts a PostgreSQL server for the tests
WEB = sorted((PACKAGE / "web").rglob("*.py"))


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved, ``from x import y`` giving x and x.y."""
    package = _module(path).rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return found


def _audit_calls(path: Path) -> list[int]:
    """Lines that call ``something.log(...)`` or ``something.log_many(...)``: writing the audit log."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("log", "log_many")]


def test_rules_read_real_source(tmp_path):
    """The checks find what they look for: an absolute, a relative and a from-import of stores, an audit call, a
    transaction and the feature store."""
    web = tmp_path / "kartenn" / "web" / "ogc"
    web.mkdir(parents=True)
    sample = web / "sample.py"
    sample.write_text("import kartenn.stores.items\nfrom ...stores import catalog\nfrom kartenn import stores\n"
                      "def f(site):\n    site.accounts.log('a', 'b')\n"
                      "    with site.catalog.begin():\n        return site.features\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "kartenn"
    try:
        imports = _imports(sample)
    finally:
        PACKAGE = saved
    assert "kartenn.stores.items" in imports
    assert "kartenn.stores.catalog" in imports
    assert "kartenn.stores" in imports
    assert _audit_calls(sample) == [5]
    assert sorted(_store_uses(sample)) == [6, 7]


@pytest.mark.parametrize("path", WEB, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_web_does_not_import_stores(path):
    bad = [name for name in _imports(path) if name == "kartenn.stores" or name.startswith("kartenn.stores.")]
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}: go through a service"


@pytest.mark.parametrize("path", [*WEB, PACKAGE / "cli.py"], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_audit_lines_are_written_by_services(path):
    lines = _audit_calls(path)
    assert not lines, f"{path.relative_to(PACKAGE)} writes the audit log at lines {lines}: let the service do it"


def test_site_view_refuses_what_it_does_not_offer(site):
    """A caller's view of the site offers its filtered catalogue and the shared parts, nothing else: no unfiltered
    read, no way to another identity's view."""
    from kartenn.domain.security import ANONYMOUS

    view = site.seen_by(ANONYMOUS)
    assert view.settings is site.settings and view.accounts is site.accounts
    assert view.catalog.begin.__self__ is site.catalog  # identity-free, passed through
    for name in ("seen_by", "reconcile", "adopt_unowned", "no_such_thing"):
        with pytest.raises(AttributeError):
            getattr(view, name)
    for name in ("count_records", "no_such_thing"):
        assert hasattr(site.catalog, name) or name == "no_such_thing"
        with pytest.raises(AttributeError):
            getattr(view.catalog, name)


def _store_uses(path: Path) -> list[int]:
    """Lines that open a transaction (``….begin()``) or reach the feature store (``site.features``)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Attribute) and (
                node.attr == "begin" or (node.attr == "features" and isinstance(node.value, ast.Name)
                                         and node.value.id == "site"))]


@pytest.mark.parametrize("path", [*WEB, PACKAGE / "cli.py"], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_transactions_and_features_go_through_services(path):
    lines = _store_uses(path)
    assert not lines, f"{path.relative_to(PACKAGE)} opens transactions or reads features at lines {lines}"


def back_end_questions(source: str) -> list[str]:
    """The names and imports of ``source`` that ask which back end runs."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.keyword) and node.arg:
            names = [node.arg]
        elif isinstance(node, ast.ImportFrom):
            if node.module in BACK_END_MODULES:
                found.append(f"import from {node.module}")
            names = [a.asname or a.name for a in node.names]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in BACK_END_MODULES]
        found += [n for n in names if any(word in n.lower() for word in BACK_END_WORDS)]
    return found


def sql_imports(source: str) -> list[str]:
    """The sqlalchemy imports of ``source`` that build SQL (type imports from sqlalchemy.engine are fine)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy" \
                and node.module != "sqlalchemy.engine":
            found.append(f"from {node.module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
    return found


def _modules() -> list[tuple[str, str]]:
    return [(path.relative_to(PACKAGE).as_posix(), path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py")) if STORES not in path.parents]


def test_the_checks_see_back_end_questions_and_sql():
    asked = back_end_questions("from kartenn.stores.postgis import PostGISStore\n"
                               "if isinstance(site.features, PostGISStore) or site.catalog.is_postgres:\n"
                               "    where = time.sqlite_where()\n")
    assert sorted(asked) == ["PostGISStore", "PostGISStore", "import from kartenn.stores.postgis", "is_postgres",
                             "sqlite_where"]
    assert back_end_questions('MEDIA = "application/geopackage+sqlite3"\nstore = site.features.name\n') == []
    assert sql_imports("from sqlalchemy import select\nfrom sqlalchemy.engine import Connection\n") == \
        ["from sqlalchemy import select"]


def test_nothing_outside_stores_asks_which_back_end_runs():
    modules = _modules()
    assert len(modules) > 50 and any(name == "site.py" for name, _ in modules)
    asked = {}
    for name, source in modules:
        if name.startswith(ALLOWED_PACKAGES):
            continue
        found = [n for n in back_end_questions(source) if n not in ALLOWED_NAMES.get(name, set())]
        if found:
            asked[name] = sorted(set(found))
    assert asked == {}


def test_no_sql_outside_stores():
    built = {name: found for name, source in _modules() for found in [sql_imports(source)] if found}
    assert built == {}


def test_each_back_end_implements_the_whole_store_interface():
    from kartenn.stores.base import FeatureStore
    from kartenn.stores.geopackage import GeoPackageStore
    from kartenn.stores.postgis import PostGISStore

    wanted = {name for name in vars(FeatureStore) if not name.startswith("_")} | {"name"}
    assert {"load", "map_datasource", "vector_tile", "features_in_box", "levels", "value_range"} <= wanted
    for store in (GeoPackageStore, PostGISStore):
        missing = {name for name in wanted if not callable(getattr(store, name, None)) and name != "name"}
        assert missing == set(), store.__name__
        assert isinstance(store.name, str) and store.name


def test_the_dialects_name_the_catalogue_schema():
    from kartenn.stores.catalog import SCHEMA
    from kartenn.stores.dialect import POSTGRESQL, SQLITE

    assert (POSTGRESQL.table("records"), SQLITE.table("records")) == (f"{SCHEMA}.records", "records")
