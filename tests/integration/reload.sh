#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# unbound-control reload 20 times while observations flow: Unbound unloads
# and reloads the module each time (deinit, dlclose, dlopen, init). No
# crash, and the module works afterwards.
. "$top_srcdir/tests/integration/lib.sh"

start_all
"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" --observe flow.example \
	--tags 1 >"$T/flow.json"
(
	# Observations flow during the reloads, bounded in count.
	for _ in $(seq 400); do
		mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "$TOPIC" \
			-f "$T/flow.json" 2>/dev/null
		sleep 0.02
	done
) &
FLOW=$!
PIDS="$PIDS $FLOW"
for i in $(seq 20); do
	reload_unbound
	kill -0 "$UNBOUND_PID" 2>/dev/null || fail "unbound died at reload $i"
	[ "$(rcode q$i.example)" = NOERROR ] || fail "no answer after reload $i"
done
ok "20 reloads, unbound alive and answering"
kill "$FLOW" 2>/dev/null
wait_until 10 mqtt_connected || fail "module not connected after reloads"
publish_observe after.example 16
blocked_within 2 after.example || fail "module not working"
ok "module blocks after 20 reloads"
grep -q "tapir-pop.*loaded for Unbound" "$T/unbound.log" || fail "no load log"
n=$(grep -c "tapir-pop.*loaded for Unbound" "$T/unbound.log")
[ "$n" -eq 21 ] || fail "module loaded $n times, want 21"
ok "module loaded 21 times"
