#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tapir-pop-control refuses what it cannot send as meant before it
# connects anywhere: an override --ttl that is not a duration (a number of
# seconds, or with an s, m, h or d suffix) is an error that names it, not
# a TTL of its leading digits or a permanent override.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
CONTROL="$top_builddir/tools/tapir-pop-control"
T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-check.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

for ttl in abc 1x 1dd -5 d 1.5h ""; do
	out=$("$CONTROL" -s "$T/no.sock" override deny x.example --ttl "$ttl" 2>&1)
	rc=$?
	[ $rc = 2 ] || fail "--ttl '$ttl': exit $rc ($out)"
	echo "$out" | grep -q -- "--ttl '$ttl': not a duration" ||
		fail "--ttl '$ttl' not refused as such: $out"
done
echo "ok: --ttl garbage refused: $out"
# A good duration gets as far as the socket (none there).
out=$("$CONTROL" -s "$T/no.sock" override deny x.example --ttl 1d 2>&1)
echo "$out" | grep -q "cannot connect" || fail "--ttl 1d: $out"
echo "ok: --ttl 1d accepted"
