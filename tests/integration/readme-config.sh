#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The README's first configuration, as printed there (its ```yaml block),
# works: only the enrolment's paths, the broker's address, the socket and
# the state directory are moved under this test's directory, and the
# broker is a local mosquitto requiring mutual TLS, as the core's does.
# tapir-pop-control check passes it; the dynlib Unbound with the
# README's module-config and a Unix remote-control loads it; status exits
# 0; in log-only a blocked name is counted as would_block and answered
# normally. Then "Going live": log-only: no, tapir-pop-control reload, and
# the name is blocked. Unbound runs as user unbound (TAPIR_TEST_USER), as
# the README's set-up has it, and check, run as root, opens every file as
# that user.
TAPIR_TEST_USER=${TAPIR_TEST_USER:-unbound}
. "$top_srcdir/tests/integration/lib.sh"

README="$top_srcdir/README"
sed -n '/^```yaml$/,/^```$/p' "$README" | sed '1d;$d' >"$T/readme.yaml"
[ -s "$T/readme.yaml" ] || fail "no yaml block in the README"
grep -q '^    log-only: yes$' "$T/readme.yaml" || fail "the README's configuration is not in log-only"
module_config=$(sed -n 's/^ *module-config: "\(.*\)"$/\1/p' "$README" | head -n 1)
[ "$module_config" = "dynlib validator iterator" ] ||
	fail "the README's module-config: '$module_config'"

pki="$T/etc/dnstapir/certs"
mkdir -p "$pki"
mkca ca
mkcert broker ca IP:127.0.0.1
mkcert tls ca DNS:resolver.test
mkcert publisher ca DNS:core.test
chmod 644 "$pki"/*.key
cp "$top_srcdir/examples/keys/demo-keys.json" "$pki/validation-keys.json"
daemon_reads "$pki/tls.key" "$pki/validation-keys.json"
daemon_dir "$T/var/lib/unbound/tapir-pop"

MOSQUITTO_EXTRA="cafile $pki/ca.crt
certfile $pki/broker.crt
keyfile $pki/broker.key
require_certificate true"
MQTT_PUB_OPTS="--cafile $pki/ca.crt --cert $pki/publisher.crt --key $pki/publisher.key"
start_mosquitto
start_knot

group=${TEST_GROUP:-$(id -gn)}
sed -e "s|mqtts://broker.example.net:8883|mqtts://127.0.0.1:$MQTT_PORT|" \
	-e "s|/etc/dnstapir/|$T/etc/dnstapir/|" \
	-e "s|/var/lib/unbound/tapir-pop|$T/var/lib/unbound/tapir-pop|" \
	-e "s|/run/unbound/tapir-pop.sock|$T/tapir-pop.sock|" \
	-e "s|group: unbound|group: $group|" \
	"$T/readme.yaml" >"$T/tapir-pop.yaml"
daemon_reads "$T/tapir-pop.yaml"
"$CONTROL" check "$T/tapir-pop.yaml" >"$T/out" 2>&1 ||
	fail "check: exit $?: $(cat "$T/out")"
grep -qx "$T/tapir-pop.yaml: ok" "$T/out" || fail "check said: $(cat "$T/out")"
ok "the README's configuration passes check"

MODULE_CONFIG=$module_config
start_unbound
grep -q "tapir-pop [^ ]*: loaded for Unbound [^ ]*, config $T/tapir-pop.yaml\$" "$T/unbound.log" ||
	fail "not loaded: $(grep tapir-pop "$T/unbound.log" | tail -n 5)"
wait_until 10 mqtt_connected || fail "did not connect over TLS"
"$CONTROL" -s "$T/tapir-pop.sock" status >"$T/out" ||
	fail "status exit $?: $(cat "$T/out")"
grep -q "^cache-purge: via " "$T/out" || fail "no cache purging: $(cat "$T/out")"
ok "loaded with module-config \"$module_config\": $(grep -o 'tapir-pop [^ ]*: loaded.*' "$T/unbound.log" | head -n 1)"

# Trial mode: counted, explained, not enforced.
publish_observe trial.example 16
wait_until 5 sh -c "'$CONTROL' -s '$T/tapir-pop.sock' lookup trial.example | grep -q 'log-only: would'" ||
	fail "lookup: $("$CONTROL" -s "$T/tapir-pop.sock" lookup trial.example)"
[ "$(rcode trial.example)" = NOERROR ] || fail "blocked in log-only"
[ "$(stat_value answer.would_block)" -ge 1 ] || fail "would_block not counted"
ok "log-only: answered, counted (answer.would_block=$(stat_value answer.would_block))"

# Going live.
sed -i 's/^    log-only: yes$/    log-only: no/' "$T/tapir-pop.yaml"
"$CONTROL" -s "$T/tapir-pop.sock" check "$T/tapir-pop.yaml" >/dev/null || fail "check after the edit"
"$CONTROL" -s "$T/tapir-pop.sock" reload >"$T/out" 2>&1 || fail "reload: $(cat "$T/out")"
wait_until 5 is_rcode trial.example NXDOMAIN || fail "not blocked after going live"
ok "log-only: no and reload: trial.example NXDOMAIN"
