#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# A zone primary that accepts the connection and then says nothing (a
# primary overloaded, or a firewall that lets the handshake through): the
# transfer waits on it (up to its timeout, 60 s here), and `unbound-control
# reload` must not: the module is unloaded and loaded anew at once (the
# time is printed; the test fails only past 10 s, far below the timeout, so
# that a loaded machine does not fail it), and the new module waits on the
# primary again.
. "$top_srcdir/tests/integration/lib.sh"

SLOW_PORT=$(free_port)
# Accepts every connection and keeps it open without a byte.
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
		LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "$!";
	my @held;
	while (my $c = $s->accept) { push @held, $c; }' "$SLOW_PORT" &
PIDS="$PIDS $!"
wait_until 10 sh -c "ss -Htln '( sport = :$SLOW_PORT )' | grep -q ." ||
	fail "the silent primary did not listen"

start_mosquitto
start_knot
write_module_config
awk -v P="$SLOW_PORT" '/^sources:/ { print; print "  - name: slow\n    type: xfr\n    list: denylist\n    primary: 127.0.0.1\n    port: " P "\n    zone: rpz.slow\n    timeout: 60"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect"
# The transfer is under way: a connection to the silent primary is open
# (Unbound's own, as the test's client never connects).
held() {
	ss -Htn state established "( dport = :$SLOW_PORT )" | grep -q .
}
wait_until 10 held || fail "no transfer started"
ok "the transfer waits on a primary that accepted and says nothing"

loads=$(grep -c "tapir-pop .*: loaded for Unbound" "$T/unbound.log")
start=$(date +%s%N)
"$UNBOUND_CONTROL" -c "$T/unbound.conf" reload >/dev/null || fail "unbound-control reload"
reloaded() {
	[ "$(grep -c 'tapir-pop .*: loaded for Unbound' "$T/unbound.log")" -gt "$loads" ] &&
		[ "$(rcode up.example)" = NOERROR ]
}
wait_until 10 reloaded || fail "module not loaded anew"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 10000 ] || fail "reload took $ms ms with the primary silent"
ok "unbound-control reload done and answering in $ms ms"
wait_until 10 held || fail "the new module does not try the primary"
ok "the new module waits on the primary again"
