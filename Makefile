# Kartenn — quick start: `make demo`, then `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_DIR ?= demo-site

.PHONY: install demo serve test test-deps bench bench-features bench-maps lint clean

$(BIN)/kartenn: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test,dev]"
	touch $(BIN)/kartenn

install: $(BIN)/kartenn

demo: install
	$(BIN)/kartenn demo --data-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/kartenn serve --data-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

# System parts the tests use: PostgreSQL + PostGIS and GDAL's command-line tools.
test-deps:
	scripts/install-test-deps.sh

test: install test-deps
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS)

bench: install test-deps
	$(BIN)/python bench/ingest.py

# OGC API Features / WFS against tipg and pygeoapi (each in its own virtualenv under bench/work).
bench-features: install test-deps
	$(BIN)/python bench/features.py $(BENCH_ARGS)

# WMS GetMap against MapServer, MVT tiles against tipg and raw ST_AsMVT (bench/setup.sh installs MapServer).
bench-maps: install test-deps
	$(BIN)/python bench/maps.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
