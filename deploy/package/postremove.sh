#!/bin/sh
# Estate's postrm (deb: "remove", "purge"…; rpm: %postun with 0 on erase).
# Purge removes the secrets file the postinst wrote (dpkg removes the
# conffiles). The state in /var/lib/estate (the desk's SQLite database, the
# gateways' outboxes and spools) is never removed: back it up or delete it
# by hand (docs/operations.md). The estate user stays, owning that state.
set -e
case "$1" in
  purge)
    rm -f /etc/estate/estate.env
    rmdir /etc/estate/sites /etc/estate 2>/dev/null || true
    ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
