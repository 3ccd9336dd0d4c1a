# Estate: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
INFLUXDB_DEMO_PORT ?= 18086
INFLUXDB_TEST_PORT ?= 18087
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

# Starts the tests' own InfluxDB on a separate port, runs vet and the whole
# suite with -race, and stops InfluxDB whatever the outcome.
test: deps
	deploy/influxdb/influxdb.sh start --port $(INFLUXDB_TEST_PORT) --dir var/influxdb-test
	@rc=0; \
	$(GO) vet ./... && \
	ESTATE_TEST_INFLUXDB_URL=http://127.0.0.1:$(INFLUXDB_TEST_PORT) \
	  $(GO) test -race -count=1 -timeout 20m $(TEST_FLAGS) ./... || rc=$$?; \
	deploy/influxdb/influxdb.sh stop --dir var/influxdb-test; \
	exit $$rc

vet:
	$(GO) vet ./...

# Go benchmarks of the hot paths, with allocations per operation.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin var
