#!/usr/bin/env bash
set -euo pipefail
"$(cd "$(dirname "$0")" && pwd)/influxdb.sh" stop --dir var/influxdb-test
