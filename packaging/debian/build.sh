#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Build the Debian packages, from Debian packages only, into dist/:
#   1. Debian's own unbound source package, rebuilt with --with-dynlibmodule
#      added to the daemon's configure flags and nothing else changed, under
#      a local version (1.17.1-2+deb12u4 -> 1.17.1-2+deb12u4+dynlib1);
#   2. unbound-tapir-pop, compiled against that build's configured daemon
#      tree and depending on exactly that unbound version.
#
# Usage: sh packaging/debian/build.sh [OUTDIR]   (default: dist/)
# Environment: UNBOUND_VERSION pins the unbound source version (default:
# apt's candidate); DEB_BUILD_OPTIONS is passed on (default "nocheck" for
# unbound's own test suite; our unit tests always run).
# An unchanged unbound rebuild in OUTDIR/work is reused.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work
jobs=$(nproc)
export DEBIAN_FRONTEND=noninteractive
# Debian's tools only: a python or pkg-config of a user's own (pyenv,
# /usr/local) would otherwise leak into the packages' build.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBFULLNAME="${DEBFULLNAME:-unbound-tapir-pop build}"
export DEBEMAIL="${DEBEMAIL:-unbound-tapir-pop@example.org}"

# --- 1. unbound, rebuilt with dynlib -------------------------------------
sh "$top/scripts/install-deps.sh" dpkg-dev debhelper devscripts fakeroot \
	lintian binutils libdistro-info-perl
sh "$top/scripts/build-unbound.sh" --deb-src-only
apt-get update -qq
apt-get build-dep -y -qq unbound >/dev/null

ver=${UNBOUND_VERSION:-$(apt-cache showsrc unbound |
	sed -n 's/^Version: //p' | sort -V | tail -n 1)}
[ -n "$ver" ] || { echo "build.sh: no unbound source package found" >&2; exit 1; }
dynver="$ver+dynlib1"
upver=${ver%-*}
upver=${upver#*:}
usrc=$work/unbound-$upver
stamp=$work/unbound-$dynver.stamp

if [ -f "$stamp" ] && [ -d "$usrc/b/unbound" ]; then
	echo "build.sh: reusing unbound $dynver in $usrc"
else
	rm -rf "$work"
	mkdir -p "$work"
	(cd "$work" && apt-get source -qq "unbound=$ver" >/dev/null 2>&1) ||
		{ echo "build.sh: apt-get source unbound=$ver failed" >&2; exit 1; }
	cd "$usrc"
	# The daemon build's configure call is the one that names the Python
	# module; dynlib goes beside it. Nothing else in the package changes.
	sed -i 's/^\(\t*\)--with-pythonmodule \\$/&\n\1--with-dynlibmodule \\/' \
		debian/rules
	[ "$(grep -c -- '--with-dynlibmodule' debian/rules)" = 1 ] ||
		{ echo "build.sh: cannot add --with-dynlibmodule to debian/rules" >&2; exit 1; }
	dch --preserve --newversion "$dynver" --force-distribution \
		--distribution "$(dpkg-parsechangelog -SDistribution)" \
		"Rebuild with --with-dynlibmodule for unbound-tapir-pop; nothing else changed."
	echo "build.sh: building unbound $dynver (several minutes)"
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck} parallel=$jobs" \
		dpkg-buildpackage -b -uc -us >"$work/unbound-build.log" 2>&1 || {
		tail -n 40 "$work/unbound-build.log"
		exit 1
	}
	touch "$stamp"
fi
"$usrc/b/unbound/unbound" -V | grep -q dynlib ||
	{ echo "build.sh: $usrc/b/unbound/unbound has no dynlib" >&2; exit 1; }

# --- 2. unbound-tapir-pop -------------------------------------------------
# Our build dependencies, from the package's own control file.
apt-get build-dep -y -qq "$top/packaging/debian" >/dev/null

pver=$(sed -n 's/^AC_INIT(\[[^]]*\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
# The unbound version is part of ours: a rebuild for an unbound security
# update is then an upgrade that apt installs together with it.
tver="$pver+unbound$(echo "$dynver" | tr -- '-+:' '...')"
psrc=$work/unbound-tapir-pop-$pver
rm -rf "$psrc"
mkdir -p "$psrc"
# The tracked files and new ones not ignored, as they are in the tree now.
(cd "$top" && git ls-files -co --exclude-standard -z |
	xargs -0 tar -cf - --no-recursion) | tar -C "$psrc" -xf -
rm -rf "$psrc/debian"
cp -a "$top/packaging/debian/debian" "$psrc/debian"
cd "$psrc"
dch --preserve --newversion "$tver" --force-distribution \
	--distribution "$(dpkg-parsechangelog -SDistribution)" \
	"Built for unbound $dynver."
echo "build.sh: building unbound-tapir-pop $tver"
UNBOUND_TREE="$usrc/b/unbound" UNBOUND_DEB_VERSION="$dynver" \
	DEB_BUILD_OPTIONS="parallel=$jobs" \
	dpkg-buildpackage -b -uc -us >"$work/tapir-pop-build.log" 2>&1 || {
	tail -n 40 "$work/tapir-pop-build.log"
	exit 1
}

# --- 3. the pair must match -----------------------------------------------
rm -f "$out"/*.deb
cp "$work"/*_"$dynver"_*.deb "$work"/unbound-tapir-pop_"$tver"_*.deb "$out/"
x=$work/extract
rm -rf "$x"
mkdir -p "$x/u" "$x/t"
dpkg-deb -x "$out"/unbound_"$dynver"_*.deb "$x/u"
dpkg-deb -x "$out"/unbound-tapir-pop_"$tver"_*.deb "$x/t"
id=$(readelf -n "$x/u/usr/sbin/unbound" | awk '/Build ID:/ { print $3 }')
so=$(find "$x/t" -name tapir-pop.so)
grep -aq "$id" "$so" || {
	echo "build.sh: $so was not built for the daemon in the unbound package (build-id $id)" >&2
	exit 1
}
for page in man8/tapir-pop.8 man8/tapir-pop-control.8 man5/tapir-pop.yaml.5; do
	[ -f "$x/t/usr/share/man/$page.gz" ] || {
		echo "build.sh: the package lacks /usr/share/man/$page.gz" >&2
		exit 1
	}
done
dep=$(dpkg-deb -f "$out"/unbound-tapir-pop_"$tver"_*.deb Depends)
echo "$dep" | grep -q "unbound (= $dynver)" ||
	{ echo "build.sh: wrong dependency: $dep" >&2; exit 1; }
rm -rf "$x"

echo "build.sh: lintian"
lintian -EvIL +pedantic --fail-on error "$out"/unbound-tapir-pop_"$tver"_*.deb
echo "build.sh: unbound $dynver (build-id $id) and unbound-tapir-pop $tver in $out:"
ls -1 "$out"/*.deb
