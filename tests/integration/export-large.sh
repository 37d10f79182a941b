#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# list, dump-rpz and digest of 200000 names in a real Unbound: the answers
# are whole (every name once, in text and JSON; a zone named-checkzone
# accepts), Unbound's peak memory grows by far less than an answer while
# it is sent (the answer goes out in pieces, not built whole), and digest
# is what the manual says: BLAKE2b-256 of the sorted "NAME ACTION" lines
# of the names not passed, which an operator can compute from list.
# tapir-pop-control's own peak memory does not grow with the answer
# either.
. "$top_srcdir/tests/integration/lib.sh"

C() {
	"$CONTROL" -s "$T/tapir-pop.sock" "$@"
}

N=200000
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "bulk%d.example\n", i }' >"$T/bulk.txt"
printf 'bulk7.example\n' >"$T/allow.txt"
start_mosquitto
start_knot
write_module_config
awk -v T="$T" '/^sources:/ { print; print "  - name: bulk\n    type: file\n    list: denylist\n    path: " T "/bulk.txt\n  - name: allow\n    type: file\n    list: allowlist\n    path: " T "/allow.txt"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
daemon_reads "$T/tapir-pop.yaml" "$T/bulk.txt" "$T/allow.txt"
start_unbound
loaded() {
	C status | grep -q "^source: bulk .*names=$N"
}
wait_until 30 loaded || fail "bulk not loaded: $(C status | grep source)"

# Peak resident memory of Unbound while one command runs (writing 5 to
# clear_refs resets the peak), in KiB over what it was before.
peak_growth() {
	echo 5 >"/proc/$UNBOUND_PID/clear_refs" || return 1
	before=$(awk '/^VmRSS/ { print $2 }' "/proc/$UNBOUND_PID/status")
	C "$@" >"$T/answer" || return 1
	after=$(awk '/^VmHWM/ { print $2 }' "/proc/$UNBOUND_PID/status")
	echo $((after - before))
}

grew=$(peak_growth list) || fail "list"
size=$(($(wc -c <"$T/answer") / 1024))
[ "$(wc -l <"$T/answer")" = "$N" ] || fail "list: $(wc -l <"$T/answer") lines, want $N"
[ "$(cut -d' ' -f1 "$T/answer" | sort -u | wc -l)" = "$N" ] || fail "list: a name twice"
grep -q "^bulk7.example PASSTHRU allowlist$" "$T/answer" ||
	fail "list: $(grep '^bulk7.example ' "$T/answer")"
[ "$grew" -lt $((size / 4)) ] ||
	fail "list of $size KiB: Unbound's peak memory grew by $grew KiB"
ok "list of $N names ($size KiB): Unbound's peak memory grew by $grew KiB"

# tapir-pop-control prints an answer as it arrives: its own peak memory
# for the whole list is about what one lookup takes, not the answer's.
tool_peak() {
	/usr/bin/time -f %M -o "$T/time.out" "$CONTROL" -s "$T/tapir-pop.sock" "$@" >/dev/null &&
		cat "$T/time.out"
}
small=$(tool_peak lookup bulk1.example) || fail "lookup"
big=$(tool_peak list) || fail "list (peak)"
[ $((big - small)) -lt $((size / 4)) ] ||
	fail "tapir-pop-control list of $size KiB: $big KiB peak, $small KiB for a lookup"
ok "tapir-pop-control list of $size KiB: $big KiB peak, $small KiB for a lookup"

C --json list >"$T/answer.json" || fail "list --json"
jq -e "length == $N" "$T/answer.json" >/dev/null || fail "list --json: not $N objects"
ok "list --json: $N objects"

grew=$(peak_growth dump-rpz rpz.local) || fail "dump-rpz"
size=$(($(wc -c <"$T/answer") / 1024))
named-checkzone -q rpz.local "$T/answer" ||
	fail "named-checkzone: $(named-checkzone rpz.local "$T/answer" | tail -n 3)"
[ "$(grep -c ' CNAME \.$' "$T/answer")" = $((N - 1)) ] || fail "dump-rpz: not $((N - 1)) blocks"
[ "$grew" -lt $((size / 4)) ] ||
	fail "dump-rpz of $size KiB: Unbound's peak memory grew by $grew KiB"
ok "dump-rpz of $N names ($size KiB) accepted by named-checkzone; peak memory grew by $grew KiB"

grew=$(peak_growth digest) || fail "digest"
cp "$T/answer" "$T/digest"
# The manual's bound: 33 MiB whatever the number of names.
[ "$grew" -lt $((34 * 1024)) ] || fail "digest: peak memory grew by $grew KiB"
want=$(C list | awk '$2 != "PASS" { print $1, $2 }' | LC_ALL=C sort | b2sum -l 256 | cut -d' ' -f1)
grep -qx "digest: blake2b-256:$want" "$T/digest" && grep -qx "names: $N" "$T/digest" ||
	fail "digest: $(cat "$T/digest"), want $want from list"
ok "digest is the BLAKE2b-256 of list's sorted NAME ACTION lines: $want; peak memory grew by $grew KiB"
