#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Unbound starts while the broker is down; the module connects when the
# broker comes up; while the broker is stopped Unbound keeps answering and
# keeps its decisions; the module reconnects and applies new messages.
. "$top_srcdir/tests/integration/lib.sh"

MQTT_PORT=$(free_port)
start_knot
write_module_config
start_unbound
[ "$(rcode good.example)" = NOERROR ] || fail "no answer without broker"
ok "unbound answers with the broker down"

start_mosquitto
wait_until 10 mqtt_connected || fail "no connect after broker start"
ok "module connected once the broker came up"
publish_observe bad1.example 16
blocked_within 2 bad1.example || fail "bad1 not blocked"
ok "bad1.example blocked"

stop_mosquitto
wait_until 5 sh -c "! $CONTROL -s $T/tapir-pop.sock status | grep -q '^mqtt: connected'" ||
	fail "disconnect not noticed"
for i in 1 2 3 4 5; do
	[ "$(rcode good$i.example)" = NOERROR ] || fail "no answer, broker down"
done
[ "$(rcode bad1.example)" = NXDOMAIN ] || fail "decision lost, broker down"
ok "answers and decisions kept while the broker is down"

start_mosquitto
wait_until 10 mqtt_connected || fail "no reconnect"
ok "module reconnected"
publish_observe bad2.example 16
blocked_within 2 bad2.example || fail "bad2 not blocked"
ok "new message applied after reconnect"
[ "$(stat_value mqtt.connects)" -ge 2 ] || fail "mqtt.connects"
[ "$(stat_value mqtt.disconnects)" -ge 1 ] || fail "mqtt.disconnects"
ok "connects=$(stat_value mqtt.connects) disconnects=$(stat_value mqtt.disconnects)"
