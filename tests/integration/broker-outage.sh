#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The broker killed (-9) for 35 s under a steady stream of queries, with
# the default backoff (reconnect-min 1 s doubling to reconnect-max 60 s;
# 35 s, because after 30 s the backoff's own attempt at 31 s happens to
# find the broker back, and after 35 s its next is at 63 s):
# no query gets SERVFAIL or goes unanswered, decisions hold, and once the
# broker is back the module reconnects within a few seconds (it looks for
# the broker once a second while it waits, instead of sleeping out a
# backoff that may have reached 32 s), and what is published then is
# applied.
. "$top_srcdir/tests/integration/lib.sh"

OUTAGE=${OUTAGE:-35}
MQTT_PORT=$(free_port)
start_mosquitto
start_knot
write_module_config
# The defaults, not the tests' short backoff.
sed -i -e '/^  reconnect-min:/d' -e '/^  reconnect-max:/d' "$T/tapir-pop.yaml"
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect"
publish_observe outage-blocked.example 16
blocked_within 5 outage-blocked.example || fail "outage-blocked.example not blocked"

# The stream: an allowed name and the blocked one, ten a second, for
# longer than the outage; each answer's status, one a line.
end=$(($(date +%s) + OUTAGE + 15))
(
	i=0
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		for n in "steady-$((i % 20)).example" outage-blocked.example; do
			r=$(kdig +timeout=1 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" "$n" A 2>/dev/null |
				sed -n 's/.*status: \([A-Z]*\).*/\1/p')
			echo "$n ${r:-NONE}"
		done
		sleep 0.1
	done
) >"$T/stream" &
STREAM=$!
PIDS="$PIDS $STREAM"

sleep 2
kill -9 "$MOSQUITTO_PID"
wait "$MOSQUITTO_PID" 2>/dev/null
wait_until 10 sh -c "! $CONTROL -s $T/tapir-pop.sock status | grep -q '^mqtt: connected'" ||
	fail "the module did not notice the broker go"
sleep "$OUTAGE"
start_mosquitto
t0=$(date +%s%N)
wait_until 60 mqtt_connected || fail "no reconnect within 60 s of the broker's return"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 5000 ] || fail "reconnected $ms ms after the broker came back"
ok "broker killed for $OUTAGE s: reconnected $ms ms after it came back"
grep -q "accepts connections again: reconnecting now" "$T/unbound.log" ||
	fail "no early reconnect logged"

publish_observe after-outage.example 16
blocked_within 5 after-outage.example || fail "after-outage.example not blocked after the reconnect"
ok "a message published after the return is applied"

wait "$STREAM"
total=$(wc -l <"$T/stream")
servfail=$(grep -c ' SERVFAIL$' "$T/stream")
none=$(grep -c ' NONE$' "$T/stream")
wrong=$(grep -c '^outage-blocked.example NOERROR$' "$T/stream")
[ "$servfail" = 0 ] && [ "$none" = 0 ] && [ "$wrong" = 0 ] ||
	fail "$total queries: $servfail SERVFAIL, $none unanswered, $wrong blocked name resolved"
ok "$total queries during the outage and after: 0 SERVFAIL, 0 unanswered, the blocked name blocked throughout"
