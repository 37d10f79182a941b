#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# REDIRECT answers: the configured addresses for A and AAAA, NODATA for
# other types; the redirect target of an RPZ record gives the action.
. "$top_srcdir/tests/integration/lib.sh"

cat >"$T/rpz.zone" <<'EOZ'
$ORIGIN rpz.test.
@              SOA  localhost. root.localhost. 1 3600 600 86400 60
redir.example  CNAME walled.example.
EOZ
start_mosquitto
start_knot
write_module_config
awk -v T="$T" '/^sources:/ { print; print "  - name: rpz\n    type: file\n    list: denylist\n    format: rpz\n    path: " T "/rpz.zone"; next }
/^answer:/ { print; print "  redirect-a: [192.0.2.53]\n  redirect-aaaa: [\"2001:db8::53\", \"2001:db8::54\"]"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 decided redir.example REDIRECT || fail "not decided REDIRECT"
a=$(kdig +timeout=2 +retry=0 +short @127.0.0.1 -p "$UNBOUND_PORT" redir.example A)
[ "$a" = 192.0.2.53 ] || fail "A: '$a'"
aaaa=$(kdig +timeout=2 +retry=0 +short @127.0.0.1 -p "$UNBOUND_PORT" redir.example AAAA | sort | tr '\n' ' ')
[ "$aaaa" = "2001:db8::53 2001:db8::54 " ] || fail "AAAA: '$aaaa'"
out=$(kdig +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" redir.example TXT)
echo "$out" | grep -q "status: NOERROR" && echo "$out" | grep -q "ANSWER: 0" ||
	fail "TXT not NODATA: $out"
ok "REDIRECT: A 192.0.2.53, AAAA 2001:db8::53/54, TXT NODATA"

# lookup says what the client got: the same answer plan.
"$CONTROL" -s "$T/tapir-pop.sock" lookup redir.example >"$T/lookup" || fail "lookup"
grep -qx "answer: NOERROR, A 192.0.2.53, TTL 60" "$T/lookup" &&
	grep -qx "answer for AAAA: NOERROR, AAAA 2001:db8::53 2001:db8::54, TTL 60" "$T/lookup" &&
	grep -q "^answer for other types: NOERROR/NODATA with SOA " "$T/lookup" ||
	fail "lookup does not describe the answers: $(grep answer "$T/lookup")"
ok "lookup describes the REDIRECT answers per type"

# tapir-pop-control reload changes the answers, and lookup with them: the
# module keeps no configuration of its own.
sed -i 's/192\.0\.2\.53/192.0.2.99/' "$T/tapir-pop.yaml"
[ "$("$CONTROL" -s "$T/tapir-pop.sock" reload)" = ok ] || fail "control reload"
a=$(kdig +timeout=2 +retry=0 +short @127.0.0.1 -p "$UNBOUND_PORT" redir.example A)
[ "$a" = 192.0.2.99 ] || fail "A after control reload: '$a'"
"$CONTROL" -s "$T/tapir-pop.sock" lookup redir.example A | grep -qx "answer: NOERROR, A 192.0.2.99, TTL 60" ||
	fail "lookup after control reload: $("$CONTROL" -s "$T/tapir-pop.sock" lookup redir.example A | grep answer)"
ok "a control reload of answer: changes the answer and lookup together"
for i in $(seq 20); do
	r=$("$CONTROL" -s "$T/tapir-pop.sock" reload)
	[ "$r" = ok ] || fail "control reload $i: $r"
done
ok "20 more control reloads, no limit"

# A CNAME target instead, for every type (read at the module's load).
sed -i 's/^  redirect-a: .*/  redirect-cname: walled.example/; /^  redirect-aaaa: /d' "$T/tapir-pop.yaml"
reload_unbound
wait_until 10 decided redir.example REDIRECT || fail "not decided after reload"
out=$(kdig +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" redir.example TXT)
echo "$out" | grep -Eq "^redir\.example\.[[:space:]]+60[[:space:]]+IN[[:space:]]+CNAME[[:space:]]+walled\.example\." ||
	fail "no CNAME: $out"
ok "REDIRECT with redirect-cname: redir.example CNAME walled.example"
"$CONTROL" -s "$T/tapir-pop.sock" dump-rpz rpz.local >"$T/dump.zone" || fail "dump-rpz"
grep -q "^redir.example.rpz.local CNAME walled.example.$" "$T/dump.zone" || fail "dump: $(cat "$T/dump.zone")"
named-checkzone -q rpz.local "$T/dump.zone" || fail "named-checkzone"
ok "dump-rpz writes the redirect as the module answers it"
