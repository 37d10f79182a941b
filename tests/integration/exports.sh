#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The module exports exactly the six entry points dynlibmod looks up, so it
# cannot interpose on a symbol of the daemon it is loaded into.
. "$top_srcdir/tests/integration/lib.sh"

[ -f "$MODULE" ] || fail "no module at $MODULE"
got=$(nm -D --defined-only "$MODULE" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' |
	sort | tr '\n' ' ')
want="clear deinit get_mem inform_super init operate "
[ "$got" = "$want" ] || fail "exports are '$got', want '$want'"
ok "exports: $got"
# Linked -z now: a symbol the daemon lacks fails at load, not mid-query.
readelf -d "$MODULE" | grep -q 'BIND_NOW\|FLAGS.*NOW' ||
	fail "module not linked with -z now"
ok "module linked with -z now"
# Every symbol of our own is inside the module: an undefined tapir_ symbol
# would only fail when Unbound loads it.
und=$(nm -D --undefined-only "$MODULE" | awk '$2 ~ /^tapir_/ { print $2 }')
[ -z "$und" ] || fail "undefined in the module: $und"
# What the module takes from the daemon, the daemon exports.
missing=""
for sym in $(nm -D --undefined-only "$MODULE" | awk '$1 == "U" { print $2 }' | grep -v '@'); do
	nm -D --defined-only "$UNBOUND" | awk '{ print $3 }' | grep -qx "$sym" ||
		ldd "$MODULE" | awk '/=>/ { print $3 }' | xargs -r nm -D --defined-only 2>/dev/null |
		awk '{ print $3 }' | sed 's/@.*//' | grep -qx "$sym" ||
		missing="$missing $sym"
done
[ -z "$missing" ] || fail "symbols neither the daemon nor a library defines:$missing"
ok "every undefined symbol resolves against the daemon or a library"
