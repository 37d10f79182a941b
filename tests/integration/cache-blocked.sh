#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# answer.cache-blocked: yes, the default. A block answer goes into
# Unbound's message cache, and the queries after the first are answered from there: still
# with the Extended DNS Error, counted by rule and logged; a name that is
# no longer blocked leaves the cache at once (its purge), and a name whose
# answer is not cacheable (REDIRECT to addresses, DROP) stays uncached.
# With cache-blocked: no, every query for a blocked name goes through the
# module, none is answered from Unbound's cache.
. "$top_srcdir/tests/integration/lib.sh"

printf 'cached.example\nlater.example\n' >"$T/deny.txt"
start_mosquitto
start_knot
write_module_config "logging:
  blocked-queries: yes"
awk -v T="$T" '/^sources:/ { print; print "  - name: deny\n    type: file\n    list: denylist\n    path: " T "/deny.txt\n    refresh: 1"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
UNBOUND_EXTRA="ede: yes"
start_unbound
wait_until 10 decided cached.example NXDOMAIN || fail "deny file not loaded"
C() { "$CONTROL" -s "$T/tapir-pop.sock" "$@"; }
UC() { "$UNBOUND_CONTROL" -c "$T/unbound.conf" "$@"; }

hits0=$(UC stats_noreset | sed -n 's/^total.num.cachehits=//p')
for i in 1 2 3; do
	out=$(kdig +edns +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" cached.example A)
	echo "$out" | grep -q "status: NXDOMAIN" || fail "query $i not NXDOMAIN: $out"
	echo "$out" | grep -q "EDE: 15 (Blocked): 'tapir-pop: rule denylist; sources deny'" ||
		fail "query $i without the EDE: $out"
done
hits=$(UC stats_noreset | sed -n 's/^total.num.cachehits=//p')
[ $((hits - hits0)) -ge 2 ] || fail "answers 2 and 3 not from Unbound's cache ($hits0 -> $hits)"
C stats_noreset | grep -qx "answer.nxdomain=3" || fail "not counted 3 times: $(C stats_noreset | grep '^answer\.')"
C stats_noreset | grep -qx "rule.denylist=3" || fail "rule not counted 3 times"
n=$(UC stats_noreset | sed -n 's/^num.rpz.action.rpz-nxdomain=//p')
[ "${n:-0}" -eq 3 ] ||
	fail "unbound-control stats: num.rpz.action.rpz-nxdomain=$n, not 3"
[ "$(grep -c 'tapir-pop: blocked cached.example. A NXDOMAIN (rule denylist; sources deny, cached)' "$T/unbound.log")" -ge 2 ] ||
	fail "cached answers not logged: $(grep 'blocked cached' "$T/unbound.log")"
ok "answers 2 and 3 from Unbound's cache (cachehits +$((hits - hits0))), each with its EDE, counted (also by Unbound: num.rpz.action.rpz-nxdomain=$n) and logged"

# No longer blocked: out of the cache at once, not after the TTL (60 s).
[ "$(rcode later.example)" = NXDOMAIN ] || fail "later.example"
sleep 1 # a new mtime even on coarse file systems
printf 'cached.example\n' >"$T/deny.txt"
wait_until 5 decided later.example PASS || fail "later.example still decided"
wait_until 5 sh -c "[ \"\$(kdig +timeout=1 +retry=0 @127.0.0.1 -p $UNBOUND_PORT later.example A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')\" = NOERROR ]" ||
	fail "unblocked name still answered from the cache: $(rcode later.example)"
ok "a name taken off the list resolves at once"

sed -i 's/^answer:/answer:\n  cache-blocked: no/' "$T/tapir-pop.yaml"
reload_unbound
wait_until 10 decided cached.example NXDOMAIN || fail "deny file not loaded again"
hits0=$(UC stats_noreset | sed -n 's/^total.num.cachehits=//p')
for i in 1 2 3; do
	[ "$(rcode cached.example)" = NXDOMAIN ] || fail "cache-blocked: no: query $i"
done
hits=$(UC stats_noreset | sed -n 's/^total.num.cachehits=//p')
[ "$hits" -eq "$hits0" ] ||
	fail "cache-blocked: no: answered from Unbound's cache ($hits0 -> $hits)"
C stats_noreset | grep -qx "answer.nxdomain=3" ||
	fail "cache-blocked: no: not counted 3 times: $(C stats_noreset | grep '^answer\.')"
ok "cache-blocked: no: 3 block answers, none from Unbound's cache"
