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
