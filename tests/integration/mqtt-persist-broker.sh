#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The persistent session survives a restart of a broker that keeps
# persistence (persistence true): 200 observations that the core publishes
# at QoS 1 after the broker is back, but before the module has reconnected,
# are all applied once it has. The window is made certain: the broker
# comes back first on a port the module does not know, the core publishes
# there, and the broker restarts (saving them) on the module's port. With a
# clean session (before mqtt.session-expiry) the restarted broker knew no
# subscription of the module's and dropped them.
. "$top_srcdir/tests/integration/lib.sh"

N=200

MOSQUITTO_EXTRA="persistence true
persistence_location $T/
autosave_interval 3600"
start_mosquitto
start_knot
write_module_config
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect to mosquitto"


sign_feed b "$N"

stop_mosquitto
wait_until 5 sh -c "! $CONTROL -s $T/tapir-pop.sock status | grep -q '^mqtt: connected'" ||
	fail "disconnect not noticed"
MODULE_PORT=$MQTT_PORT
MQTT_PORT=$(free_port)
start_mosquitto
mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "$TOPIC" -q 1 -l \
	-i "tapir-core-$$" <"$T/feed.txt" || fail "mosquitto_pub failed"
mqtt_connected && fail "the module reconnected before the publication: no window"
ok "$N published while the broker was back and the module not yet"
stop_mosquitto
MQTT_PORT=$MODULE_PORT
start_mosquitto
wait_until 20 mqtt_connected || fail "no reconnect"
wait_until 30 feed_all_applied b "$N" ||
	fail "$(feed_applied b) of $N observations applied after the broker restart"
ok "$N of $N applied after the broker restart"
st=$("$CONTROL" -s "$T/tapir-pop.sock" status | grep '^mqtt')
echo "$st" | grep -q 'subscribed at QoS 1, session kept 3600 s' ||
	fail "status: $st"
ok "$st"
