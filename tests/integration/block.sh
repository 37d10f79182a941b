#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A signed observation published on a real mosquitto reaches the module in
# a real Unbound and turns the name's answer into NXDOMAIN with an SOA in
# authority within 1 s; names the policy does not match are untouched.
. "$top_srcdir/tests/integration/lib.sh"

start_all

[ "$(rcode good.example)" = NOERROR ] || fail "good.example before"
ok "good.example resolves"

# likelymalware (bit 4): denytapir fires.
start=$(date +%s%N)
publish_observe bad1.example 16
blocked_within 1 bad1.example ||
	fail "bad1.example not blocked within 1 s (now $(rcode bad1.example))"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok "bad1.example blocked ${ms} ms after publish"

# The answer: NXDOMAIN in the header, one SOA in authority, TTL 60 (less
# what it has spent in Unbound's cache since the first query).
out=$(kdig +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" bad1.example A)
echo "$out" | grep -q "status: NXDOMAIN" || fail "no NXDOMAIN: $out"
echo "$out" | grep -q "AUTHORITY: 1" || fail "no authority record: $out"
echo "$out" | grep -Eq "^bad1\.example\.[[:space:]]+([1-5]?[0-9]|60)[[:space:]]+IN[[:space:]]+SOA[[:space:]]+tapir-pop\.invalid\. hostmaster\.tapir-pop\.invalid\." ||
	fail "SOA not as configured: $out"
ok "NXDOMAIN with SOA (negative TTL 60) in authority"
[ "$(rcode bad1.example AAAA)" = NXDOMAIN ] || fail "AAAA not blocked"
ok "AAAA blocked too"

# One tag that no rule names, below numtapirtags' limit of 2: passes.
publish_observe new1.example 1
# Two tags: numtapirtags fires.
publish_observe two1.example 5
blocked_within 2 two1.example || fail "two tags not blocked"
ok "two1.example (2 tags) blocked"
[ "$(rcode new1.example)" = NOERROR ] || fail "new1.example (1 tag) blocked"
ok "new1.example (1 tag) passes"

# Matching is exact: neither a child nor the parent is affected.
[ "$(rcode www.bad1.example)" = NOERROR ] || fail "child blocked"
[ "$(rcode good.example)" = NOERROR ] || fail "good.example after"
ok "untouched names still resolve"

# The decision is explained by the control socket.
"$CONTROL" -s "$T/tapir-pop.sock" lookup bad1.example >"$T/lookup.txt" ||
	fail "lookup failed"
grep -q "^action: NXDOMAIN" "$T/lookup.txt" || fail "lookup: $(cat "$T/lookup.txt")"
grep -q "^rule: denytapir" "$T/lookup.txt" || fail "lookup rule"
grep -q "source=dns-tapir list=doubtlist tags=likelymalware" "$T/lookup.txt" ||
	fail "lookup entry: $(cat "$T/lookup.txt")"
ok "lookup explains: $(tr '\n' ' ' <"$T/lookup.txt")"
[ "$(stat_value msg.accepted)" = 3 ] || fail "msg.accepted $(stat_value msg.accepted)"
ok "3 messages accepted"

# The module's threads are named and yield to Unbound's workers.
ps -L -o comm=,ni= -p "$UNBOUND_PID" >"$T/threads.txt"
for th in tapir-mqtt tapir-writer tapir-purge tapir-control; do
	awk -v th="$th" '$1 == th && $2 == 10 { found = 1 } END { exit !found }' \
		"$T/threads.txt" || fail "no $th thread at nice 10: $(tr '\n' ' ' <"$T/threads.txt")"
done
awk '$1 == "unbound" && $2 == 0 { found = 1 } END { exit !found }' "$T/threads.txt" ||
	fail "workers not at nice 0: $(tr '\n' ' ' <"$T/threads.txt")"
ok "module threads named, at nice 10; workers at 0"
