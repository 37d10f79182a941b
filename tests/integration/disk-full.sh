#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The state directory on a full file system (a small tmpfs), and a save
# killed half-way: the previous state file and overrides.json stay intact
# and in use, no temporary file is left, the failure is logged and shown
# by status; once there is room again, saving works; a temporary file a
# killed save left behind is removed at the next load.
. "$top_srcdir/tests/integration/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: mounting a tmpfs needs root"
	exit 77
fi
S="$T/state"
mkdir -p "$S"
mount -t tmpfs -o size=256k tmpfs "$S" || fail "mount a tmpfs on $S"
CLEANUP_UMOUNT=$S
daemon_dir "$S"
C() { "$CONTROL" -s "$T/tapir-pop.sock" "$@"; }

# publish_names PREFIX COUNT: one signed message observing COUNT names.
publish_names() {
	prefix=$1 count=$2
	set --
	for i in $(seq "$count"); do set -- "$@" --observe "$prefix-$i.example"; done
	"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" "$@" --tags 16 \
		--ttl 3600 >"$T/msg.json" || fail "tapir-pop-sign"
	publish_file "$T/msg.json"
}
temps() {
	find "$S" -name 'tapir-pop.state.??????' -o -name 'overrides.json.??????' \
		-o -name 'tapir-pop.state.serials.??????' | wc -l
}

start_all "state-dir: $S"
publish_names before 20
wait_until 10 decided before-20.example NXDOMAIN || fail "first names not applied"
C override deny kept.example >/dev/null || fail "override deny kept.example"
reload_unbound
[ -s "$S/tapir-pop.state" ] && [ -s "$S/overrides.json" ] || fail "no state saved: $(ls -l "$S")"
state_sum=$(sha256sum <"$S/tapir-pop.state")
over_sum=$(sha256sum <"$S/overrides.json")
ok "state saved: $(wc -c <"$S/tapir-pop.state") bytes, overrides.json $(wc -c <"$S/overrides.json") bytes"

# Fill the file system to the last block.
dd if=/dev/zero of="$S/fill" bs=1k 2>/dev/null || true
[ "$(df --output=avail "$S" | tail -n 1 | tr -d ' ')" = 0 ] || fail "tmpfs not full: $(df "$S")"

C override deny lost.example >/dev/null
wait_until 5 sh -c "$CONTROL -s $T/tapir-pop.sock status | grep -q '^problem: state-dir: .*No space left on device'" ||
	fail "no problem in status: $(C status | grep -i 'problem\|state')"
C -q status && fail "status exits 0 with the state directory full"
[ "$(sha256sum <"$S/overrides.json")" = "$over_sum" ] || fail "overrides.json changed on a full disk"
[ "$(temps)" = 0 ] || fail "temporary files left: $(ls "$S")"
ok "an override on a full disk: $(C status | grep '^problem: state-dir' | head -n 1); overrides.json intact"

publish_names during 30
wait_until 10 decided during-30.example NXDOMAIN || fail "names on a full disk not applied"
reload_unbound
grep -q "saving $S/tapir-pop.state: .*No space left on device" "$T/unbound.log" ||
	fail "failed save not logged: $(grep 'state' "$T/unbound.log" | tail -n 3)"
[ "$(sha256sum <"$S/tapir-pop.state")" = "$state_sum" ] || fail "state file changed by a failed save"
[ "$(temps)" = 0 ] || fail "temporary files left: $(ls "$S")"
decided before-7.example NXDOMAIN || fail "the previous state was not loaded after the failed save"
decided kept.example NXDOMAIN || fail "the previous overrides were not loaded"
ok "a save on a full disk: logged, the previous state file intact and loaded, no temporary file left"

# Room again: the next save goes through and the problem clears.
rm -f "$S/fill"
publish_names after 5
wait_until 10 decided after-5.example NXDOMAIN || fail "names after the disk was freed"
reload_unbound
[ "$(sha256sum <"$S/tapir-pop.state")" != "$state_sum" ] || fail "no state saved once there was room"
decided after-5.example NXDOMAIN || fail "after-5.example not kept across the reload"
C -q status || fail "status still reports a problem: $(C status | grep '^problem')"
ok "with room again the state is saved and status is clean"

# A save killed between its temporary file and the rename leaves the
# temporary file, half written; the next load removes it and reads the
# state file as it was.
head -c 1000 "$S/tapir-pop.state" >"$S/tapir-pop.state.Kl9xQ2"
reload_unbound
[ ! -e "$S/tapir-pop.state.Kl9xQ2" ] || fail "the temporary file of a killed save is still there"
grep -q "state: removed 1 temporary file of an interrupted save of $S/tapir-pop.state" "$T/unbound.log" ||
	fail "removal not logged"
decided after-5.example NXDOMAIN || fail "state lost"
ok "the temporary file of a killed save is removed at load, the state read as it was"
