#!/usr/bin/env bash
# The tests' own InfluxDB, on a port apart from the demo's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${INFLUXDB_TEST_PORT:-18087}
"$here/influxdb.sh" start --port "$port" --dir var/influxdb-test >&2
echo "ESTATE_TEST_INFLUXDB_URL=http://127.0.0.1:$port"
