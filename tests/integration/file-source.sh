#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# File sources in a real Unbound: a domains denylist, a hosts denylist and
# an RPZ zone file with its own actions; an allowlist file exempting a
# name; re-read when a file changes (added names block, removed names
# resolve again) without restarting Unbound; a bad line is reported with
# its line number and skipped; a file that disappears keeps its last good
# data and its error shows in status; a file caught mid-rewrite (an
# allowlist emptied by its writer) keeps the names it no longer lists until
# the writer is done, or until tapir-pop-control reload accepts it; a
# configuration of file sources only, with no mqtt: and no keys:, loads
# and blocks.
. "$top_srcdir/tests/integration/lib.sh"

cat >"$T/deny.txt" <<'EOD'
# local denylist
deny1.example
*.wild.example
bad name.example
deny2.example
EOD
cat >"$T/hosts" <<'EOD'
127.0.0.1 localhost
0.0.0.0 hosts1.example hosts2.example
EOD
cat >"$T/rpz.zone" <<'EOD'
$ORIGIN rpz.test.
$TTL 300
@              SOA  localhost. root.localhost. 1 3600 600 86400 60
               NS   localhost.
nx.example     CNAME .
nodata.example CNAME *.
drop.example   CNAME rpz-drop.
*.zone.example CNAME .
ok.zone.example CNAME rpz-passthru.
EOD
printf 'allowed.wild.example\n' >"$T/allow.txt"

start_mosquitto
start_knot
write_module_config "$(cat <<EOY | sed 's/^/  /' | sed '1s/^  //'
EOY
)"
cat >>"$T/tapir-pop.yaml" <<EOY
EOY
# Insert the file sources into the module configuration.
awk -v T="$T" '
/^sources:/ { print; print "  - name: local-deny\n    type: file\n    list: denylist\n    path: " T "/deny.txt\n    refresh: 1";
	print "  - name: hosts\n    type: file\n    list: denylist\n    format: hosts\n    path: " T "/hosts\n    refresh: 1";
	print "  - name: rpz\n    type: file\n    list: denylist\n    format: rpz\n    path: " T "/rpz.zone\n    refresh: 1";
	print "  - name: local-allow\n    type: file\n    list: allowlist\n    path: " T "/allow.txt\n    refresh: 3"; next }
{ print }' "$T/tapir-pop.yaml" >"$T/tapir-pop.yaml.new"
mv "$T/tapir-pop.yaml.new" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 mqtt_connected || fail "module did not start"
wait_until 5 decided deny1.example NXDOMAIN || fail "deny1 not loaded"

[ "$(rcode deny1.example)" = NXDOMAIN ] || fail "deny1.example"
[ "$(rcode deny2.example)" = NXDOMAIN ] || fail "deny2.example (after the bad line)"
[ "$(rcode a.b.wild.example)" = NXDOMAIN ] || fail "wildcard child"
[ "$(rcode wild.example)" = NOERROR ] || fail "wildcard owner blocked"
[ "$(rcode allowed.wild.example)" = NOERROR ] || fail "allowlist lost"
ok "domains file: exact, wildcard, allowlist exemption"
grep -q "source local-deny: $T/deny.txt:4: .*(line skipped)" "$T/unbound.log" ||
	fail "bad line not reported with its number"
ok "bad line reported: $(grep -o 'deny.txt:4: .*' "$T/unbound.log" | head -n 1)"
[ "$(rcode hosts2.example)" = NXDOMAIN ] || fail "hosts file"
ok "hosts file"
[ "$(rcode nx.example)" = NXDOMAIN ] || fail "rpz CNAME ."
out=$(kdig +timeout=2 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" nodata.example A)
echo "$out" | grep -q "status: NOERROR" && echo "$out" | grep -q "ANSWER: 0" ||
	fail "rpz CNAME *. is not NODATA: $out"
[ -z "$(rcode drop.example)" ] || fail "rpz-drop answered"
[ "$(rcode x.zone.example)" = NXDOMAIN ] || fail "rpz wildcard"
[ "$(rcode ok.zone.example)" = NOERROR ] || fail "rpz-passthru"
ok "rpz file: NXDOMAIN, NODATA, DROP, wildcard, passthru"

# Change the file: one name added, one removed.
sleep 1 # a new mtime even on coarse file systems
printf 'deny1.example\nnew.example\n' >"$T/deny.txt"
wait_until 5 decided new.example NXDOMAIN || fail "added name not loaded"
wait_until 5 decided deny2.example PASS || fail "removed name still decided"
[ "$(rcode new.example)" = NXDOMAIN ] || fail "new.example"
[ "$(rcode deny2.example)" = NOERROR ] || fail "deny2.example after removal"
ok "file change picked up: added name blocks, removed name resolves"

# The file disappears: its last good data stays, the error is visible.
rm "$T/deny.txt"
wait_until 5 sh -c "$CONTROL -s $T/tapir-pop.sock status | grep -q 'source: local-deny.*error='" ||
	fail "missing file not shown in status"
[ "$(rcode deny1.example)" = NXDOMAIN ] || fail "last good data dropped"
ok "missing file: last good data kept; $($CONTROL -s "$T/tapir-pop.sock" status | grep 'source: local-deny' | sed 's/.*error=/error=/')"

# A writer that truncates the allowlist, then rewrites it: while the file
# is empty the allowed name stays allowed (refresh 3 s: the next check
# would take the empty file as meant).
allow_error() {
	"$CONTROL" -s "$T/tapir-pop.sock" status | grep -q 'source: local-allow.*error='
}
printf 'allowed.wild.example\nhosts1.example\n' >"$T/allow.txt"
wait_until 8 decided hosts1.example PASSTHRU || fail "hosts1.example not allowlisted"
[ "$(rcode hosts1.example)" = NOERROR ] || fail "allowlisted hosts1.example blocked"
: >"$T/allow.txt"
wait_until 5 allow_error || fail "emptied allowlist not held"
[ "$(rcode hosts1.example)" = NOERROR ] ||
	fail "emptied allowlist taken as the truth: hosts1.example blocked"
"$CONTROL" -s "$T/tapir-pop.sock" status | grep -q '^problem: source local-allow: ' ||
	fail "held allowlist has no problem line"
ok "allowlist emptied mid-rewrite: name still allowed; $("$CONTROL" -s "$T/tapir-pop.sock" status | grep 'source: local-allow' | sed 's/.*error=/error=/')"
printf 'allowed.wild.example\nhosts1.example\n' >"$T/allow.txt"
wait_until 8 sh -c "! $CONTROL -s $T/tapir-pop.sock status | grep -q 'source: local-allow.*error='" ||
	fail "rewritten allowlist still shows an error"
[ "$(rcode hosts1.example)" = NOERROR ] || fail "hosts1.example after the rewrite"
ok "allowlist rewritten: error cleared, name allowed throughout"
# Emptied on purpose: tapir-pop-control reload accepts it at once.
: >"$T/allow.txt"
wait_until 5 allow_error || fail "emptied allowlist not held (second time)"
"$CONTROL" -s "$T/tapir-pop.sock" reload >/dev/null || fail "reload"
decided hosts1.example NXDOMAIN || fail "reload did not accept the empty allowlist"
wait_until 5 sh -c "[ \"\$(kdig +timeout=2 +retry=0 @127.0.0.1 -p $UNBOUND_PORT hosts1.example A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')\" = NXDOMAIN ]" ||
	fail "hosts1.example not blocked after reload: $(rcode hosts1.example)"
ok "empty allowlist accepted by tapir-pop-control reload"

# Files alone: no mqtt: and no keys: (they serve MQTT sources only). Such
# a configuration loads at unbound-control reload, its files block, and
# status has no problem to show.
printf 'deny1.example\nfiles-only.example\n' >"$T/deny.txt"
cat >"$T/tapir-pop.yaml" <<EOY
sources:
  - name: local-deny
    type: file
    list: denylist
    path: $T/deny.txt
control:
  socket: $T/tapir-pop.sock
EOY
"$UNBOUND_CONTROL" -c "$T/unbound.conf" reload >/dev/null ||
	fail "unbound-control reload"
wait_until 10 decided files-only.example NXDOMAIN ||
	fail "files-only configuration not in force: $($CONTROL -s "$T/tapir-pop.sock" status 2>&1 | head -n 3)"
out=$($CONTROL -s "$T/tapir-pop.sock" status 2>&1) ||
	fail "status exits non-zero with file sources only: $out"
if echo "$out" | grep -q "^problem:"; then
	fail "a problem with file sources only: $out"
fi
[ "$(rcode files-only.example)" = NXDOMAIN ] || fail "files-only.example"
ok "file sources only (no mqtt:, no keys:): loaded at reload, blocking, no problem"
