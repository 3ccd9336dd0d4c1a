#!/bin/sh
# Estate's prerm (deb: "remove", "upgrade"…; rpm: %preun with 0 on erase, 1 on
# upgrade): the services stop before their binary goes, on removal only.
set -e
case "$1" in
  remove|purge|0)
    if [ -d /run/systemd/system ]; then
      systemctl stop estate-desk.service 'estate-gateway@*.service' >/dev/null 2>&1 || true
      systemctl disable estate-desk.service >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
