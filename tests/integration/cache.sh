#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A name whose allowed answer is already in Unbound's cache is blocked on
# the very next query after the observation arrives: the module has Unbound
# flush the name through its remote-control socket. A, AAAA and CD=1.
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
