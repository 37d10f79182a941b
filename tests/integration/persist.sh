#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# MQTT-fed decisions survive `unbound-control reload` (which unloads the
# module) and a restart of Unbound, through the state file: exact expiry is
# honoured on load, and a corrupt state file is logged and ignored.
. "$top_srcdir/tests/integration/lib.sh"

daemon_dir "$T/state"
start_all "state-dir: $T/state"
publish_observe keep.example 16 3600
publish_observe short.example 16 4
blocked_within 2 keep.example || fail "keep.example not blocked"
blocked_within 2 short.example || fail "short.example not blocked"
ok "two names blocked (ttl 3600 s and 4 s)"

reload_unbound
[ -s "$T/state/tapir-pop.state" ] || fail "no state file written"
[ "$(rcode keep.example)" = NXDOMAIN ] || fail "decision lost across reload"
ok "decision kept across unbound-control reload ($(stat_value state.loaded) entries loaded)"

# Past the short entry's expiry, a restart must not bring it back.
sleep 4
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
UNBOUND_PORT=$(free_port)
start_unbound
wait_until 10 mqtt_connected || fail "module not back after restart"
[ "$(rcode keep.example)" = NXDOMAIN ] || fail "decision lost across restart"
[ "$(rcode short.example)" = NOERROR ] || fail "expired entry restored"
ok "decision kept across a restart; the expired one was not restored"
grep -q "state: .* entries from $T/state/tapir-pop.state (. expired" "$T/unbound.log" ||
	fail "no state load logged"
ok "$(grep -o 'state: [0-9]* entries from.*' "$T/unbound.log" | tail -n 1)"

# A corrupt file is reported and ignored: Unbound starts and answers.
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
printf 'TAPIRST\000garbage' >"$T/state/tapir-pop.state"
UNBOUND_PORT=$(free_port)
start_unbound
wait_until 10 mqtt_connected || fail "module not up with a corrupt state file"
grep -q "state: ignoring $T/state/tapir-pop.state" "$T/unbound.log" ||
	fail "corrupt state not reported"
[ "$(rcode keep.example)" = NOERROR ] || fail "corrupt state applied"
[ "$(stat_value state.failures)" -ge 1 ] || fail "state.failures"
ok "corrupt state file ignored: $(grep -o 'state: ignoring.*' "$T/unbound.log" | tail -n 1)"
