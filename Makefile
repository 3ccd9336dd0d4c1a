# Estate: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
INFLUXDB_DEMO_PORT ?= 18086
TEST_FLAGS ?=

.PHONY: demo test build vet bench soak deps web influxdb-install clean

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

build: web
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/estate ./cmd/estate

# The web console: npm installs the locked front-end packages and esbuild
# bundles web/src into internal/web/dist, which the binary embeds.
web: deps internal/web/dist/index.html

internal/web/dist/index.html: web/package-lock.json web/build.mjs web/index.html $(shell find web/src -type f 2>/dev/null)
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

deps:
	deploy/ensure-tools.sh

influxdb-install: deps
	deploy/influxdb/influxdb.sh install

# Runs the whole product on loopback: InfluxDB (installed on first use), the
# gateway, the desk with its SQLite store and a simulated prepaid meter.
demo: deps build
	deploy/influxdb/influxdb.sh start --port $(INFLUXDB_DEMO_PORT) --dir var/influxdb-demo
	./bin/estate demo --config configs/demo.yaml

# Starts the components the tests need (deploy/test-env.sh: InfluxDB on its own
# port, …), runs vet and the whole suite with -race, and stops them whatever
# the outcome.
test: deps web
	deploy/test-env.sh start
	@rc=0; set -a; . var/test.env; set +a; \
	$(GO) vet ./... && \
	$(GO) test -race -count=1 -timeout 30m $(TEST_FLAGS) ./... || rc=$$?; \
	deploy/test-env.sh stop; \
	exit $$rc

vet:
	$(GO) vet ./...

# Go benchmarks of the hot paths, with allocations per operation; the
# components are started as for the tests (MQTT throughput through mosquitto; the desk's list benchmarks run on
# SQLite and PostgreSQL with ESTATE_BENCH_TICKETS tickets, default 1,000,000).
bench: deps
	deploy/test-env.sh start
	@rc=0; set -a; . var/test.env; set +a; \
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./... || rc=$$?; \
	deploy/test-env.sh stop; \
	exit $$rc

# A whole simulated estate for SOAK_DURATION (default 30m) under faults and
# kills, then a one-page report of what was lost (docs/testing.md, "Soak").
# Not part of `make test` (its short version, TestShortSoak, is). It starts
# InfluxDB and mosquitto of its own on ports of its own; the desks use the
# PostgreSQL of ESTATE_TEST_POSTGRES_URL (var/test.env, written by
# deploy/test-env.sh) on a fresh database, or one desk on SQLite without it.
SOAK_DURATION ?= 30m
SOAK_FLAGS ?=
soak: deps build influxdb-install
	@set -a; [ ! -f var/test.env ] || . var/test.env; set +a; \
	./bin/estate soak --duration $(SOAK_DURATION) $(SOAK_FLAGS)

clean:
	rm -rf bin var web/node_modules internal/web/dist/*.js internal/web/dist/*.css internal/web/dist/*.html
