#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A network cut between the module and the broker: the module reaches the
# broker through a TCP relay (socat), and the relay is stopped (SIGSTOP)
# for 30 s, so that packets are neither carried nor refused, as when a
# link goes down: no FIN, no RST, only silence. The module notices by its
# MQTT keep-alive (5 s here), queries keep being answered from the
# database it holds, and the 300 observations the core publishes during
# the cut are all applied once the link is back: the broker keeps them
# in the module's persistent session. With a clean session
# (mqtt.session-expiry: 0, NETCUT_SESSION_EXPIRY=0) they are lost.
. "$top_srcdir/tests/integration/lib.sh"

N=300
CUT=30

start_mosquitto
start_knot
BROKER_PORT=$MQTT_PORT
RELAY_PORT=$(free_port)
socat "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,reuseaddr,fork" \
	"TCP:127.0.0.1:$BROKER_PORT" 2>>"$T/socat.err" &
RELAY_PID=$!
PIDS="$PIDS $RELAY_PID"
wait_until 5 sh -c "ss -Htln '( sport = :$RELAY_PORT )' | grep -q ." ||
	fail "the relay did not listen"

# The module's broker is the relay; the core publishes to the broker.
MQTT_PORT=$RELAY_PORT
MQTT_EXTRA="  keepalive: 5
  session-expiry: ${NETCUT_SESSION_EXPIRY:-3600}"
write_module_config
MQTT_PORT=$BROKER_PORT
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect through the relay"

publish_observe before.example 16
blocked_within 10 before.example || fail "before.example not blocked"
ok "blocked through the relay before the cut"


sign_feed c "$N"

# relay_signal SIG: the listener first (no new connections are carried
# from then on), then every connection it carries. Stopped processes are
# added to PIDS so that a failing test still kills them.
relay_signal() {
	kids=$(pgrep -P "$RELAY_PID" | tr '\n' ' ')
	if [ "$1" = STOP ]; then
		kill -STOP "$RELAY_PID"
		# shellcheck disable=SC2086
		[ -z "$kids" ] || kill -STOP $kids
		PIDS="$PIDS $kids"
	else
		# shellcheck disable=SC2086
		[ -z "$kids" ] || kill -CONT $kids
		kill -CONT "$RELAY_PID"
	fi
}
# A failing test must not leave stopped processes behind for cleanup's
# SIGTERM to wait on.
netcut_cleanup() {
	kill -CONT "$RELAY_PID" $(pgrep -P "$RELAY_PID") 2>/dev/null
}

cut_start=$(date +%s%N)
relay_signal STOP
ok "link cut (relay $RELAY_PID stopped)"
if ! wait_until 20 sh -c "! $CONTROL -s $T/tapir-pop.sock status | grep -q '^mqtt: connected'"; then
	netcut_cleanup
	fail "the cut was not noticed within 20 s"
fi
noticed=$(( ($(date +%s%N) - cut_start) / 1000000 ))
ok "the module noticed the cut after $noticed ms (keep-alive 5 s)"
line=$(grep 'tapir-pop: mqtt: disconnected' "$T/unbound.log" | tail -n 1)
if ! echo "$line" | grep -q 'no reply from the broker within mqtt.keepalive'; then
	netcut_cleanup
	fail "the log does not say why: $line"
fi
ok "logged: ${line#*warning: }"

if ! mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -t "$TOPIC" -q 1 -l \
	-i "tapir-core-$$" <"$T/feed.txt"; then
	netcut_cleanup
	fail "mosquitto_pub failed"
fi
ok "$N observations published during the cut"

# Queries go on being answered from what the module holds.
q=0
bad=0
while [ $(( ($(date +%s%N) - cut_start) / 1000000000 )) -lt "$CUT" ]; do
	a=$(rcode before.example)
	b=$(rcode up.example)
	q=$((q + 2))
	[ "$a" = NXDOMAIN ] || bad=$((bad + 1))
	[ "$b" = NOERROR ] || bad=$((bad + 1))
	sleep 0.2
done
if [ "$bad" -ne 0 ]; then
	netcut_cleanup
	fail "$bad of $q queries during the cut not answered as before"
fi
ok "$q queries during the ${CUT} s cut: all answered as before (0 SERVFAIL)"
if [ "$(feed_applied c)" -ne 0 ]; then
	netcut_cleanup
	fail "$(feed_applied c) observations arrived during the cut: the link was not cut"
fi

relay_signal CONT
back=$(date +%s%N)
wait_until 30 mqtt_connected || fail "no reconnect within 30 s of the link's return"
reconnect=$(( ($(date +%s%N) - back) / 1000000 ))
ok "reconnected $reconnect ms after the link came back"
wait_until 30 feed_all_applied c "$N" ||
	fail "$(feed_applied c) of $N observations published during the cut applied"
ok "$N of $N observations published during the cut applied, $(( ($(date +%s%N) - back) / 1000000 )) ms after the link came back"
[ "$(rcode c$N.example)" = NXDOMAIN ] || fail "c$N.example not blocked"
