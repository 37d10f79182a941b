#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The Debian packages of packaging/debian/build.sh, as an operator meets
# them: installed with apt into a fresh Debian 12 root (debootstrap), Unbound
# started the way Debian's systemd unit starts it (tmpfiles, unbound-helper,
# `unbound -d -p`, privileges dropped to user unbound, Debian's unbound.conf
# with its conf.d and the Unix control socket), the module enabled as the
# README says, a signed observation blocked, tapir-pop-control run by a
# member of group unbound, decisions kept across a restart and a reload,
# then an upgrade, a remove and a purge, each followed by Unbound answering.
#
# Usage: sh tests/package/install-test.sh [DIST] [BUILD]
#   DIST: the .deb files (default dist/); BUILD: a configured build
#   directory with tools/tapir-pop-sign, which plays the DNS TAPIR core
#   (default _build-ci). Run as root. The mosquitto broker and the Knot
#   server of the test root zone run outside the root, on 127.0.0.1, like
#   the remote ones they stand for; everything listens on 127.0.0.1 only.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
dist=$(cd "${1:-$top/dist}" && pwd)
build=$(cd "${2:-$top/_build-ci}" && pwd)

# Mounts for the root (/proc, /dev) live in a mount namespace of their own,
# so they go away with the test whatever way it ends.
if [ -z "${TAPIR_PKGTEST_NS:-}" ]; then
	TAPIR_PKGTEST_NS=1 exec unshare -m --propagation private \
		sh "$0" "$dist" "$build"
fi

top_srcdir=$top top_builddir=$build UNBOUND_SRC=/nonexistent
export top_srcdir top_builddir UNBOUND_SRC
. "$top/tests/integration/lib.sh"

R=$T/root
# Unmount before lib.sh's cleanup removes $T: rm -rf must never walk into
# a mounted /proc.
pkg_cleanup() {
	rc=$?
	set +e
	[ -z "${UNIT_PID:-}" ] || kill "$UNIT_PID" 2>/dev/null
	umount "$R/proc" 2>/dev/null || true
	(exit "$rc")
	cleanup
}
trap pkg_cleanup EXIT
step() {
	echo
	echo "== $*"
}
in_root() {
	chroot "$R" "$@"
}

# --- A fresh Debian 12 ------------------------------------------------------
step "debootstrap bookworm into $R"
mirror=$(sed -n 's|^URIs: *\(http[^ ]*/debian\)/*$|\1|p; s|^deb  *\(http[^ ]*/debian\)/* .*|\1|p' \
	/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
	head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
# TAPIR_PKGTEST_CACHE=FILE keeps the fresh root as a tarball for the next
# run (for developers; CI starts from debootstrap every time).
cache=${TAPIR_PKGTEST_CACHE:-}
if [ -n "$cache" ] && [ -f "$cache" ]; then
	mkdir -p "$R"
	tar -C "$R" -xzf "$cache"
else
	debootstrap --variant=minbase --include=systemd,apparmor,passwd \
		bookworm "$R" "$mirror" >"$T/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$T/debootstrap.log"; fail "debootstrap"; }
	[ -z "$cache" ] || tar -C "$R" -czf "$cache" .
fi
# The host's Debian sources (security updates included), so the root gets
# the library versions the packages were built against.
rm -f "$R/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
	/etc/apt/sources.list.d/*.list; do
	[ -f "$f" ] || continue
	grep -qs 'debian' "$f" && cp "$f" "$R$f"
done
sed -i '/^deb-src/d; s/^Types:.*deb-src.*/Types: deb/' \
	"$R"/etc/apt/sources.list* "$R"/etc/apt/sources.list.d/* 2>/dev/null || true
cp /etc/resolv.conf "$R/etc/resolv.conf"
# As in a container image: maintainer scripts must not start daemons here;
# the test starts Unbound itself, as systemd would.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
# debootstrap made the device nodes; /proc is the one mount needed.
mount -t proc proc "$R/proc"
in_root apt-get update -qq
ok "Debian 12 root at $R"

# --- Install ----------------------------------------------------------------
step "apt install the two packages"
mkdir -p "$R/tmp/debs"
cp "$dist"/unbound_*.deb "$dist"/unbound-tapir-pop_*.deb "$R/tmp/debs/"
DEBIAN_FRONTEND=noninteractive in_root sh -c 'apt-get install -y -q \
	/tmp/debs/unbound_*.deb /tmp/debs/unbound-tapir-pop_*.deb' \
	>"$T/apt-install.log" 2>&1 || { tail -n 30 "$T/apt-install.log"; fail "apt install"; }
grep -E '^(Setting up|Unpacking) (unbound|unbound-tapir-pop) ' "$T/apt-install.log"
in_root dpkg -l unbound unbound-tapir-pop | tail -n 2
in_root /usr/sbin/unbound -V | grep -q dynlib || fail "installed unbound has no dynlib"
ok "installed; unbound has dynlib"

dep=$(in_root dpkg-query -W -f='${Depends}' unbound-tapir-pop)
uver=$(in_root dpkg-query -W -f='${Version}' unbound)
echo "$dep" | grep -qF "unbound (= $uver)" || fail "Depends: $dep"
ok "unbound-tapir-pop depends on exactly unbound $uver"

# What install leaves, before the operator does anything.
# (stat in the root: the names of its users, not the host's)
sd=$(in_root stat -c '%U:%G %a' /var/lib/unbound/tapir-pop)
[ "$sd" = "unbound:unbound 750" ] || fail "state dir: $sd"
grep -q '^  log-only: yes$' "$R/etc/unbound/tapir-pop.yaml" ||
	fail "tapir-pop.yaml does not start in log-only"
grep -q '^#include-toplevel:' "$R/etc/unbound/unbound.conf.d/tapir-pop.conf" ||
	fail "the unbound.conf.d snippet is not disabled"
stock_chain=$(in_root unbound-checkconf -o module-config)
case "$stock_chain" in
*dynlib*) fail "module-config changed by install: $stock_chain" ;;
esac
ok "state dir unbound:unbound 750, tapir-pop.yaml in log-only, snippet disabled, module-config untouched"

# Debian's AppArmor profile with our addition still parses, and has it.
in_root apparmor_parser -Q -K -T /etc/apparmor.d/usr.sbin.unbound ||
	fail "AppArmor profile does not parse"
in_root apparmor_parser -p /etc/apparmor.d/usr.sbin.unbound 2>/dev/null |
	grep -q '/run/unbound/tapir-pop.sock' || fail "AppArmor addition not included"
ok "AppArmor profile parses with the tapir-pop addition"

# --- Unbound as Debian's unit starts it -------------------------------------
start_mosquitto
start_knot
UNBOUND_PORT=$(free_port)
# The site's own settings, as an operator keeps them in conf.d: a port of
# its own, the test root, and logs on stderr (no syslog in the root). The
# test root is unsigned: no root trust anchor, "." insecure.
rm "$R/etc/unbound/unbound.conf.d/root-auto-trust-anchor-file.conf"
cat >"$R/etc/unbound/unbound.conf.d/zz-site.conf" <<EOC
server:
    interface: 127.0.0.1
    port: $UNBOUND_PORT
    do-not-query-localhost: no
    domain-insecure: "."
    use-syslog: no
    verbosity: 1
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@$KNOT_PORT
EOC

UNBOUND_LOG=$T/unbound.log
: >"$UNBOUND_LOG"
# ExecStartPre= and ExecStart= of Debian's unbound.service; /run starts
# empty at boot, where systemd-tmpfiles runs first.
start_unit() {
	rm -rf "$R/run/unbound" "$R/run/unbound.ctl"
	in_root systemd-tmpfiles --create unbound-tapir-pop.conf 2>/dev/null || true
	in_root /usr/libexec/unbound-helper chroot_setup || true
	in_root /usr/libexec/unbound-helper root_trust_anchor_update >/dev/null || true
	chroot "$R" /usr/sbin/unbound -d -p >>"$UNBOUND_LOG" 2>&1 &
	UNIT_PID=$!
	PIDS="$PIDS $UNIT_PID"
	wait_until 20 is_rcode up.example NOERROR ||
		{ tail -n 20 "$UNBOUND_LOG"; fail "unbound does not answer"; }
}
stop_unit() {
	kill "$UNIT_PID"
	wait "$UNIT_PID" 2>/dev/null || true
}
restart_unit() {
	stop_unit
	start_unit
}
# root_status: tapir-pop-control status in the root, as root; the output
# in $T/status.out, the exit code in rc.
root_status() {
	set +e
	in_root tapir-pop-control status >"$T/status.out" 2>&1
	rc=$?
	set -e
}
root_connected() {
	in_root tapir-pop-control status 2>/dev/null | grep -q '^mqtt: connected'
}
root_decided() {
	in_root tapir-pop-control lookup "$1" 2>/dev/null | grep -q "^action: $2\$"
}
module_loads() {
	grep -c 'tapir-pop .*: loaded for Unbound' "$UNBOUND_LOG" || true
}

step "Unbound as installed, module not enabled"
start_unit
[ "$(rcode blocked-before.example)" = NOERROR ] || fail "stock answer"
[ "$(module_loads)" = 0 ] || fail "module loaded before being enabled"
ok "unbound answers, no module loaded"

step "enable as the README says; no enrolment files yet"
in_root sed -i 's/^#include-toplevel:/include-toplevel:/' \
	/etc/unbound/unbound.conf.d/tapir-pop.conf
restart_unit
[ "$(module_loads)" = 1 ] || fail "module not loaded"
[ "$(in_root unbound-checkconf -o module-config)" = "dynlib $stock_chain" ] ||
	fail "module-config once enabled: $(in_root unbound-checkconf -o module-config)"
is_rcode up.example NOERROR || fail "unbound does not answer with the module"
root_status
cat "$T/status.out"
[ "$rc" != 0 ] || fail "status exits 0 with no keys file"
grep -q 'validation-keys.json' "$T/status.out" || fail "status does not name the keys file"
ok "unbound answers; status names the missing keys file, exit $rc"

step "a missing tapir-pop.yaml, then a state directory unbound cannot write"
mv "$R/etc/unbound/tapir-pop.yaml" "$R/etc/unbound/tapir-pop.yaml.away"
restart_unit
is_rcode up.example NOERROR || fail "unbound does not answer without tapir-pop.yaml"
root_status
cat "$T/status.out"
[ "$rc" = 1 ] && grep -q '^problem: configuration not loaded' "$T/status.out" ||
	fail "status without tapir-pop.yaml: exit $rc"
mv "$R/etc/unbound/tapir-pop.yaml.away" "$R/etc/unbound/tapir-pop.yaml"
in_root chown root:root /var/lib/unbound/tapir-pop
restart_unit
is_rcode up.example NOERROR || fail "unbound does not answer with a read-only state dir"
root_status
grep '^problem:' "$T/status.out"
[ "$rc" = 1 ] && grep -q '^problem: state-dir: ' "$T/status.out" ||
	fail "status with a read-only state dir: exit $rc: $(cat "$T/status.out")"
in_root chown unbound:unbound /var/lib/unbound/tapir-pop
ok "unbound answers in both cases; status says what is wrong, exit 1"

step "enrolment files and the broker, then restart"
mkdir -p "$R/etc/dnstapir/certs"
cp "$top/examples/keys/demo-keys.json" "$R/etc/dnstapir/certs/validation-keys.json"
in_root sed -i \
	-e "s|^  broker: .*|  broker: mqtt://127.0.0.1:$MQTT_PORT|" \
	-e 's/^  log-only: yes$/  log-only: no/' /etc/unbound/tapir-pop.yaml
in_root tapir-pop-control check >/dev/null || fail "tapir-pop-control check"
restart_unit
wait_until 15 root_connected || fail "module did not connect to the broker"
in_root tapir-pop-control status >"$T/status.out" 2>&1 ||
	{ cat "$T/status.out"; fail "status exits non-zero once enrolled"; }
cat "$T/status.out"
ok "module connected, status exit 0"

step "a signed observation is blocked"
publish_observe blocked.example 16   # likelymalware (bit 4)
wait_until 10 root_decided blocked.example NXDOMAIN || fail "no decision"
[ "$(rcode blocked.example)" = NXDOMAIN ] || fail "not blocked"
[ "$(rcode other.example)" = NOERROR ] || fail "an untouched name"
in_root tapir-pop-control lookup blocked.example
ok "blocked.example NXDOMAIN, other.example NOERROR"

step "tapir-pop-control by a member of group unbound, and by someone else"
in_root useradd -M -N -g users -G unbound tapirop
in_root useradd -M -N -g users outsider
as_user() {
	u=$1
	shift
	chroot --userspec="$(in_root id -u "$u"):$(in_root id -g "$u")" \
		--groups="$(in_root id -G "$u" | tr ' ' ',')" "$R" "$@"
}
as_user tapirop tapir-pop-control status >"$T/op.out" 2>&1 ||
	{ cat "$T/op.out"; fail "status as a member of group unbound"; }
grep -q '^mqtt: connected' "$T/op.out" || fail "status: $(cat "$T/op.out")"
set +e
as_user outsider tapir-pop-control status >"$T/outsider.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "a user outside group unbound got exit $rc"
ok "group unbound: status exit 0; others: exit 2 ($(head -n 1 "$T/outsider.out"))"

step "restart: decisions kept"
restart_unit
wait_until 15 root_connected || fail "not connected after restart"
[ "$(rcode blocked.example)" = NXDOMAIN ] || fail "decision lost in a restart"
ok "blocked.example still NXDOMAIN after a restart"

step "unbound-control reload: decisions kept"
loads=$(module_loads)
in_root unbound-control reload >/dev/null || fail "unbound-control reload"
wait_until 15 sh -c "[ \$(grep -c 'tapir-pop .*: loaded for Unbound' '$UNBOUND_LOG') -gt $loads ]" ||
	fail "module not loaded anew by the reload"
wait_until 15 root_connected || fail "not connected after reload"
[ "$(rcode blocked.example)" = NXDOMAIN ] || fail "decision lost in a reload"
ok "blocked.example still NXDOMAIN after a reload"

# --- apt never pairs the module with another unbound ------------------------
step "a Debian security update of unbound is held back"
# A stand-in for the next security update: Debian's own unbound package
# with a higher version, in a local repository.
mkdir -p "$R/tmp/repo"
in_root sh -c "cd /tmp/repo && apt-get download -q unbound=${uver%+dynlib1}" >/dev/null 2>&1 ||
	fail "apt-get download unbound"
next=$(echo "${uver%+dynlib1}" | awk -F'deb12u' '{ print $1 "deb12u" $2 + 1 }')
dpkg-deb -R "$R"/tmp/repo/unbound_*.deb "$T/next"
rm -f "$R"/tmp/repo/unbound_*.deb
sed -i "s/^Version: .*/Version: $next/" "$T/next/DEBIAN/control"
dpkg-deb -b "$T/next" "$R/tmp/repo/unbound_${next}_amd64.deb" >/dev/null
(cd "$R/tmp/repo" && dpkg-scanpackages . /dev/null 2>/dev/null >Packages)
echo 'deb [trusted=yes] file:/tmp/repo ./' >"$R/etc/apt/sources.list.d/next.list"
in_root apt-get update -qq
in_root apt-get -s upgrade >"$T/upgrade.out" 2>&1
sed -n '/kept back/,/^[0-9]/p' "$T/upgrade.out"
grep -A1 'kept back' "$T/upgrade.out" | grep -qw unbound ||
	fail "apt upgrade would install unbound $next under the module: $(cat "$T/upgrade.out")"
in_root apt-get -s install "unbound=$next" >"$T/install-next.out" 2>&1 || true
grep -A1 'REMOVED' "$T/install-next.out" | grep -q unbound-tapir-pop ||
	fail "installing unbound $next keeps the module: $(cat "$T/install-next.out")"
rm -f "$R/etc/apt/sources.list.d/next.list"
in_root apt-get update -qq
ok "apt upgrade keeps unbound $next back; installing it means removing unbound-tapir-pop"

# --- Upgrade, remove, purge ---------------------------------------------------
step "upgrade unbound-tapir-pop"
old=$(in_root dpkg-query -W -f='${Version}' unbound-tapir-pop)
dpkg-deb -R "$R"/tmp/debs/unbound-tapir-pop_*.deb "$T/up"
sed -i "s/^Version: .*/Version: $old.1/" "$T/up/DEBIAN/control"
dpkg-deb -b "$T/up" "$R/tmp/debs/up.deb" >/dev/null
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -q /tmp/debs/up.deb \
	>"$T/apt-upgrade.log" 2>&1 || { tail -n 20 "$T/apt-upgrade.log"; fail "upgrade"; }
[ "$(in_root dpkg-query -W -f='${Version}' unbound-tapir-pop)" = "$old.1" ] ||
	fail "not upgraded"
grep -q "^  broker: mqtt://127.0.0.1:$MQTT_PORT" "$R/etc/unbound/tapir-pop.yaml" ||
	fail "the operator's tapir-pop.yaml was not kept"
grep -q '^include-toplevel:' "$R/etc/unbound/unbound.conf.d/tapir-pop.conf" ||
	fail "the enabled snippet was not kept"
restart_unit
wait_until 15 root_connected || fail "not connected after upgrade"
[ "$(rcode blocked.example)" = NXDOMAIN ] || fail "decision lost in the upgrade"
ok "upgraded $old -> $old.1; configuration and decisions kept; unbound answers"

step "remove unbound-tapir-pop"
DEBIAN_FRONTEND=noninteractive in_root apt-get remove -y -q unbound-tapir-pop \
	>"$T/apt-remove.log" 2>&1 || { tail -n 20 "$T/apt-remove.log"; fail "remove"; }
in_root unbound-checkconf || fail "unbound-checkconf after remove"
restart_unit
[ "$(rcode blocked.example)" = NOERROR ] || fail "still blocked after remove"
[ "$(in_root unbound-checkconf -o module-config)" = "$stock_chain" ] ||
	fail "module-config after remove: $(in_root unbound-checkconf -o module-config)"
ok "removed; unbound starts without the module and answers"

step "purge unbound-tapir-pop"
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -q unbound-tapir-pop \
	>"$T/apt-purge.log" 2>&1 || { tail -n 20 "$T/apt-purge.log"; fail "purge"; }
for f in /etc/unbound/tapir-pop.yaml /etc/unbound/unbound.conf.d/tapir-pop.conf \
	/etc/apparmor.d/abstractions/unbound-tapir-pop /var/lib/unbound/tapir-pop; do
	[ ! -e "$R$f" ] || fail "$f left after purge"
done
! grep -qs tapir-pop "$R/etc/apparmor.d/local/usr.sbin.unbound" ||
	fail "AppArmor addition left after purge"
in_root apparmor_parser -Q -K -T /etc/apparmor.d/usr.sbin.unbound ||
	fail "AppArmor profile after purge"
restart_unit
[ "$(rcode up.example)" = NOERROR ] || fail "no answer after purge"
ok "purged: no file left, Debian's AppArmor profile as it was, unbound answers"

echo
echo "install-test: all steps passed"
