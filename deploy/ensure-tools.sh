#!/usr/bin/env bash
# Installs the few system tools the scripts rely on when a fresh machine lacks
# them (Debian: apt-get, run as root). Go itself must already be installed.
set -euo pipefail
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# With --test (make test), also what the package and container tests need:
# dpkg installs the .deb, systemd-analyze verifies its units, rpm reads the
# .rpm's metadata (deploy/package), and `docker compose config` or
# docker-compose checks the compose file, without a container engine
# (deploy/container).
if [ "${1:-}" = "--test" ]; then
  command -v dpkg >/dev/null 2>&1 || missing+=(dpkg)
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  command -v rpm >/dev/null 2>&1 || missing+=(rpm)
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
fi
command -v go >/dev/null 2>&1 || { echo "ensure-tools: Go is not installed; install Go 1.26 first" >&2; exit 1; }
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-tools: missing ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2; exit 1
fi
echo "ensure-tools: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
