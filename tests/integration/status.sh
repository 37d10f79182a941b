#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# After an install, what the module needs can be missing or closed to the
# user Unbound runs as: the configuration (missing, unreadable), the keys
# file (missing, or holding no usable key), the state directory. In each case Unbound starts and answers, and
# tapir-pop-control status names what is wrong in a "problem:" line (JSON:
# .problems) and exits 1; an inactive module, whose socket path is in the
# file it could not read, answers on the default socket. Once fixed,
# status exits 0, also for a non-root member of the socket's group. When
# the socket refuses the caller, status exits 2; when nobody serves it (the
# module is not running), 3; either way it says what it finds out
# locally. -c finds the socket in the configuration, -q prints nothing on
# success. A socket owner the module cannot set is a problem too. The
# module runs as TAPIR_TEST_USER, unbound unless set: root reads and
# writes anything, so the unreadable cases need another user.
TAPIR_TEST_USER=${TAPIR_TEST_USER:-unbound}
. "$top_srcdir/tests/integration/lib.sh"

S="$T/tapir-pop.sock"

# status_is RC [ARGS...]: tapir-pop-control status exits RC; its output
# (stdout and stderr) in $T/out.
status_is() {
	want=$1
	shift
	"$CONTROL" -s "$S" "$@" status >"$T/out" 2>&1
	got=$?
	[ "$got" = "$want" ] || fail "status exit $got, want $want: $(cat "$T/out")"
}

has_line() {
	grep -qxF "$1" "$T/out" || fail "no line '$1' in: $(cat "$T/out")"
}

stop_unbound() {
	kill "$UNBOUND_PID"
	wait "$UNBOUND_PID" 2>/dev/null
	UNBOUND_PORT=$(free_port)
}

answers() {
	[ "$(rcode "$1.example")" = NOERROR ] || fail "unbound does not answer $1.example"
}

start_mosquitto
start_knot

# 1. No configuration: inactive, every query passes, status on the
#    default socket ($TAPIR_POP_SOCKET, set by lib.sh to $T/tapir-pop.sock).
write_module_config
rm "$T/tapir-pop.yaml"
start_unbound
answers missing-config
wait_until 5 test -S "$S" || fail "no socket from an inactive module"
status_is 1
has_line "state: inactive ($T/tapir-pop.yaml: No such file or directory)"
has_line "problem: configuration not loaded: $T/tapir-pop.yaml: No such file or directory"
problem=$(grep '^problem' "$T/out")
status_is 1 --json
jq -e '.state | startswith("inactive")' "$T/out" >/dev/null &&
	jq -e '.problems == ["configuration not loaded: '"$T"'/tapir-pop.yaml: No such file or directory"]' \
		"$T/out" >/dev/null || fail "JSON: $(cat "$T/out")"
"$CONTROL" -s "$S" lookup x.example >"$T/out" 2>&1
[ $? = 1 ] && grep -q "^error: inactive: " "$T/out" || fail "lookup: $(cat "$T/out")"
if [ -n "$TEST_USER" ]; then
	[ "$(stat -c '%U %a' "$S")" = "$TEST_USER 660" ] ||
		fail "socket: $(stat -c '%U:%G %a' "$S")"
fi
ok "missing configuration: unbound answers; status exit 1: $problem"
stop_unbound

# 2. A configuration the daemon's user may not read (root's, 0600).
write_module_config
chown root:root "$T/tapir-pop.yaml"
chmod 0600 "$T/tapir-pop.yaml"
start_unbound
answers unreadable-config
wait_until 5 test -S "$S" || fail "no socket from an inactive module"
status_is 1
has_line "problem: configuration not loaded: $T/tapir-pop.yaml: Permission denied"
ok "unreadable configuration: unbound answers; status exit 1: $(grep '^problem' "$T/out")"
stop_unbound

# 3. The keys file is missing: the module runs, rejects every message.
write_module_config
rm "$T/keys.json"
start_unbound
answers missing-keys
wait_until 10 mqtt_connected || fail "module did not connect"
status_is 1
has_line "state: active"
has_line "problem: keys: cannot read $T/keys.json: No such file or directory"
status_is 1 --json
jq -e '.problems == ["keys: cannot read '"$T"'/keys.json: No such file or directory"]' \
	"$T/out" >/dev/null || fail "JSON: $(cat "$T/out")"
ok "missing keys file: unbound answers; status exit 1: $(jq -r '.problems[0]' "$T/out")"
stop_unbound

# 3b. A keys file that loads but holds no usable key (each lacks "alg",
#     which upstream requires): no message can be verified, so it is a
#     problem as much as a missing file is.
write_module_config
jq 'del(.keys[].alg)' "$top_srcdir/examples/keys/demo-keys.json" >"$T/keys.json" ||
	fail "jq"
daemon_reads "$T/keys.json"
start_unbound
answers no-usable-key
wait_until 10 mqtt_connected || fail "module did not connect"
status_is 1
has_line "keys: 0"
has_line "problem: keys: $T/keys.json: JWKS has no usable signature key"
ok "keys file with no usable key: status exit 1: $(grep '^problem' "$T/out")"
stop_unbound

# 4. A state directory the daemon's user cannot write (root's, 0755);
#    fixed as the package's postinst would, then `reload` sees it.
mkdir -p "$T/state"
chmod 0755 "$T/state"
write_module_config "state-dir: $T/state"
start_unbound
answers unwritable-state
wait_until 10 mqtt_connected || fail "module did not connect"
status_is 1
has_line "problem: state-dir: $T/state: Permission denied"
ok "unwritable state directory: unbound answers; status exit 1: $(grep '^problem' "$T/out")"
daemon_dir "$T/state"
"$CONTROL" -s "$S" reload >/dev/null || fail "reload"
status_is 0
grep -q '^problem' "$T/out" && fail "problem left after the fix: $(cat "$T/out")"
status_is 0 --json
jq -e '.problems == []' "$T/out" >/dev/null || fail "JSON: $(cat "$T/out")"
ok "state directory fixed, reload: status exit 0, no problem"

# The module made its files as the user Unbound runs as.
publish_observe kept.example 16
wait_until 2 decided kept.example NXDOMAIN || fail "kept.example"
stop_unbound
[ -s "$T/state/tapir-pop.state" ] || fail "no state file saved at unload"
if [ -n "$TEST_USER" ]; then
	[ "$(stat -c %U "$T/state/tapir-pop.state")" = "$TEST_USER" ] ||
		fail "state file owned by $(stat -c %U "$T/state/tapir-pop.state")"
	ok "state file written by $TEST_USER at unload"
fi

# 5. A member of the socket's group, not root, is served.
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect"
grp=$(stat -c %g "$S")
setpriv --reuid=nobody --regid=nogroup --groups="$grp" \
	"$CONTROL" -s "$S" status >"$T/out" 2>&1 ||
	fail "status as nobody in group $(stat -c %G "$S"): exit $?: $(cat "$T/out")"
has_line "state: active"
ok "status as a non-root member of group $(stat -c %G "$S"): exit 0"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$CONTROL" -s "$S" status >"$T/out" 2>&1
rc=$?
[ "$rc" = 2 ] || fail "status as nobody outside the group: exit $rc: $(cat "$T/out")"
if [ -n "$TEST_USER" ]; then
	grep -q "^tapir-pop-control: you (nobody) may not enter $T (mode 0770, owner root, group $TEST_GROUP): run as root or as a member of group $TEST_GROUP$" \
		"$T/out" || fail "no hint: $(cat "$T/out")"
fi
ok "outside the group: exit 2: $(sed -n 2p "$T/out")"

# -c alone finds the socket in control.socket; -q says nothing when fine.
out=$("$CONTROL" -c "$T/tapir-pop.yaml" -q status 2>&1) ||
	fail "status -c CONFIG -q: exit $?: $out"
[ -z "$out" ] || fail "-q printed: $out"
"$CONTROL" -c "$T/tapir-pop.yaml" status | grep -qx "state: active" ||
	fail "status -c CONFIG did not reach the module's socket"
ok "-c CONFIG finds the socket from control.socket; -q is quiet"

# 6. Unbound stopped: the socket is gone; status explains, exit 3.
stop_unbound
status_is 3 -c "$T/tapir-pop.yaml"
has_line "tapir-pop-control: cannot connect to $S: No such file or directory"
grep -q "^tapir-pop-control: no socket at $S: is Unbound running with the module" "$T/out" ||
	fail "no hint: $(cat "$T/out")"
has_line "tapir-pop-control: $T/tapir-pop.yaml, as the module would load it:"
has_line "$T/tapir-pop.yaml: ok"
ok "unbound stopped: status exit 3 (not running), explains"
"$CONTROL" -s "$T/none/tapir-pop.sock" -c "$T/tapir-pop.yaml" status >"$T/out" 2>&1
[ $? = 3 ] || fail "exit $?"
has_line "tapir-pop-control: its control socket is $S: try tapir-pop-control -s $S status"
grep -q "^tapir-pop-control: $T/none: No such file or directory" "$T/out" ||
	fail "no hint for the directory: $(cat "$T/out")"
ok "wrong socket: status names the directory and the configuration's socket"

# 7. A socket owner the daemon's user cannot give it away to (root): the
#    socket stays the user's, and status says why.
write_module_config "state-dir: $T/state"
sed -i "s/^control:\$/control:\n  owner: root\n  group: $TEST_GROUP/" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect"
status_is 1
grep -q "^problem: control: chown $S to root:$TEST_GROUP: Operation not permitted (the module runs as uid $(id -u "$TEST_USER") " \
	"$T/out" || fail "no control problem: $(cat "$T/out")"
ok "control.owner root under $TEST_USER: status exit 1: $(grep '^problem' "$T/out" | cut -c1-90)..."
