#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# unbound-control reload that changes msg-cache-size and rrset-cache-size
# (Unbound frees and recreates its caches before the module is unloaded),
# under a stream of queries while decisions change and cached names are
# purged: no crash (ASan-clean in the sanitizer suite), blocking works.
. "$top_srcdir/tests/integration/lib.sh"

UNBOUND_EXTRA="msg-cache-size: 4m
    rrset-cache-size: 4m"
start_all
(
	# Cached allowed answers, asked again and again, bounded in count.
	for i in $(seq 3000); do
		kdig +timeout=1 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" \
			"c$((i % 50)).example" A >/dev/null 2>&1
	done
) &
LOAD=$!
PIDS="$PIDS $LOAD"
for i in $(seq 8); do
	size=$(( (i % 2) * 4 + 4 ))m
	sed -i "s/msg-cache-size: .*/msg-cache-size: $size/; s/rrset-cache-size: .*/rrset-cache-size: $size/" \
		"$T/unbound.conf"
	# A cached name becomes blocked just before the reload: its purge
	# may meet the reload.
	[ "$(rcode "c$i.example")" = NOERROR ] || fail "c$i.example before"
	publish_observe "c$i.example" 16
	reload_unbound
	kill -0 "$UNBOUND_PID" 2>/dev/null || fail "unbound died at reload $i"
done
kill "$LOAD" 2>/dev/null
ok "8 reloads alternating cache sizes 4m/8m under queries: unbound alive"
"$UNBOUND_CONTROL" -c "$T/unbound.conf" get_option msg-cache-size | grep -q 4194304 ||
	fail "cache size not applied"
publish_observe after-reload.example 16
blocked_within 2 after-reload.example || fail "module not working"
ok "module blocks after the reloads"
