# The verbs of the project. Everything installs from pyproject.toml + uv.lock into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
export XDG_RUNTIME_DIR ?= /tmp
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test worker migrate schema schema-check lint bench doctor clean graphiql-assets chromium

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --python $(BIN)/python
	touch $@

install: $(BIN)/.installed

## Run the product: embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set, migrate,
## seed the demo tenant, print dev tokens, serve GraphiQL on :8000 and run the worker.
run: install
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory graphiql-assets \
	  || echo "GraphiQL assets not installed: GraphiQL loads them from the CDN"; \
	  else echo "npm not found: GraphiQL loads its assets from the CDN (docs/graphiql.md)"; fi
	$(BIN)/cockpit dev

## Run the test suite (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set).
test: install graphiql-assets chromium ecosystem codegen-venv
	$(BIN)/pytest

## GraphiQL without a CDN: the exact builds strawberry's page pins, from npm (graphiql/package-lock.json),
## copied into cockpit_graphql/static/graphiql/ (ignored) and checked against strawberry's SRI hashes.
graphiql/node_modules/.installed: graphiql/package.json graphiql/package-lock.json
	cd graphiql && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

graphiql-assets: install graphiql/node_modules/.installed
	$(BIN)/python -m cockpit_graphql.ide install graphiql/node_modules

## Debian's chromium for the browser test (tests/browser); no browser download.
chromium:
	test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

## The GraphQL ecosystem tools of tests/ecosystem (docs/federation.md, docs/clients.md): Apollo
## composition, gateway, server and subgraph, GraphQL Code Generator and TypeScript, from
## ecosystem/package-lock.json (exact versions; engine-strict, so Node 20 is checked on install).
.PHONY: ecosystem codegen-venv clients
ecosystem/node_modules/.installed: ecosystem/package.json ecosystem/package-lock.json
	cd ecosystem && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

ecosystem: ecosystem/node_modules/.installed

## ariadne-codegen in its own venv: its graphql-core and ruff pins conflict with the project's.
## Installed from a hashed lock (clients/python/requirements.lock; how to refresh it: requirements.in).
CODEGEN_VENV := .venv-codegen
$(CODEGEN_VENV)/.installed: clients/python/requirements.lock
	rm -rf $(CODEGEN_VENV)
	$(PYTHON) -m venv $(CODEGEN_VENV)
	$(CODEGEN_VENV)/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps \
	  -r clients/python/requirements.lock
	touch $@

codegen-venv: $(CODEGEN_VENV)/.installed

## Typed clients for clients/operations/*.graphql from schema.graphql, into build/clients (ignored):
## a Python client (ariadne-codegen) and TypeScript types (graphql-codegen), checked by tsc --noEmit.
clients: ecosystem codegen-venv
	rm -rf build/clients/python build/clients/typescript
	mkdir -p build/clients/python build/clients/typescript
	$(CODEGEN_VENV)/bin/ariadne-codegen client --config clients/python/ariadne-codegen.toml
	NODE_PATH=$(CURDIR)/ecosystem/node_modules ecosystem/node_modules/.bin/graphql-codegen --silent \
	  --config clients/typescript/codegen.yml
	ecosystem/node_modules/.bin/tsc --project clients/typescript/tsconfig.json

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

## Everything the verbs install or write (all ignored by git, see .gitignore); sources stay.
clean:
	rm -rf $(VENV) $(CODEGEN_VENV) .data build test-artifacts .hypothesis .ruff_cache \
	  graphiql/node_modules ecosystem/node_modules bench/peer/node_modules cockpit_graphql/static/graphiql
