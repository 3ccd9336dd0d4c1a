#!/usr/bin/env bash
# Debian's mbpoll (a libmodbus client) for the test that reads the simulators
# with a third-party Modbus master. Installs it when missing; prints where it is.
set -euo pipefail
if ! command -v mbpoll >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "mbpoll: not installed and cannot apt-get it here (sudo apt-get install mbpoll); its test will skip" >&2
    exit 0
  fi
  echo "mbpoll: installing Debian's mbpoll" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq mbpoll >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq mbpoll >/dev/null; }
fi
echo "ESTATE_TEST_MBPOLL=$(command -v mbpoll)"
