"""The layers' rules, read from the source: web/ never imports stores/; the command line and web/ never write
the audit log themselves (the services they call do, with the rights check)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kartenn

PACKAGE = Path(kartenn.__file__).parent
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
