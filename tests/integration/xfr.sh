#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# An RPZ pulled from a real Knot primary with TSIG: the first transfer is
# an AXFR; a change committed on the primary arrives by IXFR, deletions
# included; the zone and its serial survive unbound-control reload (the
# next transfer is incremental, not a new AXFR).
. "$top_srcdir/tests/integration/lib.sh"

P="$T/primary"
mkdir -p "$P/db"
SECRET=$(head -c 32 /dev/urandom | base64)
cat >"$P/rpz.test.zone" <<'EOZ'
$ORIGIN rpz.test.
$TTL 60
@              SOA  localhost. hostmaster.localhost. 1 1 1 3600 60
               NS   localhost.
old.example    CNAME .
drop.example   CNAME rpz-drop.
*.wild.example CNAME *.
EOZ
PRIMARY_TSIG=$SECRET start_primary "$P" rpz.test

daemon_dir "$T/state"
start_mosquitto
start_knot
write_module_config "state-dir: $T/state"
awk -v P="$PRIMARY_PORT" -v S="$SECRET" '/^sources:/ { print; print "  - name: rpz\n    type: xfr\n    list: denylist\n    primary: 127.0.0.1\n    port: " P "\n    zone: rpz.test\n    tsig-name: xfr-key\n    tsig-secret: " S; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 decided old.example NXDOMAIN || fail "AXFR not applied: $(grep -i 'rpz\|xfr' "$T/unbound.log" | tail -n 3)"
grep -q "source rpz: AXFR of rpz.test to serial 1" "$T/unbound.log" || fail "no AXFR logged"
[ "$(rcode old.example)" = NXDOMAIN ] || fail "old.example"
[ -z "$(rcode drop.example)" ] || fail "drop.example answered"
ok "AXFR with TSIG applied: $(grep -o 'source rpz: AXFR.*' "$T/unbound.log" | head -n 1)"

knotc -c "$P/knot.conf" zone-begin rpz.test >/dev/null &&
	knotc -c "$P/knot.conf" zone-set rpz.test new.example 60 CNAME . >/dev/null &&
	knotc -c "$P/knot.conf" zone-unset rpz.test old.example >/dev/null &&
	knotc -c "$P/knot.conf" zone-commit rpz.test >/dev/null || fail "knotc commit"
wait_until 15 decided new.example NXDOMAIN || fail "IXFR addition not applied"
wait_until 5 decided old.example PASS || fail "IXFR deletion not applied"
grep -q "source rpz: IXFR of rpz.test to serial 2" "$T/unbound.log" || fail "no IXFR logged"
[ "$(rcode new.example)" = NXDOMAIN ] || fail "new.example"
[ "$(rcode old.example)" = NOERROR ] || fail "old.example after deletion"
ok "IXFR applied, deletion included: $(grep -o 'source rpz: IXFR.*' "$T/unbound.log" | head -n 1)"
"$CONTROL" -s "$T/tapir-pop.sock" status | grep -q "^source: rpz list=denylist type=xfr zone=rpz.test .*serial=2" ||
	fail "status: $("$CONTROL" -s "$T/tapir-pop.sock" status | grep 'source: rpz')"

reload_unbound
[ "$(rcode new.example)" = NXDOMAIN ] || fail "zone lost across reload"
wait_until 10 sh -c "grep -c 'source rpz: AXFR' $T/unbound.log | grep -qx 1" || fail "count"
sleep 2
[ "$(grep -c 'source rpz: AXFR' "$T/unbound.log")" = 1 ] ||
	fail "a reload caused a new AXFR"
ok "zone and serial kept across reload (no new AXFR)"
