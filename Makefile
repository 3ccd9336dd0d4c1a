# Estate: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
INFLUXDB_DEMO_PORT ?= 18086
TEST_FLAGS ?=

.PHONY: demo test build vet bench bench-telegraf telegraf-install soak deps web influxdb-install clean package static

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

build: web
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/estate ./cmd/estate

# The packages: a static binary (CGO off; SQLite is modernc.org/sqlite, pure
# Go) and the .deb and .rpm that nfpm makes of it (deploy/package/nfpm.yaml),
# in $(DIST). nfpm is run at a pinned version with `go run`, so nothing else
# is installed and the project's go.mod carries none of its dependencies.
NFPM_VERSION ?= v2.48.0
NFPM ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
DIST ?= dist
GOARCH ?= $(shell $(GO) env GOARCH)
# A Debian or RPM version must start with a digit: a v1.2.3 tag gives 1.2.3,
# an untagged tree 0.0.0+git<commit>.
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//; s/-/+/; s/-/./g'); \
	echo $${v:-0.0.0+git$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)})

static: web
	mkdir -p $(DIST)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(DIST)/estate ./cmd/estate

package: static
	sed -e 's|@ESTATE_BINARY@|$(DIST)/estate|' -e 's|@PKG_VERSION@|$(PKG_VERSION)|' -e 's|@PKG_ARCH@|$(GOARCH)|' \
		deploy/package/nfpm.yaml > $(DIST)/nfpm.yaml
	$(NFPM) package --config $(DIST)/nfpm.yaml --packager deb --target $(DIST)/
	$(NFPM) package --config $(DIST)/nfpm.yaml --packager rpm --target $(DIST)/
	@ls -l $(DIST)/*.deb $(DIST)/*.rpm

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
	deploy/ensure-tools.sh --test
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
# SQLite and PostgreSQL with ESTATE_BENCH_TICKETS tickets, default 1,000,000;
# the desk's HTTP load client, internal/loadtest BenchmarkCreateTicketsOverHTTP).
# Last, one table of DESIGN §7's targets, measured and met or not
# (internal/benchsummary), with the last `make bench-telegraf` run's figures;
# the whole output stays in var/bench.txt.
bench: deps
	deploy/test-env.sh start
	@rc=0; set -a; . var/test.env; set +a; \
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./... 2>&1 | tee var/bench.txt; rc=$${PIPESTATUS[0]}; \
	deploy/test-env.sh stop; \
	$(GO) run ./internal/benchsummary/cmd/benchsummary --telegraf var/bench-telegraf/results.json var/bench.txt || rc=$$?; \
	exit $$rc

# Telegraf's modbus input and Estate's gateway, in turn, on the same simulated
# fleet and InfluxDB (internal/benchtelegraf; docs/testing.md, "Performance
# targets"). Not part of `make test`: it takes about 12 minutes and wants a
# quiet machine. BENCH_TELEGRAF_FLAGS passes flags (--points 40 --runs 1 …).
TELEGRAF_VERSION ?= 1.37.2
BENCH_TELEGRAF_PORT ?= 18096
BENCH_TELEGRAF_FLAGS ?=

# `go install` of a module leaves its version unset (telegraf --version says
# "unknown"): the folder names it.
TELEGRAF := .tools/telegraf-$(TELEGRAF_VERSION)/telegraf

telegraf-install:
	@if [ ! -x $(TELEGRAF) ]; then \
	  echo "installing Telegraf $(TELEGRAF_VERSION) into $(dir $(TELEGRAF)) (go install; 10 minutes or more the first time)"; \
	  GOBIN=$(CURDIR)/$(dir $(TELEGRAF)) $(GO) install github.com/influxdata/telegraf/cmd/telegraf@v$(TELEGRAF_VERSION); \
	fi

bench-telegraf: deps build telegraf-install
	deploy/influxdb/influxdb.sh start --port $(BENCH_TELEGRAF_PORT) --dir var/bench-telegraf-influxdb --db bench
	@rc=0; $(GO) run ./internal/benchtelegraf --estate bin/estate --telegraf $(TELEGRAF) \
	  --influxdb http://127.0.0.1:$(BENCH_TELEGRAF_PORT) $(BENCH_TELEGRAF_FLAGS) || rc=$$?; \
	deploy/influxdb/influxdb.sh stop --dir var/bench-telegraf-influxdb; \
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
	rm -rf bin dist var web/node_modules internal/web/dist/*.js internal/web/dist/*.css internal/web/dist/*.html
