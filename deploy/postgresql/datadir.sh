# Sourced by test-start.sh and test-stop.sh with $root set: the tests' data
# folder. It is var/postgres-test in the checkout, unless the postgres user
# cannot reach the checkout (one cloned under a mode-700 folder such as
# mktemp -d makes); then a folder of its own under /var/tmp, named after the
# checkout so that two checkouts do not share one.
mkdir -p "$root/var"
data="$root/var/postgres-test"
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$root/var" 2>/dev/null; then
  data="/var/tmp/estate-postgres-test-$(printf '%s' "$root" | md5sum | cut -c1-12)"
fi
