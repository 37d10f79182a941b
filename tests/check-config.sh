#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tapir-pop-control check validates a configuration and the files it names
# without any running Unbound: exit 0 when the module would load it, 1 with
# the file, line and key when not.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
CONTROL="$top_builddir/tools/tapir-pop-control"
T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-check.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# Readable by Unbound's user: check, run as root, opens each file as that
# user too.
chmod 755 "$T"
printf 'a.example\nbad name.example\n*.b.example\n' >"$T/deny.txt"
cat >"$T/good.yaml" <<EOY
mqtt:
  broker: mqtt://127.0.0.1
keys: $top_srcdir/examples/keys/demo-keys.json
sources:
  - name: dns-tapir
    list: doubtlist
    topics: [observations/down/tapir-pop]
  - name: deny
    type: file
    list: denylist
    path: $T/deny.txt
EOY
out=$("$CONTROL" check "$T/good.yaml" 2>&1) || fail "good config refused: $out"
echo "$out" | grep -q "source deny: denylist, domains file $T/deny.txt: 2 names, 1 bad lines" ||
	fail "file not summarised: $out"
echo "$out" | grep -q "deny.txt:2: more than one name" || fail "bad line not shown: $out"
echo "ok: good config accepted, its file checked"

sed 's/broker:/brokr:/' "$T/good.yaml" >"$T/typo.yaml"
out=$("$CONTROL" check "$T/typo.yaml" 2>&1) && fail "typo accepted"
echo "$out" | grep -q "typo.yaml:2: mqtt.brokr: unknown key" || fail "typo not named: $out"
echo "ok: typo refused: $out" | head -n 1

sed "s|$T/deny.txt|$T/missing.txt|" "$T/good.yaml" >"$T/missing.yaml"
out=$("$CONTROL" check "$T/missing.yaml" 2>&1)
[ $? = 1 ] || fail "missing list file accepted"
echo "$out" | grep -q "source deny: .*missing.txt" || fail "missing file not named: $out"
echo "ok: missing list file reported"

# A zone transfer source is named as one, not as an MQTT source.
awk '/^sources:/ { print; print "  - name: zone\n    type: xfr\n    list: denylist\n    primary: 127.0.0.1\n    port: 5353\n    zone: rpz.test"; next } { print }' \
	"$T/good.yaml" >"$T/xfr.yaml"
out=$("$CONTROL" check "$T/xfr.yaml" 2>&1) || fail "xfr config refused: $out"
echo "$out" | grep -qx "source zone: denylist, zone rpz.test from 127.0.0.1 port 5353 (transferred when the module runs)" ||
	fail "xfr source not summarised: $out"
echo "ok: an xfr source is summarised as a zone"

# Run as root, check opens every file again as Unbound's user: a list the
# module could not read after it drops privileges is an error now.
if [ "$(id -u)" = 0 ] && id unbound >/dev/null 2>&1; then
	chmod 600 "$T/deny.txt"
	out=$("$CONTROL" check "$T/good.yaml" 2>&1)
	rc=$?
	[ $rc = 1 ] || fail "a file unbound cannot read was accepted (exit $rc): $out"
	echo "$out" | grep -q "^deny: user unbound cannot read $T/deny.txt: Permission denied$" ||
		fail "not named: $out"
	chmod 644 "$T/deny.txt"
	echo "ok: a file Unbound's user cannot read is named: $(echo "$out" | grep 'user unbound')"
	out=$(TAPIR_POP_CONFIG="$T/good.yaml" "$CONTROL" check 2>&1) ||
		fail "check of \$TAPIR_POP_CONFIG: $out"
	echo "$out" | grep -q "^$T/good.yaml: ok$" || fail "\$TAPIR_POP_CONFIG not checked: $out"
	echo "ok: check reads \$TAPIR_POP_CONFIG"
fi

# Files only: no broker and no keys to name (mqtt: and keys: serve MQTT
# sources), and check says so instead of failing on a key file.
cat >"$T/files-only.yaml" <<EOY
sources:
  - name: deny
    type: file
    list: denylist
    path: $T/deny.txt
EOY
out=$("$CONTROL" check "$T/files-only.yaml" 2>&1) ||
	fail "files-only config refused: $out"
echo "$out" | grep -q "^keys: none (no mqtt source)$" || fail "keys line: $out"
echo "ok: a configuration without mqtt: and keys: is accepted"

# The example is true to the parser: as shipped, and with every
# commented-out key and section uncommented (all but upstream:, whose
# files bring a second dns-tapir source and policy). Prose comments have
# one or three spaces after the "#", commented YAML none, two or four.
out=$("$CONTROL" check "$top_srcdir/examples/tapir-pop.yaml" 2>&1)
echo "$out" | grep -q "^source dns-tapir: doubtlist" ||
	fail "the example does not parse: $out"
echo "c2VjcmV0c2VjcmV0c2VjcmV0" >"$T/xfr.secret"
sed -E -e 's/^( *)#([^ #]|  [^ ]|    [^ ])/\1\2/' \
	-e "s|/etc/unbound/xfr-key.secret|$T/xfr.secret|" \
	-e '/^upstream:/,/^$/d' \
	"$top_srcdir/examples/tapir-pop.yaml" >"$T/all-keys.yaml"
grep -q '^  - name: rpz-feed' "$T/all-keys.yaml" || fail "nothing uncommented"
grep -q '^  redirect-cname:' "$T/all-keys.yaml" || fail "nothing uncommented"
out=$("$CONTROL" check "$T/all-keys.yaml" 2>&1)
echo "$out" | grep -q "^source rpz-feed: " ||
	fail "the example with every key uncommented does not parse: $out"
echo "ok: the example parses, also with every commented-out key"
