#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Unbound's remote-control on a TCP port with control-use-cert: no lets
# every local user run unbound-control: the module does not use it for
# cache purges, says why in its log and in status, and still enforces.
. "$top_srcdir/tests/integration/lib.sh"

start_mosquitto
start_knot
write_module_config
CONTROL_IF=127.0.0.1
CONTROL_PORT=$(free_port)
start_unbound
grep -q "tapir-pop: remote-control listens on 127.0.0.1 port $CONTROL_PORT, not a Unix socket: no cache purging" "$T/unbound.log" ||
	fail "no warning in the log: $(grep tapir-pop "$T/unbound.log" | head -n 5)"
st=$("$CONTROL" -s "$T/tapir-pop.sock" status)
echo "$st" | grep -qx "cache-purge: unavailable (remote-control is not on a Unix socket)" ||
	fail "status: $(echo "$st" | grep cache-purge)"
out=$("$CONTROL" -s "$T/tapir-pop.sock" flush x.example 2>&1) && fail "flush over TCP control succeeded: $out"
publish_observe tcp.example 16
blocked_within 2 tcp.example || fail "not enforced"
ok "TCP remote-control refused for purging: $(echo "$st" | grep cache-purge)"
