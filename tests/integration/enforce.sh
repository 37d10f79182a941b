#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Enforcement beyond the query name: a CNAME chain through a blocked name
# is blocked and the blocked target is not left readable with CD=1; block
# answers carry an Extended DNS Error naming the rule and the sources
# (ede: yes); Unbound's own statistics count them in num.rpz.action.*;
# with prefetch and serve-expired, a blocked name is never served stale;
# the block log is rate-limited, and says how many lines it left out.
. "$top_srcdir/tests/integration/lib.sh"

UNBOUND_EXTRA="ede: yes
    prefetch: yes
    serve-expired: yes
    serve-expired-ttl: 3600"
start_all "logging:
  blocked-queries: yes
  client-address: yes"

# The chain alias.org -> chain.org -> target.org, cached while allowed.
[ "$(rcode alias.org)" = NOERROR ] || fail "chain before"
ok "alias.org -> chain.org -> target.org resolves and is cached"
publish_observe target.org 16
wait_until 2 decided target.org NXDOMAIN || fail "target.org not decided"
# The purge of target.org leaves alias.org's cached chain: the next
# resolution of the chain must be blocked on module_event_moddone.
"$UNBOUND_CONTROL" -c "$T/unbound.conf" flush alias.org >/dev/null
# The purges the block sets off go through Unbound's control socket, on
# the purger's thread, later; until they land only what the module drops
# on the worker keeps the chain out of the cache. Take the socket away
# meanwhile (the purger retries for a second), so that the checks below
# cannot be won by a purge.
mv "$T/unbound-control.sock" "$T/control.away"
[ "$(rcode alias.org)" = NXDOMAIN ] || fail "chain into a blocked name resolved"
ok "a chain through a blocked name is blocked"
[ "$(rcode target.org A +cdflag)" = NXDOMAIN ] || fail "CD=1 target answered from cache"
[ "$(rcode alias.org A +cdflag)" = NXDOMAIN ] || fail "CD=1 alias answered from cache"
[ "$(rcode chain.org A)" = NXDOMAIN ] || fail "chain.org, inside the chain, answered from cache"
mv "$T/control.away" "$T/unbound-control.sock"
purges_landed() {
	[ "$(stat_value cache.purge.done)" = "$(stat_value cache.purge.requested)" ]
}
wait_until 5 purges_landed || fail "purges did not land once the socket was back"
ok "neither the target, the alias nor the name between is readable from the cache (CD=1 too)"

# EDE: 17 Filtered, with the rule and the source.
out=$(kdig +edns +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" target.org A)
echo "$out" | grep -q "EDE: 17 (Filtered): 'tapir-pop: rule denytapir; sources dns-tapir'" ||
	fail "no EDE: $out"
ok "EDE 17 (Filtered): 'tapir-pop: rule denytapir; sources dns-tapir'"

# logging.blocked-queries with client-address: one line per blocked query.
grep -q "tapir-pop: blocked target.org. A NXDOMAIN (rule denytapir; sources dns-tapir) client 127.0.0.1" \
	"$T/unbound.log" || fail "no block log line: $(grep 'tapir-pop: blocked' "$T/unbound.log" | head -n 2)"
ok "block logged: $(grep -o 'tapir-pop: blocked target.org.*' "$T/unbound.log" | head -n 1)"

# The block log is rate-limited (100 lines a second): a burst of 400
# blocked queries writes at most 100 lines a second, and the first line
# of a later second says how many were left out. Every answered query is
# either logged or counted as suppressed.
before=$(wc -l <"$T/unbound.log")
names=""
for i in $(seq 400); do names="$names target.org"; done
# shellcheck disable=SC2086
answered=$(kdig +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" $names |
	grep -c "status: NXDOMAIN")
sleep 1.2
[ "$(rcode target.org)" = NXDOMAIN ] || fail "target.org after the burst"
answered=$((answered + 1))
tail -n "+$((before + 1))" "$T/unbound.log" >"$T/burst.log"
logged=$(grep -c "tapir-pop: blocked target.org" "$T/burst.log")
missed=$(sed -n 's/.*tapir-pop: \([0-9]*\) block log lines suppressed.*/\1/p' \
	"$T/burst.log" | awk '{ n += $1 } END { print n + 0 }')
[ "$logged" -lt "$answered" ] ||
	fail "$answered blocked queries, $logged block log lines: no rate limit"
[ "$((logged + missed))" = "$answered" ] ||
	fail "$answered blocked queries, $logged lines logged, $missed reported suppressed"
ok "block log rate-limited: $answered blocked queries, $logged lines, $missed reported suppressed"

# Unbound's statistics (extended-statistics: yes).
n=$("$UNBOUND_CONTROL" -c "$T/unbound.conf" stats_noreset |
	sed -n 's/^num.rpz.action.rpz-nxdomain=//p')
[ "${n:-0}" -ge 3 ] || fail "num.rpz.action.rpz-nxdomain=$n"
ok "unbound-control stats: num.rpz.action.rpz-nxdomain=$n"

# prefetch + serve-expired: short.org (TTL 10) cached, then blocked; it
# must stay blocked through the prefetch window and after its TTL ends.
[ "$(rcode short.org)" = NOERROR ] || fail "short.org before"
publish_observe short.org 16
wait_until 2 decided short.org NXDOMAIN || fail "short.org not decided"
end=$(( $(date +%s) + 12 ))
while [ "$(date +%s)" -lt "$end" ]; do
	[ "$(rcode short.org)" = NXDOMAIN ] || fail "short.org served stale"
	sleep 0.5
done
ok "short.org stays blocked through prefetch and serve-expired (12 s)"
