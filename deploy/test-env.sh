#!/usr/bin/env bash
# Starts and stops the real components the test suite needs.
#
#   deploy/test-env.sh start   runs every deploy/*/test-start.sh; each installs
#                              (when missing) and starts its component and prints
#                              KEY=VALUE lines that go into var/test.env
#   deploy/test-env.sh stop    runs every deploy/*/test-stop.sh
#
# `make test` sources var/test.env before `go test`, so a component is added by
# adding a folder under deploy/ with these two scripts; nothing else changes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p var
case "${1:-}" in
  start)
    : > var/test.env
    for s in deploy/*/test-start.sh; do
      [ -e "$s" ] || continue
      echo "test-env: $s" >&2
      if ! bash "$s" >> var/test.env; then
        echo "test-env: $s failed; stopping what was started" >&2
        "$0" stop
        exit 1
      fi
    done
    ;;
  stop)
    for s in deploy/*/test-stop.sh; do
      [ -e "$s" ] || continue
      bash "$s" || echo "test-env: $s failed" >&2
    done
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
