#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Health reports to the DNS TAPIR core (core-status): signed with the
# configured Ed25519 key in upstream's TapirFunctionStatus shape, counts
# and component states only; a name a client asked for never appears.
. "$top_srcdir/tests/integration/lib.sh"

start_mosquitto
# Subscribe before the module starts, to catch its first report.
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t status/up/test -C 2 -W 40 \
	>"$T/reports" 2>"$T/sub.err" &
SUB=$!
PIDS="$PIDS $SUB"
start_knot
start_all_rest() {
	write_module_config "core-status:
  topic: status/up/test
  interval: 10
  signing-key: $top_srcdir/examples/keys/demo-signer.jwk"
	start_unbound
	wait_until 10 mqtt_connected || fail "module not connected"
}
start_all_rest
# A client's query, which the report must not mention.
[ "$(rcode secret-query.example)" = NOERROR ] || fail "query"
wait "$SUB" || fail "no two reports within 40 s: $(cat "$T/sub.err")"
[ "$(wc -l <"$T/reports")" = 2 ] || fail "reports: $(cat "$T/reports")"
sed -n 2p "$T/reports" >"$T/report.jws"
"$SIGN" --verify "$top_srcdir/examples/keys/demo-keys.json" "$T/report.jws" \
	>"$T/report.json" || fail "report does not verify against the key"
ok "report signed with the configured key: $(head -c 60 "$T/report.json")..."
jq -e '.Function == "tapir-pop" and .ComponentStatus.mqtt.Status == 2 and
	.ComponentStatus["source:dns-tapir"].Status == 2 and
	(.ComponentStatus.policy.Msg | test("^names=[0-9]+ entries=[0-9]+"))' \
	"$T/report.json" >/dev/null || fail "report shape: $(cat "$T/report.json")"
ok "TapirFunctionStatus shape: mqtt ok, sources ok, counts"
grep -q "secret-query" "$T/report.json" "$T/reports" && fail "a query name leaked"
grep -q "127.0.0.1" "$T/report.json" && fail "an address leaked"
ok "no query name and no address in the reports"
[ "$(stat_value core_status.sent)" -ge 2 ] || fail "core_status.sent"
ok "core_status.sent=$(stat_value core_status.sent)"
