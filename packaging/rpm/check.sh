#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# What can be checked of the RPM packaging on Debian: the spec parses, a
# source RPM builds from the release tarball (rpmbuild -bs), and rpmlint
# finds nothing beyond the filters in unbound-tapir-pop.rpmlintrc.
# Source1, the distribution's unbound source RPM, cannot be downloaded
# here: a placeholder file stands in for it, so the binary build is not
# tried (packaging/rpm/README.md says what is untested).
#
# Usage: sh packaging/rpm/check.sh TARBALL   (what `make dist` made)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(mktemp -d "${TMPDIR:-/tmp}/tapir-rpm.XXXXXX")
trap 'rm -rf "$top"' EXIT
spec=$here/unbound-tapir-pop.spec

mkdir -p "$top/SOURCES"
cp "$tarball" "$here"/build-unbound-tree.sh "$here"/tapir-pop.conf \
	"$here"/enable.conf.in "$here"/README.md "$top/SOURCES/"
src1=$(rpmspec -P --define "_topdir $top" "$spec" |
	sed -n 's/^Source1: *//p')
echo "placeholder for the distribution's source RPM, not an RPM" \
	>"$top/SOURCES/$src1"

echo "rpmspec -q: $(rpmspec -q --srpm --define "_topdir $top" "$spec")"
rpmbuild -bs --nodeps --define "_topdir $top" "$spec"
srpm=$(ls "$top"/SRPMS/*.src.rpm)
rpmlint -r "$here/unbound-tapir-pop.rpmlintrc" "$spec" "$srpm"
