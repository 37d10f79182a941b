#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# build-unbound-tree.sh WORKDIR EVR DAEMON [-- RPM_ARGS...]
#
# Rebuilds the distribution's own unbound package from its source RPM,
# unpacked in WORKDIR/SOURCES, with its own spec file (its patches, its
# configure flags, its build flags), and leaves a configured, built unbound
# tree whose daemon has the GNU build-id of the installed one. Writes the
# tree's path to WORKDIR/tree. Exits 1, with the reason on stderr, whenever
# that cannot be guaranteed: tapir-pop.so built against any other tree
# refuses to load, and a module that refuses to load stops Unbound.
#
#   WORKDIR   private directory; WORKDIR/SOURCES holds the unpacked source
#             RPM (rpm2cpio unbound-EVR.src.rpm | cpio -idm)
#   EVR       the unbound package the module is for, e.g. 1.24.2-1.fc43:
#             the spec, as parsed here with RPM_ARGS, must produce it
#   DAEMON    the daemon's path as packaged: %{_sbindir}/unbound
#   RPM_ARGS  given to rpmspec and rpmbuild: --target, --define "dist ..."
#
# Environment:
#   UNBOUND_BUILDDIR  rpmbuild's _builddir for unbound (default
#       WORKDIR/BUILD). The spec passes %{_topdir}/BUILD, so that unbound
#       is built in the very directory the distribution's build system used
#       (mock/Koji: /builddir/build/BUILD/unbound-VERSION...).
#   UNBOUND_INSTALLED_ROOT  where the installed unbound package is
#       (default /); only a test on a system without rpmdb changes it.
#   UNBOUND_RPMBUILD_NODEPS=1  rpmbuild --nodeps; only for that test.
#
# Why `rpmbuild -bi`, not `-bc`: in %install, rpm's find-debuginfo runs
# debugedit, which rewrites the build paths in the debug information and
# recomputes the GNU build-id, seeded with %{VERSION}-%{RELEASE}
# (%_unique_build_ids). The daemon in the build tree therefore never has
# the packaged daemon's build-id; the daemon in the buildroot, after the
# same %install processing as in the distribution's build, can.

set -eu

die() {
	echo "build-unbound-tree: error: $*" >&2
	exit 1
}

build_id() {
	readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'
}

[ $# -ge 3 ] || die "usage: $0 WORKDIR EVR DAEMON [-- RPM_ARGS...]"
work=$(cd "$1" && pwd) || die "no directory $1"
evr=$2
daemon=$3
shift 3
if [ "${1:-}" = -- ]; then
	shift
fi
builddir=${UNBOUND_BUILDDIR:-$work/BUILD}
installed=$(echo "${UNBOUND_INSTALLED_ROOT:-/}/$daemon" | sed 's|//*|/|g')
nodeps=""
[ "${UNBOUND_RPMBUILD_NODEPS:-0}" = 1 ] && nodeps=--nodeps

# The spec of the source RPM, exactly one.
n=$(find "$work/SOURCES" -maxdepth 1 -name '*.spec' | wc -l)
[ "$n" -eq 1 ] ||
	die "$n spec files in $work/SOURCES, want 1 (is Source1 the unbound source RPM?)"
spec=$(find "$work/SOURCES" -maxdepth 1 -name '*.spec')

# Parsed here, does it give the installed package's EVR? Another %{dist}
# gives another release, hence another build-id seed: say so now, not
# after the build.
out=$(rpmspec -q --srpm --qf '%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}\n' \
	"$@" "$spec") || die "rpmspec cannot parse $spec"
out=$(echo "$out" | head -n 1)
[ "$out" = "unbound $evr" ] ||
	die "$spec, parsed here, is \"$out\", not \"unbound $evr\" (wrong Source1, or another %{dist}?)"

# The installed daemon: present, with dynlib, with a build-id.
[ -x "$installed" ] || die "$installed is missing: unbound = $evr must be installed"
"$installed" -V 2>/dev/null | grep '^Linked modules:' | grep -qw dynlib ||
	die "$installed was built without --with-dynlibmodule: no module can load into it"
want=$(build_id "$installed")
[ -n "$want" ] || die "cannot read the GNU build-id of $installed"

# The build, in a clean environment: CFLAGS and LDFLAGS exported by the
# outer rpmbuild (with a package note naming the outer package),
# SOURCE_DATE_EPOCH taken from the outer changelog, RPM_* must not reach
# unbound's build, which sets its own, as the distribution's build did.
# --nocheck: unbound's test suite is not what is verified here. Not
# --nodebuginfo: see above.
mkdir -p "$builddir"
stamp="$work/build.stamp"
: >"$stamp"
echo "build-unbound-tree: rebuilding $out in $builddir (log: $work/rpmbuild.log)"
env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME="${HOME:-/root}" \
	LANG="${LANG:-C.UTF-8}" ${TZ:+TZ="$TZ"} ${TMPDIR:+TMPDIR="$TMPDIR"} \
	rpmbuild -bi --nocheck $nodeps \
	--define "_topdir $work" \
	--define "_sourcedir $work/SOURCES" \
	--define "_specdir $work/SOURCES" \
	--define "_builddir $builddir" \
	--define "_rpmdir $work/RPMS" \
	--define "_srcrpmdir $work/SRPMS" \
	--buildroot "$work/BUILDROOT" \
	"$@" "$spec" >"$work/rpmbuild.log" 2>&1 || {
	tail -n 40 "$work/rpmbuild.log" >&2
	die "rpmbuild -bi of $spec failed (full log: $work/rpmbuild.log)"
}

built="$work/BUILDROOT$daemon"
[ -f "$built" ] || die "the rebuilt package has no $daemon"
have=$(build_id "$built")

# The configured tree: config.h, the dynlib header and the daemon in one
# directory (the distribution configures and builds in the source tree),
# built just now; the shallowest one is the primary build.
tree=""
for u in $(find "$builddir" -name unbound -type f -newer "$stamp" |
	awk '{ print length($0), $0 }' | sort -n | cut -d' ' -f2-); do
	d=$(dirname "$u")
	if [ -f "$d/config.h" ] && [ -f "$d/dynlibmod/dynlibmod.h" ]; then
		tree=$d
		break
	fi
done
[ -n "$tree" ] ||
	die "no configured unbound tree (config.h, dynlibmod/, unbound) built under $builddir"
grep -q '^#define WITH_DYNLIBMODULE' "$tree/config.h" ||
	die "$tree was not configured --with-dynlibmodule"

echo "build-unbound-tree: installed $installed: build-id $want"
echo "build-unbound-tree: rebuilt   $built: build-id $have"
echo "build-unbound-tree: as linked $tree/unbound: build-id $(build_id "$tree/unbound")"
if [ "$have" != "$want" ]; then
	cat >&2 <<EOF
build-unbound-tree: error: the rebuilt unbound $evr is not the installed one:
  installed $installed: build-id $want
  rebuilt   $built: build-id $have
A module compiled against this tree would refuse to load into the installed
daemon, and a module that refuses to load stops Unbound: not building it.
The distribution's build is reproduced only with the toolchain it was made
with: build in a buildroot holding the packages of unbound-$evr's own
buildroot (koji buildinfo / koji list-buildroot); see README.md in
packaging/rpm.
EOF
	exit 1
fi

# The tree's daemon as packaged: configure --with-unbound-src records the
# build-id of TREE/unbound.
mv "$tree/unbound" "$tree/unbound.as-linked"
cp -p "$built" "$tree/unbound"
echo "$tree" >"$work/tree"
echo "build-unbound-tree: $tree matches the installed unbound $evr"
