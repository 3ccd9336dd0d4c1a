#!/usr/bin/env bash
# Nothing runs between tests: each browser test starts and stops its own Chromium.
exit 0
