#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages when it is missing:
# PostgreSQL 15 with PostGIS 3 (a throwaway cluster is started by the tests), GDAL's tools, Node.js for the
# OpenID provider the tests run (tests/oidc, from the npm registry) and the accessibility checker (tests/axe),
# and SpatiaLite for the benchmarks.
set -euo pipefail
need=()
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
# SpatiaLite, for pygeoapi's GeoPackage provider in bench/features.py.
ls /usr/lib/*/mod_spatialite.so >/dev/null 2>&1 || need+=(libsqlite3-mod-spatialite)
# Chromium, driven headless by Playwright in the portal's browser tests.
command -v chromium >/dev/null || need+=(chromium)
# kubectl, whose kustomize renders the Kubernetes manifests in tests/test_deploy.py.
command -v kubectl >/dev/null || need+=(kubernetes-client)
# QGIS (Python bindings, run headless by /usr/bin/python3), which edits layers through WFS-T in tests/test_wfs_qgis.py.
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || need+=(python3-qgis)
# MapServer's WMS/WFS (python3-mapscript, run by /usr/bin/python3), a harvest source in tests/test_harvest.py.
/usr/bin/python3 -c "import mapscript" >/dev/null 2>&1 || need+=(python3-mapscript)
# venv for pycsw's own virtualenv (below).
python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# panva's oidc-provider, at the version the lock file pins.
here=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$here/tests/oidc/node_modules/oidc-provider" ] || npm ci --prefix "$here/tests/oidc" --no-audit --no-fund
# MapLibre's style validator (gl-style-validate), at the version the lock file pins.
[ -d "$here/tests/maplibre/node_modules/@maplibre/maplibre-gl-style-spec" ] || \
  npm ci --prefix "$here/tests/maplibre" --no-audit --no-fund
# axe-core, the accessibility checker the portal's browser tests run in each page, at the version the lock pins.
[ -f "$here/tests/axe/node_modules/axe-core/axe.min.js" ] || npm ci --prefix "$here/tests/axe" --no-audit --no-fund
# pycsw 2.6 (CSW 2.0.2 and OAI-PMH), a harvest source in tests/test_harvest.py: it needs SQLAlchemy < 2, so it has a
# virtualenv of its own, tests/work/venv-pycsw (tests/pycsw_server.py makes the same one when it is missing).
if [ "$(cat "$here/tests/work/venv-pycsw/.installed" 2>/dev/null)" != "pycsw==2.6.2 sqlalchemy<2" ]; then
  rm -rf "$here/tests/work/venv-pycsw"
  python3 -m venv "$here/tests/work/venv-pycsw"
  "$here/tests/work/venv-pycsw/bin/pip" install -q "pycsw==2.6.2" "sqlalchemy<2"
  printf '%s' "pycsw==2.6.2 sqlalchemy<2" > "$here/tests/work/venv-pycsw/.installed"
fi
