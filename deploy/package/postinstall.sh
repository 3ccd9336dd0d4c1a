#!/bin/sh
# Estate's postinst (deb: "configure"; rpm: %post with 1 or 2): the estate
# user and group, and the secrets file written once. Configuration files are
# conffiles: dpkg and rpm keep edited ones; this script never writes them.
set -e

if ! getent group estate >/dev/null 2>&1; then
  groupadd --system estate
fi
if ! getent passwd estate >/dev/null 2>&1; then
  useradd --system --gid estate --home-dir /var/lib/estate --no-create-home \
    --shell /usr/sbin/nologin --comment "Estate gateway and desk" estate
fi

# The secrets the shipped configurations read as ${NAME}: fresh random tokens
# on the first install only; an existing file (edited or not) is kept.
env=/etc/estate/estate.env
if [ ! -e "$env" ]; then
  token() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
  umask 077
  tmp="$env.new.$$"
  {
    echo "# Secrets of the Estate services (EnvironmentFile= of estate-desk and estate-gateway@)."
    echo "# Written once by the package with random tokens; edit freely, upgrades keep it."
    echo "# estate check --env-file $env FILE reads it as the services do."
    echo "ESTATE_ADMIN_TOKEN=$(token)"
    echo "ESTATE_GATEWAY_TOKEN=$(token)"
    echo "# ESTATE_DESK_DATABASE=postgres://estate:PASSWORD@127.0.0.1:5432/estate"
  } >"$tmp"
  chgrp estate "$tmp"
  chmod 0640 "$tmp"
  mv "$tmp" "$env"
fi

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # A running service restarts on the new binary; nothing is enabled or
  # started on a first install: the configuration is the operator's to edit.
  systemctl try-restart estate-desk.service 'estate-gateway@*.service' >/dev/null 2>&1 || true
fi
exit 0
