#!/usr/bin/env bash
# The tests' own PostgreSQL: Debian's package, run as the postgres user (it
# refuses to run as root) on a data folder under var/ (see datadir.sh), listening on
# 127.0.0.1:$POSTGRES_TEST_PORT only. Prints ESTATE_TEST_POSTGRES_URL for the tests,
# and ESTATE_TEST_PG_BIN: the folder of the server's pg_dump, pg_restore and psql.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
port=${POSTGRES_TEST_PORT:-15432}
. "$root/deploy/postgresql/datadir.sh"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/pg_ctl" ]; then
  echo "postgresql: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends postgresql >&2
fi
bin=$(bindir)
# The backup tests run pg_dump, pg_restore and psql of the server's own
# version (pg_dump refuses a newer server): Debian's postgresql-client-N, which
# the server package normally brings, puts them in the server's bin folder.
if [ ! -x "$bin/pg_dump" ] || [ ! -x "$bin/pg_restore" ] || [ ! -x "$bin/psql" ]; then
  major=$(basename "$(dirname "$bin")")
  echo "postgresql: installing postgresql-client-$major (pg_dump, pg_restore, psql)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y --no-install-recommends "postgresql-client-$major" >&2
fi
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$data"
if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$data"; fi
chmod 700 "$data"
if [ ! -s "$data/PG_VERSION" ]; then
  as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2
fi
if ! as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  # Sockets go into the data folder: /var/run/postgresql may not exist or be
  # owned by the system cluster. Test databases live minutes: no fsync, and no
  # autovacuum holding a database that a test is dropping.
  as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c autovacuum=off -c max_connections=200" start >&2
fi
psql_admin() { as_postgres psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = 'estate_test'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE ROLE estate_test LOGIN PASSWORD 'estate_test' CREATEDB" >&2
fi
if [ "$(psql_admin -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'estate_test'")" != 1 ]; then
  psql_admin -d postgres -c "CREATE DATABASE estate_test OWNER estate_test" >&2
fi
echo "ESTATE_TEST_PG_BIN=$bin"
echo "ESTATE_TEST_POSTGRES_URL=postgres://estate_test:estate_test@127.0.0.1:$port/estate_test?sslmode=disable"
