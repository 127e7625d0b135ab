# The verbs of the project. Everything installs from pyproject.toml + uv.lock into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
export XDG_RUNTIME_DIR ?= /tmp
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test worker migrate schema schema-check lint bench doctor clean

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --python $(BIN)/python
	touch $@

install: $(BIN)/.installed

## Run the product: embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set, migrate,
## seed the demo tenant, print dev tokens, serve GraphiQL on :8000 and run the worker.
run: install
	$(BIN)/cockpit dev

## Run the test suite (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set).
test: install
	$(BIN)/pytest

worker: install
	$(BIN)/cockpit worker

migrate: install
	$(BIN)/cockpit migrate

doctor: install
	$(BIN)/cockpit doctor

schema: install
	$(BIN)/cockpit export-schema

schema-check: install
	$(BIN)/cockpit export-schema --check

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

bench: install
	$(BIN)/python -m bench.run

## The directory page through PostGraphile v4 (the peer, a bench tool only: bench/peer/, its node_modules
## ignored and installed from its lock file) and through ours, same data, same run (bench/peer.py).
.PHONY: bench-peer
bench/peer/node_modules/.installed: bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

bench-peer: install bench/peer/node_modules/.installed
	$(BIN)/python -m bench.peer

clean:
	rm -rf $(VENV) .data
