#!/usr/bin/env bash
# Stops the tests' mosquitto started by test-start.sh.
set -euo pipefail
pidfile=var/mosquitto-test/mosquitto.pid
if [ -s "$pidfile" ]; then
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidfile"
fi
