#!/usr/bin/env bash
# Debian's mbpoll (a libmodbus client) for the tests that read the simulators
# with a third-party Modbus master. Installs it when missing and prints where
# it is. When it cannot be installed it says so and prints nothing: the mbpoll
# tests then skip, or fail under CI=true, while the rest of the suite runs.
set -uo pipefail
if ! command -v mbpoll >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "mbpoll: not installed and cannot apt-get it here (sudo apt-get install mbpoll)" >&2
    exit 0
  fi
  echo "mbpoll: installing Debian's mbpoll" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq mbpoll >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq mbpoll >/dev/null 2>&1 || { echo "mbpoll: apt-get install mbpoll failed" >&2; exit 0; }
  fi
fi
echo "ESTATE_TEST_MBPOLL=$(command -v mbpoll)"
