#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Build Debian's own Unbound (the source package with Debian's patches and
# configure flags) plus --with-dynlibmodule, installed into a private prefix.
# The module is compiled against exactly this configured tree: struct layouts
# are the ABI and nothing in Unbound checks them at run time.
#
# Usage: build-unbound.sh [DIR]   (default: ./_unbound)
# Result: DIR/src (configured tree), DIR/prefix/sbin/unbound, DIR/build-id.
# Reused when DIR/prefix/sbin/unbound exists and DIR/stamp matches.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/_unbound}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
stamp="unbound-dynlib-v1"

if [ -x "$dir/prefix/sbin/unbound" ] && [ -f "$dir/stamp" ] &&
	[ "$(cat "$dir/stamp")" = "$stamp" ]; then
	echo "build-unbound: reusing $dir/prefix/sbin/unbound"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
srcs=/etc/apt/sources.list.d/debian.sources
if ! grep -Rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
	! grep -Rqs '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	echo "build-unbound: enabling deb-src entries"
	sed 's/^Types: deb$/Types: deb-src/' "$srcs" \
		>/etc/apt/sources.list.d/debian-src.sources
	apt-get update -qq
fi
need_dep=0
for p in libevent-dev libexpat1-dev libnghttp2-dev libsystemd-dev \
	libprotobuf-c-dev libfstrm-dev protobuf-c-compiler bison flex; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed" || need_dep=1
done
if [ "$need_dep" = 1 ]; then
	apt-get update -qq
	apt-get build-dep -y -qq unbound
fi

rm -rf "$dir/src" "$dir/prefix" "$dir/dl"
mkdir -p "$dir/dl"
(cd "$dir/dl" && apt-get source -qq unbound)
srcdir=$(find "$dir/dl" -maxdepth 1 -type d -name 'unbound-*' | head -n 1)
mv "$srcdir" "$dir/src"
rm -rf "$dir/dl"

# Debian's flags (debian/rules of bookworm's 1.17.1, the daemon build) and
# Debian's hardening build flags, plus dynlib and our prefix. The Python
# module is left out: it changes no struct the module sees and would pull in
# swig and python3-dev. PATH is pinned so a non-system python cannot leak in.
cd "$dir/src"
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
PATH=/usr/sbin:/usr/bin:/sbin:/bin ./configure \
	--prefix="$dir/prefix" \
	--with-dynlibmodule \
	--enable-subnet \
	--enable-dnstap \
	--enable-systemd \
	--with-libnghttp2 \
	--with-chroot-dir="" \
	--with-dnstap-socket-path=/run/dnstap.sock \
	--disable-rpath \
	--with-pidfile="$dir/prefix/unbound.pid" \
	--with-libevent \
	--enable-tfo-client \
	--with-rootkey-file=/usr/share/dns/root.key \
	--enable-tfo-server \
	>"$dir/configure.log" 2>&1 || {
	tail -n 30 "$dir/configure.log"
	exit 1
}
make -j"$(nproc)" >"$dir/make.log" 2>&1 || {
	tail -n 30 "$dir/make.log"
	exit 1
}
make install >"$dir/install.log" 2>&1
readelf -n "$dir/prefix/sbin/unbound" |
	awk '/Build ID:/ { print $3 }' >"$dir/build-id"
echo "$stamp" >"$dir/stamp"
echo "build-unbound: built $("$dir/prefix/sbin/unbound" -V | head -n 1)" \
	"build-id $(cat "$dir/build-id")"
