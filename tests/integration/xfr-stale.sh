#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# An xfr source whose primary is gone: the zone's last good data stays in
# force (its SOA expire is an hour), the source's status line shows the
# error at once, but a primary that is merely restarting is not a
# problem; once no check has reached it for longer than the threshold
# (FEED_DOWN_PROBLEM_S, 120 s, lib/engine_impl.h; no key sets it), status
# says so in a "problem:" line and tapir-pop-control exits 1. This test
# waits that long: about 2 minutes.
. "$top_srcdir/tests/integration/lib.sh"

P="$T/primary"
mkdir -p "$P/db"
cat >"$P/rpz.test.zone" <<'EOZ'
$ORIGIN rpz.test.
$TTL 60
@              SOA  localhost. hostmaster.localhost. 1 1 1 3600 60
               NS   localhost.
stale.example  CNAME .
EOZ
PRIMARY_TSIG='' start_primary "$P" rpz.test

start_mosquitto
start_knot
write_module_config
awk -v P="$PRIMARY_PORT" '/^sources:/ { print; print "  - name: rpz\n    type: xfr\n    list: denylist\n    primary: 127.0.0.1\n    port: " P "\n    zone: rpz.test"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
daemon_reads "$T/tapir-pop.yaml"
start_unbound
wait_until 10 decided stale.example NXDOMAIN || fail "AXFR not applied: $(grep -i 'rpz\|xfr' "$T/unbound.log" | tail -n 3)"
"$CONTROL" -s "$T/tapir-pop.sock" status >"$T/out" ||
	fail "status exit $? with the primary up: $(cat "$T/out")"
ok "AXFR applied; status exit 0"

# The primary goes away. Its SOA refresh (1 s, checked every 5 s at the
# least) finds it gone within seconds.
kill "$PRIMARY_PID"
wait "$PRIMARY_PID" 2>/dev/null
down=$(date +%s)
wait_until 15 sh -c "'$CONTROL' -s '$T/tapir-pop.sock' status | grep -q '^source: rpz .* error='" ||
	fail "no error on the source line: $("$CONTROL" -s "$T/tapir-pop.sock" status | grep '^source: rpz')"
"$CONTROL" -s "$T/tapir-pop.sock" status >"$T/out" ||
	fail "status exit $? while the primary is only just gone: $(cat "$T/out")"
grep -q '^problem' "$T/out" && fail "a problem already: $(cat "$T/out")"
ok "primary just gone: status exit 0: $(grep -o 'error=.*' "$T/out")"

# Past the threshold: a problem, exit 1; the last good data still applies.
rc=0
wait_until 140 sh -c "! '$CONTROL' -s '$T/tapir-pop.sock' status >'$T/out'" || rc=1
[ "$rc" = 0 ] || fail "status still exit 0 after $(( $(date +%s) - down )) s without the primary: $(cat "$T/out")"
"$CONTROL" -s "$T/tapir-pop.sock" status >"$T/out"
rc=$?
[ "$rc" = 1 ] || fail "status exit $rc: $(cat "$T/out")"
grep -q "^problem: source rpz: no good check of zone rpz.test for [0-9]* s (" "$T/out" ||
	fail "no stale-zone problem line: $(cat "$T/out")"
[ "$(grep -c '^problem' "$T/out")" = 1 ] || fail "other problems: $(cat "$T/out")"
[ $(( $(date +%s) - down )) -ge 115 ] || fail "a problem too early, after $(( $(date +%s) - down )) s"
"$CONTROL" -s "$T/tapir-pop.sock" --json status | jq -e '.problems | length == 1' >/dev/null ||
	fail "JSON problems: $("$CONTROL" -s "$T/tapir-pop.sock" --json status)"
[ "$(rcode stale.example)" = NXDOMAIN ] || fail "the last good data no longer applies"
ok "primary gone $(( $(date +%s) - down )) s: status exit 1: $(grep '^problem' "$T/out")"
