#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Bad input changes nothing and is counted: unsigned, tampered, unknown
# key, already expired, oversized, malformed payload, wrong source, a
# replayed message. The upstream DNS TAPIR vector verifies against
# upstream's key and is refused as stale (it was sent in July 2026).
. "$top_srcdir/tests/integration/lib.sh"

VEC="$top_srcdir/tests/data/tapir-vectors"
start_mosquitto
start_knot
write_module_config
# Trust the demo key and upstream's test key, as an enrolled node would.
jq -s '{keys: (.[0].keys + .[1].keys)}' \
	"$top_srcdir/examples/keys/demo-keys.json" "$VEC/verkeys-a.pub.json" \
	>"$T/keys.json" || fail "cannot merge key sets"
start_unbound
wait_until 10 mqtt_connected || fail "module did not connect"
KEY="$top_srcdir/examples/keys/demo-signer.jwk"

expect_counter() {
	wait_until 3 sh -c "[ \"\$($CONTROL -s $T/tapir-pop.sock stats_noreset | sed -n 's/^$1=//p')\" = $2 ]" ||
		fail "$1 is $(stat_value "$1"), want $2"
}

# Unsigned: the bare TapirMsg.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"src_name":"dns-tapir","creator":"test","msg_type":"observation","list_type":"doubtlist","added":[{"name":"uns.example","time_added":"%s","ttl":3600,"tag_mask":16}],"removed":[],"msg":"","timestamp":"%s","time_str":""}' \
	"$now" "$now" >"$T/plain.json"
publish_file "$T/plain.json"
expect_counter msg.rejected.unsigned 1
ok "unsigned rejected"

# Tampered: one character of the payload changed after signing.
"$SIGN" -k "$KEY" --observe tam.example --tags 16 >"$T/signed.json"
jq -c '.payload |= (.[0:20] + (if .[20:21] == "A" then "B" else "A" end) + .[21:])' \
	"$T/signed.json" >"$T/tampered.json" || fail "jq"
publish_file "$T/tampered.json"
expect_counter msg.rejected.bad_signature 1
ok "tampered rejected"

# Unknown kid: a fresh key nobody trusts.
"$SIGN" -g -k "$T/other.jwk" -p "$T/other.pub.json" >/dev/null || fail "keygen"
"$SIGN" -k "$T/other.jwk" --observe unk.example --tags 16 >"$T/unk.json"
publish_file "$T/unk.json"
expect_counter msg.rejected.unknown_key 1
ok "unknown key rejected"

# Already expired: added in 2020 with a one-hour TTL.
"$SIGN" -k "$KEY" --observe old.example --tags 16 --ttl 3600 \
	--time-added 2020-01-01T00:00:00Z >"$T/old.json"
publish_file "$T/old.json"
expect_counter entry.already_expired 1
ok "already expired entry ignored"

# Oversized: over limits.max-message-size (64 KiB by default), but within
# the MQTT packet size the module asked the broker for (that plus 4 KiB
# for the topic and headers): delivered, refused.
received=$(stat_value msg.received)
head -c 66000 /dev/zero | tr '\0' 'x' >"$T/big.txt"
publish_file "$T/big.txt"
expect_counter msg.rejected.too_big 1
ok "oversized rejected"
# Far over: the broker holds it back (MQTT v5 maximum packet size), so
# the module never reads it. A small message after it shows it was not
# merely late.
head -c 300000 /dev/zero | tr '\0' 'x' >"$T/huge.txt"
publish_file "$T/huge.txt"
printf 'x' >"$T/tiny.txt"
publish_file "$T/tiny.txt"
expect_counter msg.received $((received + 2))
expect_counter msg.rejected.too_big 1
ok "300 kB message held back by the broker (maximum packet size)"

# Signed but not a TapirMsg.
printf '{"src_name": 12}' | "$SIGN" -k "$KEY" - >"$T/bad.json"
publish_file "$T/bad.json"
expect_counter msg.rejected.malformed_msg 1
ok "malformed payload rejected"

# Signed for another source.
"$SIGN" -k "$KEY" --observe oth.example --tags 16 --src other-source >"$T/src.json"
publish_file "$T/src.json"
expect_counter msg.rejected.wrong_source 1
ok "wrong source rejected"

for n in uns tam unk old oth; do
	[ "$(rcode $n.example)" = NOERROR ] || fail "$n.example changed"
done
# Only the expired one verified (accepted, its entry ignored).
[ "$(stat_value msg.accepted)" = 1 ] || fail "msg.accepted $(stat_value msg.accepted)"
ok "no rejected message changed an answer"

# A captured removal, published again after the name came back, is
# refused (it is older than a message already applied), and the name
# stays blocked.
"$SIGN" -k "$KEY" --remove rep.example >"$T/rep-removed.json"
publish_observe rep.example 16
wait_until 3 decided rep.example NXDOMAIN || fail "rep.example not blocked"
publish_file "$T/rep-removed.json"
wait_until 3 decided rep.example PASS || fail "rep.example not removed"
sleep 11 # past the 10 s a source's messages may arrive out of order
publish_observe rep.example 16
wait_until 3 decided rep.example NXDOMAIN || fail "rep.example not blocked again"
publish_file "$T/rep-removed.json"
expect_counter msg.rejected.stale 1
[ "$(rcode rep.example)" = NXDOMAIN ] || fail "replayed removal unblocked rep.example"
ok "replayed removal refused: $(grep -o 'msg.rejected.stale: .*' "$T/unbound.log" | head -n 1)"

# The upstream vector, byte for byte as published by the core: it
# verifies against upstream's key (or it would count as bad_signature),
# but was sent in July 2026, longer ago than limits.max-message-age (24 h):
# refused as stale. (tests/unit/test_engine.c applies it on a clock of its
# own.)
publish_file "$VEC/observation-globally_new_signed.json"
expect_counter msg.rejected.stale 2
[ "$(stat_value msg.rejected.bad_signature)" = 1 ] || fail "upstream vector did not verify"
ok "upstream vector verified and refused as older than max-message-age"
