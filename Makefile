# Kartenn — quick start: `make demo`, then `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DIR ?= demo-site

.PHONY: install assets demo serve test test-deps bench bench-all bench-features bench-catalog bench-maps bench-edr lint clean

$(BIN)/kartenn: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,dev]"
	touch $(BIN)/kartenn

install: $(BIN)/kartenn assets

# The portal's front end (OpenLayers, bundled by esbuild) into src/kartenn/web/static; rebuilt only when
# its sources are newer than the build.
STATIC := src/kartenn/web/static/manifest.json
$(STATIC): $(shell find frontend -path frontend/node_modules -prune -o -type f -print)
	cd frontend && npm ci --no-audit --no-fund && npm run build

assets: $(STATIC)

demo: install
	$(BIN)/kartenn demo --data-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/kartenn serve --data-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

# System parts the tests use: PostgreSQL + PostGIS and GDAL's command-line tools.
test-deps:
	scripts/install-test-deps.sh

# Tests run in TEST_WORKERS processes (default: the cores, at most 4), each with its own PostgreSQL cluster.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

test: install test-deps
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

bench: install test-deps
	$(BIN)/python bench/ingest.py

# OGC API Features / WFS against tipg and pygeoapi (each in its own virtualenv under bench/work).
bench-features: install test-deps
	$(BIN)/python bench/features.py $(BENCH_ARGS)

# CSW GetRecords and records full-text search against pycsw 2.6.2 (own virtualenv under bench/work);
# e.g. BENCH_ARGS="--records 10000" for a shorter load.
bench-catalog: install test-deps
	$(BIN)/python bench/catalog.py $(BENCH_ARGS)

# WMS GetMap against MapServer, MVT tiles against tipg and raw ST_AsMVT (bench/setup.sh installs MapServer).
bench-maps: install test-deps
	$(BIN)/python bench/maps.py $(BENCH_ARGS)

# OGC API – EDR on a raster time stack against pygeoapi's xarray provider (own virtualenv under bench/work).
bench-edr: install test-deps
	$(BIN)/python bench/edr.py $(BENCH_ARGS)

# Every benchmark, then the table of targets (bench/results/summary.{md,json}); shorter timed runs than each
# benchmark's own defaults so the whole fits in 40 minutes on 2 cores. MapServer comes from bench/setup.sh.
BENCH_ALL_SECONDS ?= 6
bench-all: install test-deps
	command -v mapserv >/dev/null || sh bench/setup.sh
	$(BIN)/python bench/ingest.py --repeat 3
	$(BIN)/python bench/features.py --seconds $(BENCH_ALL_SECONDS) --warmup 1
	$(BIN)/python bench/maps.py --seconds $(BENCH_ALL_SECONDS) --warmup 1 --cold-seconds $(BENCH_ALL_SECONDS)
	$(BIN)/python bench/catalog.py --seconds $(BENCH_ALL_SECONDS) --warmup 1
	$(BIN)/python bench/edr.py --seconds $(BENCH_ALL_SECONDS) --warmup 1
	$(BIN)/python bench/summary.py

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
