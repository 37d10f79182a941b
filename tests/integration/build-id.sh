#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The module refuses, with one clear log line, a daemon whose GNU build-id
# is not the one it was built against (struct layouts would differ and
# corrupt memory silently). The other daemon here is the very same binary
# with only its build-id note rewritten. And the module never undoes the
# libraries' process-wide set-up.
. "$top_srcdir/tests/integration/lib.sh"

orig=$(readelf -n "$UNBOUND" | awk '/Build ID:/ { print $3 }')
[ -n "$orig" ] || fail "daemon has no build-id"
# A build-id note: namesz 4, descsz 20, type 3 (NT_GNU_BUILD_ID), "GNU".
printf '\004\000\000\000\024\000\000\000\003\000\000\000GNU\000' >"$T/note"
printf '\336\255\276\357\336\255\276\357\336\255\276\357\336\255\276\357\336\255\276\357' >>"$T/note"
objcopy --update-section .note.gnu.build-id="$T/note" "$UNBOUND" \
	"$T/unbound-other" || fail "objcopy"
other=$(readelf -n "$T/unbound-other" | awk '/Build ID:/ { print $3 }')
[ "$other" = deadbeefdeadbeefdeadbeefdeadbeefdeadbeef ] ||
	fail "rewritten build-id is $other"

MQTT_PORT=$(free_port)
KNOT_PORT=$(free_port)
write_module_config
write_unbound_config
# The daemon must exit at start-up instead of answering.
# shellcheck disable=SC2086
timeout 20 env $MODULE_ENV "$T/unbound-other" -d -c "$T/unbound.conf" >"$T/other.out" 2>&1
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] ||
	fail "unbound with a foreign build-id did not refuse (exit $rc)"
ok "daemon with a foreign build-id exited with status $rc"
grep -q "tapir-pop: refusing to load: built for Unbound .* build-id $orig, running build-id $other" \
	"$T/unbound.log" || fail "no refusal line: $(tail -n 5 "$T/unbound.log")"
ok "refused: $(grep -o 'tapir-pop: refusing.*' "$T/unbound.log" | head -n 1)"

# Library set-up once per process, never undone: the module does not call
# libmosquitto's clean-up, which resets OpenSSL state that Unbound itself
# uses, on every deinit (lib/libinit.c).
if nm -D --undefined-only "$MODULE" | grep -qw "mosquitto_lib_cleanup"; then
	fail "the module calls mosquitto_lib_cleanup()"
fi
ok "no library clean-up in the module: $(nm -D --undefined-only "$MODULE" | grep -c 'mosquitto_lib') libmosquitto set-up symbol(s), no clean-up"
