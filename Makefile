# Estate: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
INFLUXDB_DEMO_PORT ?= 18086
TEST_FLAGS ?=

.PHONY: demo test build vet bench deps influxdb-install clean

build:
	$(GO) build -o bin/estate ./cmd/estate

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
test: deps
	deploy/test-env.sh start
	@rc=0; set -a; . var/test.env; set +a; \
	$(GO) vet ./... && \
	$(GO) test -race -count=1 -timeout 30m $(TEST_FLAGS) ./... || rc=$$?; \
	deploy/test-env.sh stop; \
	exit $$rc

vet:
	$(GO) vet ./...

# Go benchmarks of the hot paths, with allocations per operation; the
# components are started as for the tests (the desk's list benchmarks run on
# SQLite and PostgreSQL with ESTATE_BENCH_TICKETS tickets, default 1,000,000).
bench: deps
	deploy/test-env.sh start
	@rc=0; set -a; . var/test.env; set +a; \
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./... || rc=$$?; \
	deploy/test-env.sh stop; \
	exit $$rc

clean:
	rm -rf bin var
