#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Build an Unbound with --with-dynlibmodule, installed into a private
# prefix: by default Debian's own (the source package with Debian's patches
# and configure flags), or with --upstream an upstream release tarball
# configured with the same flags (the Unbound other distributions ship).
# The module is compiled against exactly this configured tree: struct
# layouts are the ABI and nothing in Unbound checks them at run time.
#
# Usage: build-unbound.sh [DIR]                (default: ./_unbound)
#        build-unbound.sh --upstream VERSION [--tarball PATH] [DIR]
#                 (default DIR ./_unbound-VERSION, default tarball
#                  unbound-VERSION.tar.gz in $UNBOUND_TARBALL_DIR, by
#                  default the current directory)
#        build-unbound.sh --deb-src-only
#                 (only add the deb-src twins of Debian's archive entries
#                  under $APT_ETC, default /etc/apt; no apt-get update)
# Result: DIR/src (configured tree with the built unbound and
# unbound-control in it), DIR/prefix/sbin/unbound, DIR/build-id.
# Reused when DIR/prefix/sbin/unbound exists and DIR/stamp matches.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
APT_ETC=${APT_ETC:-/etc/apt}
# Written by this script only; never the operator's own source files.
SRC_SOURCES=tapir-pop-deb-src.sources
SRC_LIST=tapir-pop-deb-src.list

usage() {
	echo "usage: $0 [DIR] | --upstream VERSION [--tarball PATH] [DIR]" \
		"| --deb-src-only" >&2
	exit 2
}

# deb_src_twins OUT_SOURCES OUT_LIST FILE...: the deb-src twins of the
# Debian archive's "deb" entries in FILE... (one-line .list files and deb822
# .sources files, told apart by name) that no deb-src entry in those files
# already covers, per URI, suite and component. Twins of deb822 stanzas go
# to OUT_SOURCES as stanzas (their other fields, Signed-By included, kept),
# twins of one-line entries to OUT_LIST as one-line entries (their options
# kept); a file gets nothing written when it has nothing to hold. Only
# hosts under debian.org count: third-party repositories may have no source
# packages, or none we want.
deb_src_twins() {
	out_sources=$1 out_list=$2
	shift 2
	awk -v out_sources="$out_sources" -v out_list="$out_list" '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
	function normuri(u) { sub(/\/+$/, "", u); return u }
	function debian(u) {
		return u ~ /^[a-z+]+:\/\/([^\/@]*\.)?debian\.org(:[0-9]+)?(\/|$)/
	}
	# Record the tuples an entry covers: type (deb, deb-src), URI, suite,
	# component ("" for a flat repository, which has none).
	function cover(t, u, s, c,   n, i, comp) {
		n = split(c, comp, " ")
		if (n == 0) { have[t, normuri(u), s, ""] = 1; return }
		for (i = 1; i <= n; i++)
			have[t, normuri(u), s, comp[i]] = 1
	}
	# End of a deb822 stanza: register it (Enabled: no counts for nothing).
	function stanza_end(   nt, nu, ns, i, j, k, types, uris, suites) {
		if (nlines > 0 && tolower(field["enabled"]) != "no") {
			nt = split(field["types"], types, " ")
			nu = split(field["uris"], uris, " ")
			ns = split(field["suites"], suites, " ")
			for (i = 1; i <= nt; i++)
				for (j = 1; j <= nu; j++)
					for (k = 1; k <= ns; k++)
						cover(types[i], uris[j], suites[k],
						    field["components"])
			if ((" " field["types"] " ") ~ / deb /) {
				nst++
				st_lines[nst] = nlines
				for (i = 1; i <= nlines; i++) {
					st_line[nst, i] = line[i]
					st_key[nst, i] = key[i]
				}
				st_uris[nst] = field["uris"]
				st_suites[nst] = field["suites"]
				st_comps[nst] = field["components"]
			}
		}
		nlines = 0
		cur = ""
		split("", field)
	}
	FNR == 1 {
		if (deb822) stanza_end()
		deb822 = FILENAME ~ /\.sources$/
	}
	deb822 {
		if ($0 ~ /^[ \t]*$/) { stanza_end(); next }
		nlines++
		line[nlines] = $0
		if ($0 ~ /^#/) { key[nlines] = "#"; next }
		if ($0 ~ /^[ \t]/) {	# continuation of the field above
			key[nlines] = "+"
			if (cur != "") field[cur] = field[cur] " " trim($0)
			next
		}
		cur = tolower($0)
		sub(/:.*/, "", cur)
		key[nlines] = cur
		v = $0
		sub(/^[^:]*:/, "", v)
		field[cur] = trim(v)
		next
	}
	{	# one-line format: type [options] uri suite [component...]
		l = $0
		sub(/#.*/, "", l)
		l = trim(l)
		t = l
		sub(/[ \t].*/, "", t)
		if (t != "deb" && t != "deb-src") next
		rest = trim(substr(l, length(t) + 1))
		opts = ""
		if (rest ~ /^\[/) {
			opts = rest
			sub(/\].*/, "]", opts)
			rest = trim(substr(rest, length(opts) + 1))
		}
		n = split(rest, w, /[ \t]+/)
		if (n < 2) next
		c = ""
		for (i = 3; i <= n; i++) c = c (c == "" ? "" : " ") w[i]
		cover(t, w[1], w[2], c)
		if (t == "deb") {
			nol++
			ol_opts[nol] = opts
			ol_uri[nol] = w[1]
			ol_suite[nol] = w[2]
			ol_comps[nol] = c
		}
	}
	# The components of uri/suite that neither have a deb-src nor got a
	# twin already, in order; "-" for a flat repository that needs one.
	function missing(u, s, c,   n, i, comp, out) {
		u = normuri(u)
		n = split(c, comp, " ")
		if (n == 0) {
			if (have["deb-src", u, s, ""] || done[u, s, ""]) return ""
			done[u, s, ""] = 1
			return "-"
		}
		out = ""
		for (i = 1; i <= n; i++)
			if (!have["deb-src", u, s, comp[i]] && !done[u, s, comp[i]]) {
				done[u, s, comp[i]] = 1
				out = out (out == "" ? "" : " ") comp[i]
			}
		return out
	}
	END {
		if (deb822) stanza_end()
		for (i = 1; i <= nst; i++) {
			nu = split(st_uris[i], uris, " ")
			ns = split(st_suites[i], suites, " ")
			for (j = 1; j <= nu; j++) {
				if (!debian(uris[j])) continue
				# Suites missing the same components share a stanza.
				ng = 0
				for (k = 1; k <= ns; k++) {
					m = missing(uris[j], suites[k], st_comps[i])
					if (m == "") continue
					for (g = 1; g <= ng && gm[g] != m; g++) ;
					if (g > ng) { ng++; gm[g] = m; gs[g] = "" }
					gs[g] = gs[g] (gs[g] == "" ? "" : " ") suites[k]
				}
				for (g = 1; g <= ng; g++) {
					if (stanzas++) print "" > out_sources
					# Fields rewritten here drop their continuation
					# lines; every other line is copied as it is.
					last = ""
					for (l = 1; l <= st_lines[i]; l++) {
						kk = st_key[i, l]
						if (kk != "+" && kk != "#") last = kk
						if (last == "types" || last == "uris" ||
						    last == "suites" || last == "components") {
							if (kk == "+") continue
						}
						if (kk == "types")
							print "Types: deb-src" > out_sources
						else if (kk == "uris")
							print "URIs: " uris[j] > out_sources
						else if (kk == "suites")
							print "Suites: " gs[g] > out_sources
						else if (kk == "components") {
							if (gm[g] != "-")
								print "Components: " gm[g] > out_sources
						} else
							print st_line[i, l] > out_sources
					}
				}
			}
		}
		for (i = 1; i <= nol; i++) {
			if (!debian(ol_uri[i])) continue
			m = missing(ol_uri[i], ol_suite[i], ol_comps[i])
			if (m == "") continue
			printf "deb-src %s%s %s%s\n", ol_opts[i] == "" ? "" : ol_opts[i] " ",
			    ol_uri[i], ol_suite[i], m == "-" ? "" : " " m > out_list
		}
	}' "$@"
}

# enable_deb_src: bring our two files of deb-src twins under $APT_ETC up to
# date, written anew from the other files each time (a rerun adds nothing
# twice, and drops a twin once the operator has a deb-src entry of their
# own for it), removed when they would hold nothing. Sets deb_src_changed
# when a file changed.
enable_deb_src() {
	d=$APT_ETC/sources.list.d
	tmp=$(mktemp -d)
	set --
	for f in "$APT_ETC/sources.list" "$d"/*.list "$d"/*.sources; do
		[ -f "$f" ] || continue
		case ${f##*/} in "$SRC_SOURCES" | "$SRC_LIST") continue ;; esac
		set -- "$@" "$f"
	done
	deb_src_changed=""
	if [ $# -gt 0 ]; then
		deb_src_twins "$tmp/sources" "$tmp/list" "$@"
	fi
	for f in "$SRC_SOURCES:sources" "$SRC_LIST:list"; do
		out=$d/${f%:*}
		new=$tmp/${f#*:}
		if [ ! -s "$new" ]; then
			if [ -f "$out" ]; then
				rm -f "$out"
				echo "build-unbound: removed $out (nothing to add)"
				deb_src_changed=1
			fi
			continue
		fi
		{
			echo "# Written by unbound-tapir-pop scripts/build-unbound.sh:"
			echo "# deb-src twins of Debian's entries, for apt-get source."
			cat "$new"
		} >"$new.full"
		if ! cmp -s "$new.full" "$out"; then
			mkdir -p "$d"
			cp "$new.full" "$out"
			chmod 644 "$out"
			echo "build-unbound: wrote $out"
			deb_src_changed=1
		fi
	done
	rm -rf "$tmp"
}

# apt's deb-src entries for Debian's archive and their package lists, once.
debian_sources() {
	[ -z "${sources_ready:-}" ] || return 0
	enable_deb_src
	if [ -n "$deb_src_changed" ] ||
		[ -z "$(apt-cache showsrc unbound 2>/dev/null)" ]; then
		apt-get update -qq
	fi
	sources_ready=1
}

# Debian's build dependencies of unbound (they serve the upstream releases
# too), installed when one that our configure flags need is missing. Only
# names from unbound's Build-Depends: a name build-dep never installs (such
# as libfstrm-dev: dnstap uses Unbound's own Frame Streams code) would send
# every run to apt-get.
build_deps() {
	need_dep=0
	for p in libevent-dev libexpat1-dev libnghttp2-dev libsystemd-dev \
		libprotobuf-c-dev protobuf-c-compiler libssl-dev bison flex \
		pkg-config; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || need_dep=1
	done
	if [ "$need_dep" = 1 ]; then
		debian_sources
		apt-get build-dep -y -qq unbound
	fi
}

upstream=""
tarball=""
dir=""
while [ $# -gt 0 ]; do
	case $1 in
	--upstream)
		[ $# -ge 2 ] || usage
		upstream=$2
		shift 2
		;;
	--tarball)
		[ $# -ge 2 ] || usage
		tarball=$2
		shift 2
		;;
	--deb-src-only)
		enable_deb_src
		for f in "$APT_ETC/sources.list.d/$SRC_SOURCES" \
			"$APT_ETC/sources.list.d/$SRC_LIST"; do
			[ -f "$f" ] && echo "build-unbound: $f" && cat "$f"
		done
		exit 0
		;;
	-*) usage ;;
	*)
		[ -z "$dir" ] || usage
		dir=$1
		shift
		;;
	esac
done
if [ -n "$tarball" ] && [ -z "$upstream" ]; then
	# The version from the release's own name, unbound-VERSION.tar.gz.
	upstream=$(basename "$tarball" | sed -n 's/^unbound-\(.*\)\.tar\.gz$/\1/p')
	[ -n "$upstream" ] || {
		echo "build-unbound: cannot tell the version of $tarball;" \
			"give --upstream VERSION" >&2
		exit 2
	}
fi

export DEBIAN_FRONTEND=noninteractive
if [ -n "$upstream" ]; then
	tarball=${tarball:-${UNBOUND_TARBALL_DIR:-.}/unbound-$upstream.tar.gz}
	if [ ! -f "$tarball" ]; then
		echo "build-unbound: no release tarball $tarball for Unbound" \
			"$upstream (give its path with --tarball PATH, or its" \
			"directory in UNBOUND_TARBALL_DIR)" >&2
		exit 1
	fi
	tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
	dir=${dir:-$top/_unbound-$upstream}
	# A different tarball under the same version is a different build.
	stamp="unbound-dynlib-v1 upstream $upstream $(sha256sum <"$tarball" |
		cut -d ' ' -f 1)"
else
	dir=${dir:-$top/_unbound}
	stamp="unbound-dynlib-v1"
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

if [ -x "$dir/prefix/sbin/unbound" ] && [ -f "$dir/stamp" ] &&
	[ "$(cat "$dir/stamp")" = "$stamp" ]; then
	echo "build-unbound: reusing $dir/prefix/sbin/unbound"
	exit 0
fi

build_deps
rm -rf "$dir/src" "$dir/prefix" "$dir/dl" "$dir/stamp" "$dir/build-id"
mkdir -p "$dir/dl"
if [ -n "$upstream" ]; then
	tar -xzf "$tarball" -C "$dir/dl"
else
	debian_sources
	(cd "$dir/dl" && apt-get source -qq unbound)
fi
srcdir=$(find "$dir/dl" -maxdepth 1 -type d -name 'unbound-*' | head -n 1)
if [ -z "$srcdir" ] || [ ! -x "$srcdir/configure" ]; then
	echo "build-unbound: no unbound-*/configure in what was unpacked" >&2
	exit 1
fi
mv "$srcdir" "$dir/src"
rm -rf "$dir/dl"

# Debian's flags (debian/rules of bookworm's 1.17.1, the daemon build) and
# Debian's hardening build flags, plus dynlib and our prefix. The Python
# module is left out: it changes no struct the module sees and would pull in
# swig and python3-dev. PATH is pinned so a non-system python cannot leak in.
# A flag the release's configure does not list is left out rather than
# passed on (configure would only warn about it, and the build would quietly
# differ from what the flag list claims).
cd "$dir/src"
help=$(./configure --help)
set --
for flag in \
	--with-dynlibmodule \
	--enable-subnet \
	--enable-dnstap \
	--enable-systemd \
	--with-libnghttp2 \
	--with-chroot-dir= \
	--with-dnstap-socket-path=/run/dnstap.sock \
	--disable-rpath \
	--with-pidfile="$dir/prefix/unbound.pid" \
	--with-libevent \
	--enable-tfo-client \
	--with-rootkey-file=/usr/share/dns/root.key \
	--enable-tfo-server; do
	name=${flag%%=*}
	name=${name#--}
	name=${name#*-}
	if echo "$help" | grep -Eq -- "--(enable|disable|with|without)-$name([=[ ]|\$)"; then
		set -- "$@" "$flag"
	else
		echo "build-unbound: Unbound ${upstream:-(Debian)} has no $flag;" \
			"left out"
	fi
done
eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
PATH=/usr/sbin:/usr/bin:/sbin:/bin ./configure --prefix="$dir/prefix" "$@" \
	>"$dir/configure.log" 2>&1 || {
	tail -n 30 "$dir/configure.log"
	exit 1
}
if [ -n "$upstream" ]; then
	got=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' config.h)
	[ "$got" = "$upstream" ] || {
		echo "build-unbound: $tarball is Unbound $got, not $upstream" >&2
		exit 1
	}
fi
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
