#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# No observation lost across `unbound-control reload`: 3,000 signed
# observations, one name each, published at QoS 1 (about 100 a second, one
# publisher connection, as the core publishes) while Unbound is reloaded
# 40 times. Each reload unloads the module and disconnects it for about a
# second; the broker keeps the persistent session's messages meanwhile and
# delivers them when the module is back, so all 3,000 names are applied.
# With a clean session (the module before mqtt.session-expiry) about a
# third were.
. "$top_srcdir/tests/integration/lib.sh"

N=3000
RELOADS=40

daemon_dir "$T/state"
start_all "state-dir: $T/state"

sign_feed p "$N"


# About 100 a second: 10 lines, then a tenth of a second.
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
start=$(date +%s)

for i in $(seq "$RELOADS"); do
	reload_unbound
	kill -0 "$UNBOUND_PID" 2>/dev/null || fail "unbound died at reload $i"
done
reloaded=$(date +%s)
wait "$FEED" || fail "publisher failed: $(cat "$T/pub.err")"
fed=$(date +%s)
ok "$N published in $((fed - start)) s, $RELOADS reloads in $((reloaded - start)) s"

# Bounded: the last reload's backlog is a few hundred messages.
wait_until 60 feed_all_applied p "$N" ||
	fail "$(feed_applied p) of $N observations applied after $RELOADS reloads"
ok "$N of $N observations applied after $RELOADS reloads"
n=$(grep -c "tapir-pop.*loaded for Unbound" "$T/unbound.log")
[ "$n" -eq $((RELOADS + 1)) ] || fail "module loaded $n times"
ok "module loaded $n times"
