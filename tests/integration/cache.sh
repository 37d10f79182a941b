#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A name whose allowed answer is already in Unbound's cache is blocked on
# the very next query after the observation arrives: the module has Unbound
# flush the name through its remote-control socket. A, AAAA and CD=1; the
# same when an allowance that kept it resolving is taken away.
. "$top_srcdir/tests/integration/lib.sh"

start_all
for q in "A" "AAAA" "A +cdflag"; do
	# shellcheck disable=SC2086
	[ "$(rcode cached.example $q)" = NOERROR ] || fail "before: $q"
done
# Served from the cache now (the TTL is an hour).
[ "$(rcode cached.example A)" = NOERROR ] || fail "cached answer"
ok "cached.example cached as allowed (A, AAAA, CD=1)"

start=$(date +%s%N)
publish_observe cached.example 16
wait_until 1 is_rcode cached.example NXDOMAIN ||
	fail "cached name not blocked within 1 s"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok "cached.example blocked ${ms} ms after publish"
[ "$(rcode cached.example AAAA)" = NXDOMAIN ] || fail "AAAA still cached"
[ "$(rcode cached.example A +cdflag)" = NXDOMAIN ] || fail "CD=1 still cached"
ok "AAAA and CD=1 blocked too"
[ "$(stat_value cache.purge.done)" -ge 1 ] || fail "no purge counted"
ok "cache.purge.done=$(stat_value cache.purge.done)"

# Taking an allowance away is a decision change too: an allow override
# lets the observed name resolve (and be cached again); removing it must
# flush that answer, or the name keeps resolving from the cache.
"$CONTROL" -s "$T/tapir-pop.sock" override allow cached.example >/dev/null ||
	fail "override allow"
[ "$(rcode cached.example A)" = NOERROR ] || fail "allow override not enforced"
[ "$(rcode cached.example A)" = NOERROR ] || fail "allowed answer not cached"
ok "cached.example allowed by an override, cached again"
"$CONTROL" -s "$T/tapir-pop.sock" override remove cached.example >/dev/null ||
	fail "override remove"
wait_until 1 is_rcode cached.example NXDOMAIN ||
	fail "cached name still resolves 1 s after its allowance went"
ok "allowance removed: cached.example blocked again"

# A type that Unbound's flush by name does not remove (TXT): the module
# marks the name when such a query passes, and flushes it with
# flush_zone; the names above were flushed by name, walking nothing.
[ "$(rcode rare.example TXT)" = NOERROR ] || fail "TXT before"
[ "$(rcode rare.example TXT)" = NOERROR ] || fail "TXT answer not cached"
walks=$(( $(stat_value cache.purge.done) - $(stat_value cache.purge.by-name) ))
publish_observe rare.example 16
wait_until 1 is_rcode rare.example NXDOMAIN TXT ||
	fail "cached TXT answer still served 1 s after the block"
[ $(( $(stat_value cache.purge.done) - $(stat_value cache.purge.by-name) )) -gt "$walks" ] ||
	fail "the TXT name was not flushed with flush_zone"
[ "$(stat_value cache.purge.by-name)" -ge 2 ] ||
	fail "A/AAAA names not flushed by name"
ok "TXT answer flushed with flush_zone; other names by name ($(stat_value cache.purge.by-name))"
