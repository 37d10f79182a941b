#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# 100 `unbound-control reload`s under dnsperf load (bounded in time and
# rate) while decisions change and the cache sizes alternate: Unbound never
# dies, the module blocks after the last, and Unbound's resident memory
# after the run is within 5 % of what it was after the first 10 (a leak
# per reload would show there). Resident memory swings by megabytes from
# one reload to the next as caches are made anew and fill, so each figure
# is the lowest of five readings, one after each reload: reloads 6 to 10,
# and the last five. Longer than the others: scripts/test-all.sh
# runs it once, not in every build's make check.
#   make check TESTS=tests/integration/reload-storm.sh [RELOADS=N]
. "$top_srcdir/tests/integration/lib.sh"

RELOADS=${RELOADS:-100}
[ "$RELOADS" -ge 20 ] || fail "RELOADS must be 20 or more"
UNBOUND_EXTRA="msg-cache-size: 4m
    rrset-cache-size: 4m"
start_all
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$UNBOUND_PID/status"; }

# Queries: cached allowed names and names that get blocked, at a bounded
# rate, for longer than the reloads take (stopped at the end).
for i in $(seq 200); do printf 'storm-%d.example A\n' "$i"; done >"$T/storm.q"
dnsperf -s 127.0.0.1 -p "$UNBOUND_PORT" -d "$T/storm.q" -c 4 -Q 2000 -l 900 \
	>"$T/dnsperf.out" 2>&1 &
LOAD=$!
PIDS="$PIDS $LOAD"

# Decisions: a name of the stream blocked, another unblocked, every 0.2 s.
(
	for i in $(seq 2000); do
		n=$((i % 200 + 1))
		if [ $((i % 2)) = 0 ]; then
			publish_observe "storm-$n.example" 16 3600
		else
			"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" \
				--remove "storm-$(((n + 100) % 200 + 1)).example" >"$T/rm.json" &&
				mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "$TOPIC" -q 1 -f "$T/rm.json"
		fi
		sleep 0.2
	done
) >/dev/null 2>&1 &
FEED=$!
PIDS="$PIDS $FEED"

start=$(date +%s)
for i in $(seq "$RELOADS"); do
	size=$(((i % 2) * 4 + 4))m
	sed -i "s/msg-cache-size: .*/msg-cache-size: $size/; s/rrset-cache-size: .*/rrset-cache-size: $size/" \
		"$T/unbound.conf"
	reload_unbound
	kill -0 "$UNBOUND_PID" 2>/dev/null || fail "unbound died at reload $i"
	echo "$i $(rss)" >>"$T/rss"
done
secs=$(($(date +%s) - start))
low() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && (m == "" || $2 < m) { m = $2 } END { print m }' "$T/rss"; }
rss10=$(low 6 10)
rss_end=$(low $((RELOADS - 4)) "$RELOADS")
kill "$FEED" 2>/dev/null
# dnsperf prints its figures when interrupted.
kill -INT "$LOAD" 2>/dev/null
wait "$LOAD" 2>/dev/null
ok "$RELOADS reloads in $secs s, cache sizes alternating 4m/8m, under load: unbound alive"
sed -n 's/^ *\(Queries sent\|Queries completed\|Queries lost\|Response codes\):/\1:/p' "$T/dnsperf.out" |
	while read -r line; do ok "dnsperf $line"; done

grow=$(awk -v a="$rss10" -v b="$rss_end" 'BEGIN { printf "%+.1f", (b - a) * 100 / a }')
[ "$rss_end" -le $((rss10 + rss10 / 20)) ] ||
	fail "RSS $rss_end KiB after $RELOADS reloads, $rss10 KiB after 10 ($grow %): $(awk '{ printf "%s:%s ", $1, $2 }' "$T/rss")"
ok "RSS $rss_end KiB after $RELOADS reloads, $rss10 KiB after 10 ($grow %, limit +5 %); highest $(sort -k2 -n "$T/rss" | tail -n 1 | cut -d' ' -f2) KiB"

publish_observe storm-after.example 16
blocked_within 5 storm-after.example || fail "module not blocking after the reloads"
ok "module blocks after the reloads"
