#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# No observation lost across a restart of Unbound: it is stopped (by PID)
# and started again while 600 observations are published at QoS 1 (about
# 100 a second). The broker keeps the persistent session's messages while
# no process holds it and delivers them to the new one (the same client
# id); what the first applied comes back from the state file. With a
# clean session (before mqtt.session-expiry) those published while Unbound
# was down were lost.
. "$top_srcdir/tests/integration/lib.sh"

N=600

daemon_dir "$T/state"
start_mosquitto
start_knot
write_module_config "state-dir: $T/state"
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect to mosquitto"

sign_feed r "$N"
some_of() {
	[ "$(feed_applied "$1")" -gt 0 ]
}

(
	i=0
	while IFS= read -r line; do
		printf '%s\n' "$line"
		i=$((i + 1))
		[ $((i % 10)) -eq 0 ] && sleep 0.1
	done <"$T/feed.txt"
) | mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "$TOPIC" -q 1 -l \
	-i "tapir-core-$$" 2>"$T/pub.err" &
FEED=$!
PIDS="$PIDS $FEED"
wait_until 10 some_of r || fail "no observation applied before the restart"
before=$(feed_applied r)
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
sleep 2
UNBOUND_PORT=$(free_port)
start_unbound
wait "$FEED" || fail "publisher failed: $(cat "$T/pub.err")"
wait_until 60 feed_all_applied r "$N" ||
	fail "$(feed_applied r) of $N observations applied across an Unbound restart"
ok "$N of $N observations applied across an Unbound restart ($before before it)"

