#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# scripts/build-unbound.sh needs Debian's source packages. It adds deb-src
# twins of the Debian archive's entries in either apt source format: the
# one-line /etc/apt/sources.list the Debian installer writes, and deb822
# .sources files; never for third-party repositories, never twice, and
# never in the operator's own files. Run against private apt directories.
set -u
: "${top_srcdir:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-debsrc.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
enable() {
	APT_ETC=$1 sh "$top_srcdir/scripts/build-unbound.sh" --deb-src-only \
		>"$T/out" 2>&1 || fail "--deb-src-only: $(cat "$T/out")"
}

# As the Debian 12 installer writes it: one-line entries, security with its
# deb-src already, and a third-party list.
a=$T/oneline
mkdir -p "$a/sources.list.d"
cat >"$a/sources.list" <<EOL
deb http://deb.debian.org/debian/ bookworm main non-free-firmware
deb http://security.debian.org/debian-security bookworm-security main non-free-firmware
deb-src http://security.debian.org/debian-security bookworm-security main non-free-firmware
# bookworm-updates, to get updates before a point release is made;
deb http://deb.debian.org/debian/ bookworm-updates main non-free-firmware
EOL
echo 'deb [arch=amd64] https://download.example.com/linux/debian bookworm stable' \
	>"$a/sources.list.d/thirdparty.list"
cp "$a/sources.list" "$T/sources.list.orig"
enable "$a"
got=$(grep -v '^#' "$a/sources.list.d/tapir-pop-deb-src.list" 2>/dev/null)
want="deb-src http://deb.debian.org/debian/ bookworm main non-free-firmware
deb-src http://deb.debian.org/debian/ bookworm-updates main non-free-firmware"
[ "$got" = "$want" ] || fail "one-line: got
$got
want
$want"
cmp -s "$a/sources.list" "$T/sources.list.orig" || fail "sources.list was changed"
[ ! -e "$a/sources.list.d/tapir-pop-deb-src.sources" ] || fail "a .sources file for one-line entries"
enable "$a"
[ "$(grep -v '^#' "$a/sources.list.d/tapir-pop-deb-src.list")" = "$want" ] ||
	fail "a second run changed the twins"
echo "ok: one-line sources.list: deb-src twins for Debian's entries only, once"

# deb822, as a Debian 12 cloud image or container has it.
b=$T/deb822
mkdir -p "$b/sources.list.d"
cat >"$b/sources.list.d/debian.sources" <<EOS
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
enable "$b"
f=$b/sources.list.d/tapir-pop-deb-src.sources
[ "$(grep -c '^Types: deb-src$' "$f" 2>/dev/null)" = 2 ] ||
	fail "deb822: $(cat "$f" 2>&1)"
grep -q '^Suites: bookworm bookworm-updates$' "$f" &&
	grep -q '^Suites: bookworm-security$' "$f" &&
	[ "$(grep -c '^Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg$' "$f")" = 2 ] ||
	fail "deb822 stanzas: $(cat "$f")"
[ ! -e "$b/sources.list.d/tapir-pop-deb-src.list" ] || fail "a .list file for deb822 entries"
echo "ok: deb822 sources: deb-src twin stanzas, Signed-By kept"

# Both formats already have their deb-src: nothing is written.
printf 'deb-src http://deb.debian.org/debian/ bookworm main non-free-firmware\ndeb-src http://deb.debian.org/debian/ bookworm-updates main non-free-firmware\n' \
	>>"$a/sources.list"
enable "$a"
[ ! -e "$a/sources.list.d/tapir-pop-deb-src.list" ] ||
	fail "twins kept although the operator has deb-src now"
echo "ok: no twins where deb-src entries exist"
