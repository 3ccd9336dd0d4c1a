#!/usr/bin/env bash
# Installs, starts and stops a local InfluxDB 1.8.3 for the demo and the tests.
#
#   deploy/influxdb/influxdb.sh install            build influxd into .tools/bin if missing
#   deploy/influxdb/influxdb.sh start  [--port P] [--dir D] [--db NAME]
#   deploy/influxdb/influxdb.sh stop   [--dir D]
#   deploy/influxdb/influxdb.sh status [--port P]
#   deploy/influxdb/influxdb.sh retention [--port P] [--db NAME]
#
# Retention and downsampling (run by start, idempotent, also on its own):
#   - raw points stay in the database's default policy "autogen", kept
#     $INFLUXDB_RAW_RETENTION (30d): the gateway writes to bucket NAME/autogen;
#   - 1-minute means of every numeric field go to policy "one_minute", kept
#     $INFLUXDB_DOWNSAMPLED_RETENTION (730d, two years), by the continuous query
#     "downsample_1m" (fields named mean_<field>, every tag kept).
#
# InfluxDB 1.8.3 serves the v2 write API (/api/v2/write) and Flux queries
# (/api/v2/query) that influxdb-client-go uses, so the same client works here and
# against InfluxDB 2.x/3.x in production. The server binds 127.0.0.1 only, keeps
# its data under --dir (git-ignored var/ by default) and never reports usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tools="$root/.tools/bin"
port=${INFLUXDB_PORT:-18086}
dir=""
db=${INFLUXDB_DB:-estate}
raw_retention=${INFLUXDB_RAW_RETENTION:-30d}
downsampled_retention=${INFLUXDB_DOWNSAMPLED_RETENTION:-730d}
cmd=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    *) echo "influxdb.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || dir="$root/var/influxdb-$port"
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac

log() { printf 'influxdb: %s\n' "$*" >&2; }

influxd_bin() {
  if [ -x "$tools/influxd" ]; then echo "$tools/influxd"; return; fi
  if command -v influxd >/dev/null 2>&1 && influxd version 2>/dev/null | grep -q 'v1\.8'; then
    command -v influxd; return
  fi
  echo ""
}

install() {
  if [ -n "$(influxd_bin)" ]; then return; fi
  log "influxd not found; building InfluxDB 1.8.3 into $tools (about a minute the first time)"
  mkdir -p "$tools"
  GOBIN="$tools" GOFLAGS=-buildvcs=false go install github.com/influxdata/influxdb/cmd/influxd@v1.8.3
  log "installed $("$tools/influxd" version)"
}

ping() { curl -fsS -o /dev/null "http://127.0.0.1:$port/ping" 2>/dev/null; }

start() {
  install
  if ping; then
    log "already answering on 127.0.0.1:$port"
  else
    mkdir -p "$dir/data" "$dir/wal" "$dir/meta"
    # The RPC (backup) address must differ between instances too: derive it from the port.
    local rpc=$((port + 1000)); [ "$rpc" -lt 65536 ] || rpc=$((port - 1000))
    cat > "$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = true
  log-enabled = false
CONF
    # Its own session: a Ctrl-C that stops `make demo` must not take InfluxDB down
    # before the gateway has flushed its last points.
    setsid "$(influxd_bin)" run -config "$dir/influxdb.conf" > "$dir/influxd.log" 2>&1 &
    echo $! > "$dir/influxd.pid"
    for _ in $(seq 1 150); do
      ping && break
      if ! kill -0 "$(cat "$dir/influxd.pid")" 2>/dev/null; then
        log "influxd exited during start-up; its log:"; tail -20 "$dir/influxd.log" >&2; exit 1
      fi
      sleep 0.2
    done
    ping || { log "no answer on 127.0.0.1:$port after 30 s; see $dir/influxd.log"; exit 1; }
    log "started on 127.0.0.1:$port (data in $dir, pid $(cat "$dir/influxd.pid"))"
  fi
  influxql "CREATE DATABASE \"$db\""
  retention
  log "database $db ready (bucket $db/autogen)"
}

influxql() { curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$port/query" --data-urlencode "q=$1"; }

# retention keeps raw points $raw_retention and 1-minute means $downsampled_retention.
retention() {
  influxql "CREATE DATABASE \"$db\""
  influxql "ALTER RETENTION POLICY \"autogen\" ON \"$db\" DURATION $raw_retention SHARD DURATION 1d DEFAULT"
  # InfluxQL reports "already exists" in the body, not the status: create, then alter to the wanted settings.
  influxql "CREATE RETENTION POLICY \"one_minute\" ON \"$db\" DURATION $downsampled_retention REPLICATION 1 SHARD DURATION 7d"
  influxql "ALTER RETENTION POLICY \"one_minute\" ON \"$db\" DURATION $downsampled_retention SHARD DURATION 7d"
  # CREATE fails when the query exists; drop it first so that a changed definition takes effect.
  influxql "DROP CONTINUOUS QUERY \"downsample_1m\" ON \"$db\""
  influxql "CREATE CONTINUOUS QUERY \"downsample_1m\" ON \"$db\" BEGIN SELECT mean(*) INTO \"$db\".\"one_minute\".:MEASUREMENT FROM \"$db\".\"autogen\"./.*/ GROUP BY time(1m), * END"
  log "retention on $db: raw (autogen) $raw_retention, 1-minute means (one_minute) $downsampled_retention"
}

stop() {
  local pidfile="$dir/influxd.pid"
  [ -f "$pidfile" ] || { log "not running from $dir"; return 0; }
  local pid; pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "influxd $pid did not stop in 10 s; killing"; kill -KILL "$pid"; }
    log "stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  retention) retention ;;
  status) if ping; then log "answering on 127.0.0.1:$port"; else log "not answering on 127.0.0.1:$port"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|status|retention [--port P] [--dir D] [--db NAME]" >&2; exit 2 ;;
esac
