#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Install every Debian 12 package the build, the tests and the demo need,
# or only the packages named as arguments (packaging/debian/build.sh).
# Idempotent: packages already present are left alone, and `apt-get update`
# runs only when something is missing.
set -eu

PKGS="build-essential autoconf automake libtool pkg-config dpkg-dev
libmosquitto-dev libjansson-dev libsodium-dev libcmocka-dev libyaml-dev
libssl-dev libknot-dev libxxhash-dev autoconf-archive mosquitto mosquitto-clients knot knot-dnsutils dnsutils
clang libclang-rt-14-dev clang-format dnsperf procps iproute2 jq gnuplot-nox
bind9-utils openssl util-linux binutils coreutils debootstrap
rpm rpmlint prometheus prometheus-node-exporter curl time socat"
[ $# -eq 0 ] || PKGS="$*"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# Package post-install scripts must not start daemons on the host:
	# the tests start their own instances on loopback.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		created_policy=1
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
	[ "${created_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
	# Prometheus and node_exporter: tests/integration/prometheus.sh
	# runs its own on loopback. The packages' services, which listen on
	# every address, stay off after a reboot too.
	for s in prometheus prometheus-node-exporter; do
		case " $missing " in
		*" $s "*) systemctl disable "$s.service" >/dev/null 2>&1 || : ;;
		esac
	done
fi
exit 0
