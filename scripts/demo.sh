#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Set up a fresh Debian 12 machine and show tapir-pop at work: mosquitto,
# a Knot server for a demo root zone and Unbound with tapir-pop.so, all on
# 127.0.0.1; signed sample observations from examples/ are published like
# the DNS TAPIR core does, and kdig shows a name resolving before and
# blocked after, next to an untouched name. Everything is stopped at the
# end. Run as root.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/install-deps.sh
sh scripts/build-unbound.sh "$top/_unbound"
[ -x configure ] || autoreconf -fi
mkdir -p _build-demo
(cd _build-demo && ../configure --with-unbound-src="$top/_unbound/src" \
	>configure.out && make -j"$(nproc)" >make.out 2>&1) ||
	{ echo "build failed: see _build-demo/make.out"; exit 1; }

# From here on failures are reported by the helpers themselves (lib.sh's
# fail), and stopping what the demo started must not trip set -e.
set +e
top_srcdir=$top
top_builddir=$top/_build-demo
UNBOUND_SRC=$top/_unbound/src
export top_srcdir top_builddir UNBOUND_SRC
. "$top/tests/integration/lib.sh"

show() {
	printf '\n$ kdig @127.0.0.1 -p %s %s A\n' "$UNBOUND_PORT" "$1"
	kdig +timeout=2 +retry=0 +noall +header +answer +authority @127.0.0.1 \
		-p "$UNBOUND_PORT" "$1" A | grep -v '^;; Time\|^;; From\|^$'
}

echo "== starting mosquitto, knotd and unbound with tapir-pop.so (loopback)"
start_all
echo "unbound on 127.0.0.1:$UNBOUND_PORT, mosquitto on 127.0.0.1:$MQTT_PORT"
echo "policy: $(sed -n '/^policy:/,/^answer:/p' "$T/tapir-pop.yaml" | sed '1d;$d' | tr -s ' ' | tr '\n' ';')"

echo
echo "== before: nothing is known about these names"
while read -r name tags comment; do
	case "$name" in '#'* | '') continue ;; esac
	show "$name"
done <examples/demo-observations.txt
show www.example.org

echo
echo "== publishing signed observations (examples/demo-observations.txt)"
while read -r name tags comment; do
	case "$name" in '#'* | '') continue ;; esac
	echo "$name tag_mask=$tags ($comment)"
	publish_observe "$name" "$tags"
done <examples/demo-observations.txt
sleep 0.5

echo
echo "== after"
while read -r name tags comment; do
	case "$name" in '#'* | '') continue ;; esac
	show "$name"
done <examples/demo-observations.txt
echo
echo "== an untouched name"
show www.example.org

echo
echo "== why: tapir-pop-control lookup malware.example"
"$CONTROL" -s "$T/tapir-pop.sock" lookup malware.example
echo
echo "== demo done; stopping everything"
