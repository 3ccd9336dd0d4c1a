#!/usr/bin/env bash
# Stops the tests' PostgreSQL started by test-start.sh; its data stays under var/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/deploy/postgresql/datadir.sh"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -s "$data/PG_VERSION" ] || exit 0
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast -w stop >&2 || true
else
  "$bin/pg_ctl" -D "$data" -m fast -w stop >&2 || true
fi
