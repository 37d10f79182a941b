#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Unbound killed with -9 and restarted: every unexpired MQTT-fed decision
# comes back, through the journal beside the state file (the core never
# re-sends an observation that has not changed), and a removal stays
# removed. No state file is saved in between (the first save is due a
# minute after start), so all of it comes from the journal.
. "$top_srcdir/tests/integration/lib.sh"

N=50
not_blocked() { ! decided "$1" NXDOMAIN; }
daemon_dir "$T/state"
start_all "state-dir: $T/state"
# Ten messages of five names each: quick, so that the kill comes well
# before the first save of the state file (a minute after start).
m=0
while [ "$m" -lt $((N / 5)) ]; do
	set --
	for k in 1 2 3 4 5; do set -- "$@" --observe "n$((m * 5 + k)).kill9.example"; done
	"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" "$@" --tags 16 \
		--ttl 3600 >"$T/msg.json" || fail "tapir-pop-sign"
	publish_file "$T/msg.json"
	m=$((m + 1))
done
publish_observe gone.kill9.example 16 3600
i=1
while [ "$i" -le "$N" ]; do
	blocked_within 10 "n$i.kill9.example" || fail "n$i.kill9.example not blocked"
	i=$((i + 1))
done
blocked_within 5 gone.kill9.example || fail "gone.kill9.example not blocked"
"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" \
	--remove gone.kill9.example >"$T/msg.json" || fail "tapir-pop-sign"
publish_file "$T/msg.json"
wait_until 5 not_blocked gone.kill9.example || fail "gone.kill9.example not removed"
ok "$N names blocked, one added and removed"
# What comes back must come from the journal alone.
if [ -e "$T/state/tapir-pop.state" ]; then
	fail "the state file was saved before the kill: too slow to test the journal"
fi

kill -9 "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
UNBOUND_PORT=$(free_port)
start_unbound
wait_until 10 mqtt_connected || fail "module not back after kill -9"
missing=0
i=1
while [ "$i" -le "$N" ]; do
	[ "$(rcode "n$i.kill9.example")" = NXDOMAIN ] || missing=$((missing + 1))
	i=$((i + 1))
done
[ "$missing" -eq 0 ] || fail "$missing of $N decisions lost across kill -9"
if [ "$(rcode gone.kill9.example)" = NXDOMAIN ]; then
	fail "a removed name came back"
fi
ok "all $N decisions back after kill -9, the removed one still gone"
[ "$(stat_value journal.replayed)" -ge $((N + 2)) ] ||
	fail "journal.replayed is $(stat_value journal.replayed)"
ok "$(grep -o 'journal: replayed.*' "$T/unbound.log" | tail -n 1)"
