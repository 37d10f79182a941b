#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tapir-pop-control against a real Unbound with the module: every command
# in text and JSON with its exit code; dump-rpz accepted by a real zone
# checker; overrides across a restart; reload with a broken file keeps
# the running policy; the socket refuses another user, and past its mode
# only root, Unbound's user and control.group change state; log-only
# counts without changing answers; a flush Unbound did not do exits 1.
. "$top_srcdir/tests/integration/lib.sh"

C() {
	"$CONTROL" -s "$T/tapir-pop.sock" "$@"
}

daemon_dir "$T/state"
printf 'filed.example\n' >"$T/deny.txt"
start_mosquitto
start_knot
write_module_config "state-dir: $T/state"
# The socket's group: nogroup, so that a member can use it. A module that
# runs as TAPIR_TEST_USER can give the socket only to that user and one of
# its groups: its own primary group then.
SOCK_OWNER=root SOCK_GROUP=nogroup
if [ -n "$TEST_USER" ]; then
	SOCK_OWNER=$TEST_USER SOCK_GROUP=$TEST_GROUP
fi
sed -i "s/^control:\$/control:\n  owner: $SOCK_OWNER\n  group: $SOCK_GROUP/" "$T/tapir-pop.yaml"
awk -v T="$T" '/^sources:/ { print; print "  - name: local-deny\n    type: file\n    list: denylist\n    path: " T "/deny.txt\n    refresh: 1"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
start_unbound
wait_until 10 mqtt_connected || fail "module not connected"
publish_observe obs.example 16
wait_until 2 decided obs.example NXDOMAIN || fail "obs.example"

# status / stats / lookup, text and JSON.
C status >"$T/status" || fail "status exit $?"
grep -q "^version: " "$T/status" && grep -q "^host: Unbound [0-9][0-9.]* build-id" "$T/status" &&
	grep -q "^source: local-deny list=denylist type=file path=.* names=1" "$T/status" ||
	fail "status: $(cat "$T/status")"
C --json status | jq -e '.state == "active" and (.source | length) >= 3' >/dev/null ||
	fail "status --json"
ok "status (text and JSON)"
C stats_noreset | grep -q '^msg.accepted=1$' || fail "stats_noreset"
C --json stats_noreset | jq -e '."msg.accepted" == 1 and ."answer.would_block" == 0' >/dev/null ||
	fail "stats --json"
C stats_noreset | grep -q '^source.dns-tapir.accepted=1$' || fail "per-source stats"
C stats_noreset | grep -q '^decision.changes=1$' || fail "decision.changes"
C status | grep -q '^source: dns-tapir list=doubtlist type=mqtt accepted=1 rejected=0 last-message=[1-9]' ||
	fail "mqtt source health: $(C status | grep 'source: dns-tapir')"
[ "$(rcode obs.example)" = NXDOMAIN ] || fail "obs.example query"
C stats_noreset | grep -q '^rule.denytapir=1$' || fail "per-rule stats: $(C stats_noreset | grep '^rule')"
C stats >/dev/null
C stats_noreset | grep -q '^msg.accepted=0$' || fail "stats did not reset"
ok "stats resets, stats_noreset does not"
C --json lookup obs.example | jq -e '.action == "NXDOMAIN" and .rule == "denytapir"' >/dev/null ||
	fail "lookup --json: $(C --json lookup obs.example)"
C lookup "bad name" >/dev/null
[ $? = 1 ] || fail "lookup of an invalid name should exit 1"
out=$(C --json lookup "bad name")
[ $? = 1 ] && echo "$out" | jq -e '.error | test("illegal character")' >/dev/null ||
	fail "JSON error: $out"
C lookup obs.example | grep -q "^answer: NXDOMAIN with SOA tapir-pop.invalid. hostmaster.tapir-pop.invalid. in authority, TTL 60$" ||
	fail "lookup answer line: $(C lookup obs.example)"
ok "lookup (text, JSON, the client's answer, exit 1 and a JSON error)"

# list and digest.
C list | grep -q "^obs.example NXDOMAIN denytapir$" || fail "list: $(C list)"
C list --source local-deny | grep -q "^filed.example NXDOMAIN denylist$" ||
	fail "list --source"
[ "$(C list --list doubtlist | wc -l)" = 1 ] || fail "list --list"
C --json list --action NXDOMAIN | jq -e 'length == 2' >/dev/null || fail "list --json"
d1=$(C digest)
d2=$(C digest)
[ "$d1" = "$d2" ] && echo "$d1" | grep -q "^digest: blake2b-256:[0-9a-f]\{64\}$" ||
	fail "digest: $d1 / $d2"
ok "list with filters; digest stable: $(echo "$d1" | head -n 1)"

# dump-rpz, checked by named-checkzone.
C dump-rpz rpz.local >"$T/dump.zone" || fail "dump-rpz"
named-checkzone -q rpz.local "$T/dump.zone" || fail "named-checkzone: $(named-checkzone rpz.local "$T/dump.zone")"
grep -q "^obs.example.rpz.local CNAME .$" "$T/dump.zone" || fail "dump content"
ok "dump-rpz accepted by named-checkzone ($(grep -c CNAME "$T/dump.zone") records)"

# Overrides: deny, allow over a feed's block, list, across a restart.
C override deny local.example --ttl 3600 --comment "ticket 42" >/dev/null || fail "override deny"
C override allow obs.example >/dev/null || fail "override allow"
[ "$(rcode local.example)" = NXDOMAIN ] || fail "override deny not enforced"
[ "$(rcode obs.example)" = NOERROR ] || fail "override allow not enforced"
C override list | grep -q "^local.example deny .*comment=ticket 42$" || fail "override list"
C --json override list | jq -e 'length == 2' >/dev/null || fail "override list --json"
# A TTL with a unit, and a comment cut at 255 bytes mid-character: the
# override is kept (in overrides.json too, where it would vanish with a
# comment that is not UTF-8) and expires a day on.
long=$(awk 'BEGIN { for (i = 0; i < 200; i++) printf "\303\251" }')
t0=$(date +%s)
C override deny day.example --ttl 1d --comment "$long" >/dev/null || fail "override --ttl 1d"
C --json override list | jq -e --argjson t "$t0" \
	'.[] | select(.name == "day.example") | (.expires - $t) >= 86400 and (.expires - $t) <= 86402 and (.comment | utf8bytelength) == 254' \
	>/dev/null || fail "override --ttl 1d: $(C --json override list)"
jq -e '.overrides[] | select(.name == "day.example")' "$T/state/overrides.json" >/dev/null ||
	fail "day.example missing from overrides.json"
C override deny bad.example --ttl abc >/dev/null 2>&1
[ $? = 2 ] || fail "--ttl abc not refused"
C override remove day.example >/dev/null || fail "override remove day.example"
ok "override --ttl 1d lasts a day; a long comment is cut between characters; --ttl abc refused"
kill "$UNBOUND_PID"
wait "$UNBOUND_PID" 2>/dev/null
UNBOUND_PORT=$(free_port)
start_unbound
wait_until 10 mqtt_connected || fail "not back after restart"
[ "$(rcode local.example)" = NXDOMAIN ] || fail "override lost across restart"
C lookup obs.example | grep -q "^action: PASSTHRU" || fail "allow override lost"
C override remove obs.example >/dev/null || fail "override remove"
C lookup obs.example | grep -q "^action: NXDOMAIN" || fail "removed override still applies"
C override remove nothing.example >/dev/null
[ $? = 1 ] || fail "removing a missing override should exit 1"
ok "overrides: enforced, listed with comment, kept across a restart, removed"

# flush: a cached name is dropped from Unbound's cache.
[ "$(rcode cached.example)" = NOERROR ] || fail "cached.example"
C flush cached.example | grep -q "^ok$" || fail "flush"
C --json flush cached.example | jq -e '.result == "ok"' >/dev/null || fail "flush --json"
C flush --all | grep -q "^ok$" || fail "flush --all"
ok "flush NAME and flush --all"
# flush reports what Unbound did: with Unbound's control socket out of
# reach (moved aside), the answer is an error and the exit code 1, never
# "ok"; once it is back, flush works again.
mv "$T/unbound-control.sock" "$T/unbound-control.away" || fail "mv"
out=$(C flush cached.example 2>&1)
rc=$?
mv "$T/unbound-control.away" "$T/unbound-control.sock" || fail "mv back"
[ "$rc" = 1 ] || fail "flush with Unbound's control unreachable: exit $rc: $out"
echo "$out" | grep -q "^error: .* did not flush cached.example" ||
	fail "flush with Unbound's control unreachable said: $out"
C flush cached.example | grep -q "^ok$" || fail "flush once the socket is back"
ok "flush failure reported, exit 1: $out"

# reload: a broken file is refused and the running policy stays.
cp "$T/tapir-pop.yaml" "$T/good.yaml"
printf 'policy:\n  bogus: 1\n' >>"$T/tapir-pop.yaml"
out=$(C reload)
[ $? = 1 ] || fail "broken reload accepted: $out"
echo "$out" | grep -q "the running configuration stays" || fail "reload message: $out"
[ "$(rcode local.example)" = NXDOMAIN ] || fail "policy lost after refused reload"
ok "broken reload refused: $(echo "$out" | cut -c1-80)"

# reload with policy.log-only: decisions counted, answers untouched.
cp "$T/good.yaml" "$T/tapir-pop.yaml"
sed -i 's/^policy:$/policy:\n  log-only: yes/' "$T/tapir-pop.yaml"
C reload | grep -q "^ok$" || fail "reload"
C stats >/dev/null
[ "$(rcode logonly.example)" = NOERROR ] || true
publish_observe logonly.example 16
wait_until 2 sh -c "$CONTROL -s $T/tapir-pop.sock lookup logonly.example | grep -q 'log-only: would NXDOMAIN'" ||
	fail "log-only not explained"
[ "$(rcode logonly2.example)" = NOERROR ] || fail "x"
publish_observe logonly2.example 16
wait_until 2 sh -c "$CONTROL -s $T/tapir-pop.sock lookup logonly2.example | grep -q 'log-only: would NXDOMAIN'" ||
	fail "log-only 2"
"$UNBOUND_CONTROL" -c "$T/unbound.conf" flush logonly2.example >/dev/null
[ "$(rcode logonly2.example)" = NOERROR ] || fail "log-only changed an answer"
[ "$(stat_value answer.would_block)" -ge 1 ] || fail "would_block not counted"
ok "log-only: answer untouched, answer.would_block=$(stat_value answer.would_block)"

# log-only switched off by tapir-pop-control reload: the names the policy
# now blocks leave Unbound's cache at once, as a change of the data would
# make them leave (their allowed answers were cached while log-only).
[ "$(rcode logonly2.example)" = NOERROR ] || fail "logonly2 not resolving before"
cp "$T/good.yaml" "$T/tapir-pop.yaml"
C reload | grep -q "^ok$" || fail "reload without log-only"
wait_until 3 sh -c "[ \"\$(kdig +timeout=1 +retry=0 @127.0.0.1 -p $UNBOUND_PORT logonly2.example A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')\" = NXDOMAIN ]" ||
	fail "log-only off: logonly2.example still answered from the cache: $(rcode logonly2.example)"
grep -q "reloaded .*: [1-9][0-9]* decisions changed" "$T/unbound.log" ||
	fail "reload did not count the changed decisions"
ok "log-only off by reload: cached names blocked at once ($(grep -o 'reloaded .*decisions changed' "$T/unbound.log" | tail -n 1 | sed 's/.*: //'))"

# The socket refuses another user (mode 0660, SOCK_OWNER's).
if id nobody >/dev/null 2>&1; then
	# Only the socket's own mode may stand in the way.
	chmod 755 "$T"
	out=$(setpriv --reuid=nobody --regid=daemon --clear-groups "$CONTROL" -s "$T/tapir-pop.sock" status 2>&1)
	rc=$?
	[ "$rc" = 2 ] && echo "$out" | grep -q "Permission denied" ||
		fail "another user reached the socket ($rc): $out"
	ok "socket refuses another user: $out"
	out=$(setpriv --reuid=nobody --regid="$SOCK_GROUP" --clear-groups "$CONTROL" -s "$T/tapir-pop.sock" status 2>&1) ||
		fail "a member of the socket's group was refused: $out"
	ok "a member of control.group ($SOCK_GROUP) is served"

	# Past the socket's mode (an operator opened it to everyone), the
	# module asks the kernel who is calling: others may read, only root,
	# Unbound's user and members of control.group change anything.
	chmod 0666 "$T/tapir-pop.sock"
	outsider() {
		setpriv --reuid=nobody --regid=daemon --clear-groups "$CONTROL" -s "$T/tapir-pop.sock" "$@"
	}
	# (log-only is on from here: lookup, not answers, shows the entries.)
	outsider lookup local.example | grep -q "^entry: local.example source=override-deny " ||
		fail "an outsider cannot read: $(outsider lookup local.example 2>&1)"
	refused0=$(stat_value control.refused)
	for cmd in "override allow local.example" "override remove local.example" reload \
		"flush local.example" "flush --all" stats; do
		# shellcheck disable=SC2086
		out=$(outsider $cmd 2>&1)
		rc=$?
		[ "$rc" = 1 ] && echo "$out" | grep -q "^error: .*not permitted" ||
			fail "an outsider ran '$cmd' (exit $rc): $out"
	done
	out=$(outsider --json override deny other.example 2>&1)
	[ $? = 1 ] && echo "$out" | jq -e '.error | test("not permitted")' >/dev/null ||
		fail "an outsider ran override in JSON: $out"
	C lookup local.example | grep -q "^entry: local.example source=override-deny " &&
		! C lookup local.example | grep -q "source=override-allow" &&
		! C lookup other.example | grep -q "^entry:" ||
		fail "an outsider's override applied: $(C lookup local.example)"
	[ "$(stat_value control.refused)" = $((refused0 + 7)) ] ||
		fail "refusals not counted: control.refused=$(stat_value control.refused)"
	ok "an outsider reads; override, reload, flush and stats refused and counted: $(outsider reload 2>&1)"
	out=$(setpriv --reuid=nobody --regid=daemon --groups="$SOCK_GROUP" "$CONTROL" -s "$T/tapir-pop.sock" \
		override deny member.example 2>&1) || fail "a member of control.group (a supplementary group) was refused: $out"
	C lookup member.example | grep -q "^entry: member.example source=override-deny " ||
		fail "the member's override did not apply: $(C lookup member.example)"
	ok "a member of control.group by a supplementary group may change state"
fi
