#!/usr/bin/env bash
# The tests' own MQTT broker: Debian's mosquitto on 127.0.0.1, on a port apart
# from anything else, with its config, pid and log under var/mosquitto-test.
# Prints ESTATE_TEST_MQTT_URL for `make test`.
set -euo pipefail
port=${MOSQUITTO_TEST_PORT:-18883}
dir=var/mosquitto-test
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] || ! command -v mosquitto_pub >/dev/null 2>&1; then
  echo "mosquitto: installing mosquitto and mosquitto-clients with apt-get" >&2
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y mosquitto mosquitto-clients >&2
fi
bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -f "$dir/mosquitto.pid" ] && kill -0 "$(cat "$dir/mosquitto.pid")" 2>/dev/null; then
  kill "$(cat "$dir/mosquitto.pid")" 2>/dev/null || true
  sleep 0.5
fi
cat > "$dir/mosquitto.conf" <<CONF
# Written by deploy/mosquitto/test-start.sh: loopback only, anonymous (tests only).
listener $port 127.0.0.1
allow_anonymous true
persistence false
pid_file $dir/mosquitto.pid
max_queued_messages 100000
log_dest file $dir/mosquitto.log
log_type error
log_type warning
CONF
# Run as root, mosquitto would drop to its own user, which cannot reach a
# checkout under a private folder (mktemp -d is mode 700): keep it as root.
if [ "$(id -u)" = 0 ]; then
  echo "user root" >> "$dir/mosquitto.conf"
fi
rm -f "$dir/mosquitto.pid"
"$bin" -c "$dir/mosquitto.conf" -d
for _ in $(seq 50); do
  if [ -s "$dir/mosquitto.pid" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "mosquitto: listening on 127.0.0.1:$port (pid $(cat "$dir/mosquitto.pid"))" >&2
    echo "ESTATE_TEST_MQTT_URL=tcp://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.1
done
echo "mosquitto: did not start on 127.0.0.1:$port; see $dir/mosquitto.log" >&2
exit 1
