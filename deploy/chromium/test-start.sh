#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (driven headless by chromedp).
set -euo pipefail
bin=$(command -v chromium || true)
# A CJK font, so that the screenshots show the Chinese UI rather than boxes.
if [ -z "$bin" ] || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk"; then
  echo "chromium: installing Debian's chromium and a Chinese font for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Other components may be installing at the same time: wait for dpkg's lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium fonts-wqy-zenhei >&2
  bin=$(command -v chromium)
fi
echo "ESTATE_TEST_CHROMIUM=$bin"
