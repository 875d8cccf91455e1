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
