#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The module works in the module-config orders an operator uses with
# Unbound's other modules built here (validator, respip, dns64,
# subnetcache): a blocked name is blocked and other names resolve.
. "$top_srcdir/tests/integration/lib.sh"

start_mosquitto
start_knot
write_module_config
n=0
for order in "dynlib validator iterator" \
	"respip dynlib validator iterator" \
	"dns64 dynlib validator iterator" \
	"subnetcache dynlib validator iterator" \
	"dynlib respip validator iterator"; do
	n=$((n + 1))
	UNBOUND_PORT=$(free_port)
	MODULE_CONFIG=$order start_unbound
	wait_until 10 mqtt_connected || fail "$order: module not connected"
	publish_observe "bad$n.example" 16
	blocked_within 2 "bad$n.example" || fail "$order: not blocked"
	[ "$(rcode "ok$n.example")" = NOERROR ] || fail "$order: other names"
	ok "module-config: \"$order\": blocks and resolves"
	kill "$UNBOUND_PID"
	wait "$UNBOUND_PID" 2>/dev/null
done
