# docker-migrate: build, test and run. `make test` and `make run` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

NPM_STAMP := node_modules/.install-stamp
SOURCES := $(shell find src -name '*.ts' -not -name '*.test.ts' 2>/dev/null) package.json scripts/build.mjs
NATIVE := native/build/fs_native.node

.PHONY: install build build-full build-all release image test-tools browser compiler native test test-unit test-web test-integration test-e2e test-faults test-coverage lint typecheck format proto bench \
	docker-engine promtool postgres hosts hosts-stop hosts-clean run clean

## install: npm dependencies, exactly as locked (re-run only when the lockfile changes), and the native add-on
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@
install: $(NPM_STAMP) $(NATIVE)

## native: the add-on for nanosecond file times and hole seeking, built with the system C compiler into native/build;
##         without a compiler it warns and the product runs on Node's fs alone (tried again on each make)
$(NATIVE): $(NPM_STAMP) native/fs-native.c scripts/build-native.mjs
	node scripts/build-native.mjs
native: $(NATIVE)

## build: the executable bin/docker-migrate (one bundled Node script) and the native add-on beside it
bin/docker-migrate: $(NPM_STAMP) $(NATIVE) $(SOURCES)
	node scripts/build.mjs
build: bin/docker-migrate

## build-full: the binary and the web UI (bin/web, served by the master from its HTTP address)
WEB_SOURCES := $(shell find web -type f 2>/dev/null) vite.config.ts
bin/web/index.html: $(NPM_STAMP) $(WEB_SOURCES)
	npx vite build --logLevel warn
build-full: build bin/web/index.html

## build-all: the release archives for every platform in packaging/platforms.json, each with its own Node.js
##            runtime: dist/docker-migrate-<version>-<os>-<arch>.tar.gz and dist/SHA256SUMS
build-all: install $(NATIVE)
	node scripts/release.mjs

## release: build-all from a clean dist/; reproducible (the same sources give the same SHA256SUMS)
release: install $(NATIVE)
	rm -f dist/docker-migrate-*.tar.gz dist/SHA256SUMS
	node scripts/release.mjs

## image: the image docker-migrate:<version> and :latest on the engine DOCKER_HOST names, offline if need be
##        (BASE=auto: node:20-bookworm-slim when it can be had, else one made of this host's Node.js; BASE=offline)
image: build-full
	@bash scripts/image.sh

## compiler: Debian's C compiler for the native add-on, when no cc is found (needs root; only warns without it)
compiler:
	@bash scripts/c-compiler.sh

## browser: Debian's Chromium for the browser tests, when missing (needs root; never a downloaded browser)
browser:
	@bash scripts/browser.sh install

## docker-engine: the Docker engine from Debian's packages, when missing (needs root)
docker-engine:
	@bash scripts/docker-hosts.sh install

## test-tools: Debian's curl and systemd-analyze for the install tests, when missing (needs root)
test-tools:
	@bash scripts/test-tools.sh

## promtool: Prometheus's promtool, which checks the master's /metrics page in the e2e tests (Debian's prometheus
##           package, when missing; needs root)
promtool:
	@bash scripts/promtool.sh install

## postgres: Debian's PostgreSQL server, when missing, for the tests of the PostgreSQL store (needs root); the tests
##           start a private server from it on 127.0.0.1
postgres:
	@bash scripts/postgres.sh install

## test: everything the tests need, then lint, type-check and every tier; ends with "N passed, N failed"
test: compiler install docker-engine browser test-tools promtool postgres build-full lint
	@bash scripts/run-tests.sh unit web integration e2e faults

test-unit: compiler install
	@bash scripts/run-tests.sh unit

test-web: install
	@bash scripts/run-tests.sh web

test-integration: install docker-engine postgres
	@bash scripts/run-tests.sh integration

test-e2e: install docker-engine browser test-tools promtool build-full
	@bash scripts/run-tests.sh e2e

## test-coverage: coverage per tier (unit, web, integration) and a table of the totals; informs, never a gate
test-coverage: install docker-engine postgres
	@bash scripts/test-coverage.sh unit web integration

## test-faults: kill, cut and fill while migrations run (hosts 3-5); the table goes to .artifacts/faults-table.md
test-faults: install docker-engine build
	@bash scripts/run-tests.sh faults

## lint: type-check, ESLint (layer rule included) and Prettier; fails on any warning
lint: install typecheck
	npx eslint --max-warnings 0 .
	npx prettier --check --log-level warn .
	npx buf lint

typecheck: install
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p web/tsconfig.json --noEmit

format: install
	npx prettier --write --log-level warn .

## proto: regenerate src/gen from proto/ (the generated code is committed)
proto: install
	rm -rf src/gen
	npx buf generate
	npx buf lint

## bench: benchmarks print figures and ratios against baselines measured in the same run; they never fail on time
bench: install docker-engine build
	@bash bench/run.sh

## hosts: start two test Docker engines in their own network namespaces and print their addresses
hosts:
	@bash scripts/docker-hosts.sh start 2
hosts-stop:
	@bash scripts/docker-hosts.sh stop
hosts-clean:
	@bash scripts/docker-hosts.sh clean

## run: install, build, make sure a local Docker engine runs, and start the `ui` node (master + local worker)
##      on the embedded defaults (HTTP :8080, gRPC :9090, data in ~/.docker-migrate); prints URL and admin token
run: compiler build-full
	@bash scripts/docker-hosts.sh local
	./bin/docker-migrate ui

clean:
	rm -rf bin dist native/build coverage .artifacts node_modules/.vite node_modules/.vitest
