#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# tapir-pop.yaml(5) documents every key the parser accepts, and no other:
# the parser's keys come from its own field tables (tests/config-keys,
# tapir_config_list_keys()), the manual's from its KEYS section, where an
# .SS title in lower case is the path of the keys below it ("mqtt",
# "policy.doubtlist"), any other title the top level, and each key is the
# ".B key" line right after a .TP. Fails with the keys one side lacks.
# Then every manual page must format without a warning and have a NAME
# line that lexgrog (man-db's whatis parser) can read.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
KEYS="$top_builddir/tests/config-keys"
MAN5="$top_srcdir/module/tapir-pop.yaml.5"
PAGES="$top_srcdir/module/tapir-pop.8 $MAN5 $top_srcdir/tools/tapir-pop-control.8"
T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-man.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

"$KEYS" >"$T/parser.unsorted" || fail "$KEYS did not run"
[ -s "$T/parser.unsorted" ] || fail "$KEYS printed no key"
sort "$T/parser.unsorted" >"$T/parser"
# Manual source: "\-" is a hyphen; quotes around titles go.
awk '
	/^\.SH/ { inkeys = ($2 == "KEYS"); next }
	!inkeys { next }
	/^\.SS/ {
		t = $0
		sub(/^\.SS[ \t]+/, "", t)
		gsub(/"/, "", t)
		gsub(/\\-/, "-", t)
		prefix = (t ~ /^[a-z][a-z0-9.-]*$/) ? t "." : ""
		next
	}
	/^\.TP/ { tp = 1; next }
	tp && /^\.B[ \t]/ {
		k = $2
		gsub(/\\-/, "-", k)
		gsub(/"/, "", k)
		print prefix k
	}
	{ tp = 0 }
' "$MAN5" | sort >"$T/manual"
[ -s "$T/manual" ] || fail "no key found in $MAN5"
missing=$(comm -23 "$T/parser" "$T/manual")
extra=$(comm -13 "$T/parser" "$T/manual")
dups=$(uniq -d "$T/manual")
bad=0
if [ -n "$missing" ]; then
	echo "FAIL: keys the parser accepts that tapir-pop.yaml.5 does not document:" $missing
	bad=1
fi
if [ -n "$extra" ]; then
	echo "FAIL: keys tapir-pop.yaml.5 documents that the parser does not accept:" $extra
	bad=1
fi
if [ -n "$dups" ]; then
	echo "FAIL: keys documented twice in tapir-pop.yaml.5:" $dups
	bad=1
fi
[ "$bad" = 0 ] || exit 1
echo "ok: tapir-pop.yaml.5 documents the $(wc -l <"$T/parser") keys of the parser, and no other"

for page in $PAGES; do
	if command -v groff >/dev/null 2>&1; then
		w=$(groff -man -ww -z "$page" 2>&1)
		[ -z "$w" ] || fail "$page: groff warns: $w"
	fi
	if command -v lexgrog >/dev/null 2>&1; then
		lexgrog "$page" >/dev/null 2>&1 || fail "$page: lexgrog cannot read its NAME"
	fi
done
echo "ok: the manual pages format without warnings"
