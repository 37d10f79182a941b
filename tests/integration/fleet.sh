#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A fleet: two mosquitto brokers bridged (the core publishes on the first;
# the second takes the feed over the bridge, as a site's own broker would),
# and two Unbounds with the module, one on each broker, each with its own
# database and state. Both block the same published names, withdraw the
# same withdrawn one, and tapir-pop-control digest agrees on both; with
# the bridge down, the second keeps answering from what it holds.
. "$top_srcdir/tests/integration/lib.sh"

N=40
start_all
A_PORT=$MQTT_PORT
ONE_PORT=$UNBOUND_PORT

# The second broker, bridged to the first for the feed's topics.
B_PORT=$(free_port)
cat >"$T/mosquitto-b.conf" <<EOC
listener $B_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/mosquitto-b.log
user root
connection to-a
address 127.0.0.1:$A_PORT
topic observations/# in 1
restart_timeout 1
EOC
mosquitto -c "$T/mosquitto-b.conf" >>"$T/mosquitto-b.out" 2>&1 &
B_PID=$!
PIDS="$PIDS $B_PID"
# The bridge carries a message published on the first broker.
bridged() {
	timeout 3 mosquitto_sub -h 127.0.0.1 -p "$B_PORT" -t observations/probe -C 1 -W 2 >"$T/probe.out" 2>/dev/null &
	sub=$!
	sleep 0.3
	mosquitto_pub -h 127.0.0.1 -p "$A_PORT" -t observations/probe -q 1 -m probe
	wait "$sub" && grep -qx probe "$T/probe.out"
}
wait_until 20 bridged || fail "bridge: $(tail -n 5 "$T/mosquitto-b.log")"
ok "broker B takes observations/# from broker A over a bridge"

# The second resolver: the same configuration but its broker, client id,
# control socket and port.
sed -e "s|^  broker: .*|  broker: mqtt://127.0.0.1:$B_PORT|" \
	-e "s|^  client-id: .*|  client-id: tapir-pop-test-two-$$|" \
	-e "s|^  socket: .*|  socket: $T/two.sock|" \
	"$T/tapir-pop.yaml" >"$T/two.yaml"
daemon_reads "$T/two.yaml"
TWO_PORT=$(free_port)
write_resolver_config two "$TWO_PORT" "dynlib iterator"
# shellcheck disable=SC2086
env $MODULE_ENV TAPIR_POP_SOCKET="$T/two.sock" TAPIR_POP_CONFIG="$T/two.yaml" \
	"$UNBOUND" -d -c "$T/two.conf" >>"$T/two.stderr" 2>&1 &
TWO_PID=$!
PIDS="$PIDS $TWO_PID"
two_connected() {
	"$CONTROL" -s "$T/two.sock" status 2>/dev/null | grep -q '^mqtt: connected'
}
wait_until 20 two_connected || fail "second resolver: $(tail -n 5 "$T/two.log" "$T/two.stderr")"
ok "two resolvers: one on each broker"

# The core publishes on broker A only: N names in messages of 10.
i=0
while [ "$i" -lt "$N" ]; do
	set --
	for j in $(seq "$i" $((i + 9))); do set -- "$@" --observe "fleet-$j.example"; done
	"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" "$@" --tags 16 \
		--ttl 3600 >"$T/msg.json" || fail "tapir-pop-sign"
	publish_file "$T/msg.json"
	i=$((i + 10))
done
publish_observe withdrawn.example 16 3600
names() {
	"$CONTROL" -s "$1" status | sed -n 's/^db.names: //p'
}
both_have() {
	[ "$(names "$T/tapir-pop.sock")" = "$1" ] && [ "$(names "$T/two.sock")" = "$1" ]
}
wait_until 20 both_have $((N + 1)) ||
	fail "names: one $(names "$T/tapir-pop.sock"), two $(names "$T/two.sock"), want $((N + 1))"
"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" --remove withdrawn.example \
	>"$T/msg.json" || fail "tapir-pop-sign --remove"
publish_file "$T/msg.json"
wait_until 20 both_have "$N" ||
	fail "after the withdrawal: one $(names "$T/tapir-pop.sock"), two $(names "$T/two.sock")"

# Both answer NXDOMAIN for every published name, NOERROR for the
# withdrawn one.
for port in "$ONE_PORT" "$TWO_PORT"; do
	UNBOUND_PORT=$port
	i=0
	while [ "$i" -lt "$N" ]; do
		[ "$(rcode "fleet-$i.example")" = NXDOMAIN ] ||
			fail "port $port: fleet-$i.example not blocked"
		i=$((i + 1))
	done
	[ "$(rcode withdrawn.example)" = NOERROR ] || fail "port $port: withdrawn.example still blocked"
done
ok "both resolvers block the $N published names and pass the withdrawn one"

one=$("$CONTROL" -s "$T/tapir-pop.sock" digest) || fail "digest one"
two=$("$CONTROL" -s "$T/two.sock" digest) || fail "digest two"
[ "$one" = "$two" ] || fail "digests differ: '$one' / '$two'"
ok "tapir-pop-control digest agrees: $(echo "$one" | head -n 1)"

# Each node stands on its own: without its broker's bridge, the second
# keeps its decisions and answers.
kill "$B_PID"
wait "$B_PID" 2>/dev/null
UNBOUND_PORT=$TWO_PORT
[ "$(rcode fleet-0.example)" = NXDOMAIN ] || fail "two: fleet-0.example not blocked with its broker gone"
[ "$(rcode up.example)" = NOERROR ] || fail "two: up.example not answered with its broker gone"
ok "with its broker gone the second resolver still blocks and resolves"
