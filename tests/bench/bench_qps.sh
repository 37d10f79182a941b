#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Query cost of the module, with dnsperf (bounded runs): the same dynlib
# Unbound with and without tapir-pop.so, N names in the policy database,
# alternating pairs; for cached allowed names and for blocked names, the
# module as configured by default (block answers cached) and with
# answer.cache-blocked: no. The capacity figure is Unbound's own CPU time
# per answered query (utime + stime from /proc/PID/stat), since dnsperf
# shares the 2 cores. A second
# daemon without the module runs as the control: its ratio to the first
# is what this machine's noise alone gives. Prints
# numbers; asserts nothing. Run from a configured build directory:
#   top_srcdir=.. top_builddir=. UNBOUND_SRC=../_unbound/src \
#       sh ../tests/bench/bench_qps.sh [NAMES] [PAIRS] [SECONDS]
. "$top_srcdir/tests/integration/lib.sh"

N=${1:-1000000}
PAIRS=${2:-5}
SECS=${3:-5}
# Real names when a list is at hand ($TAPIR_BENCH_NAMES, or the team's
# test corpus beside the source tree), else synthetic ones only.
LIST=${TAPIR_BENCH_NAMES:-$top_srcdir/../shared/data/blocklist-all.txt}

median() {
	sort -n | awk '{ v[NR] = $1 }
		END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# run_one PORT PID QUERYFILE: "qps cpu_us_per_query"
run_one() {
	c0=$(cpu_ticks "$2")
	out=$($CLIENT_CPU dnsperf -s 127.0.0.1 -p "$1" -d "$3" -c 10 -T 1 -t 2 -l "$SECS" 2>&1)
	c1=$(cpu_ticks "$2")
	q=$(echo "$out" | awk '/Queries completed:/ { print $3 }')
	qps=$(echo "$out" | awk '/Queries per second:/ { print $4 }')
	hz=$(getconf CLK_TCK)
	echo "$qps $(echo "$c0 $c1 $q $hz" | awk '{ printf "%.2f", ($2 - $1) * 1e6 / $4 / $3 }')"
}

start_mosquitto
start_knot
if [ -r "$LIST" ]; then head -n "$N" "$LIST" >"$T/names.txt"; else : >"$T/names.txt"; fi
have=$(wc -l <"$T/names.txt")
seq "$have" $((N - 1)) | awk '{ printf "synth-%d-%x.example\n", $1, $1 * 2654435761 % 4294967296 }' >>"$T/names.txt"
# Half of the database blocks (a denylist), the blocked queries hit it.
head -n $((N / 2)) "$T/names.txt" >"$T/deny.txt"
write_module_config
awk -v T="$T" '/^sources:/ { print; print "  - name: deny\n    type: file\n    list: denylist\n    path: " T "/deny.txt\n  - name: padding\n    type: file\n    list: doubtlist\n    path: " T "/names.txt"; next } { print }' \
	"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
UNBOUND_EXTRA="num-threads: 1"
start_unbound
MOD_PORT=$UNBOUND_PORT
MOD_PID=$UNBOUND_PID
wait_until 120 sh -c "$CONTROL -s $T/tapir-pop.sock status | grep -q '^db.names: $N$'" ||
	fail "names not loaded"
# start_plain NAME: the same daemon without the module, on a port of its
# own; sets PORT and PID.
start_plain() {
	PORT=$(free_port)
	write_resolver_config "$1" "$PORT" iterator
	"$UNBOUND" -d -c "$T/$1.conf" >/dev/null 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	wait_until 10 sh -c "kdig +timeout=1 +retry=0 @127.0.0.1 -p $PORT warm.example | grep -q NOERROR" ||
		fail "$1 unbound"
}
# The same module with answer.cache-blocked: no (every blocked query through
# the module), in a daemon of its own.
sed -e 's/^  client-id: .*/  client-id: tapir-pop-bench-cached-$$/' \
	-e "s|^  socket: .*|  socket: $T/cached.sock|" \
	-e 's/^answer:/answer:\n  cache-blocked: no/' \
	"$T/tapir-pop.yaml" >"$T/cached.yaml"
CACHED_PORT=$(free_port)
write_resolver_config cached "$CACHED_PORT" "dynlib iterator"
# shellcheck disable=SC2086
env $MODULE_ENV TAPIR_POP_CONFIG="$T/cached.yaml" "$UNBOUND" -d -c "$T/cached.conf" >/dev/null 2>&1 &
CACHED_PID=$!
PIDS="$PIDS $CACHED_PID"
wait_until 120 sh -c "$CONTROL -s $T/cached.sock status | grep -q '^db.names: $N$'" ||
	fail "names not loaded (uncached)"
start_plain plain
PLAIN_PORT=$PORT PLAIN_PID=$PID
# A second one, the control: two identical daemons differ only by this
# machine's noise, which the module's ratio carries too.
start_plain twin
TWIN_PORT=$PORT TWIN_PID=$PID

# Unbound's own RPZ with the same denylist, from a local Knot primary.
P="$T/primary"
mkdir -p "$P/db"
RPZ_PORT=$(free_port)
{
	printf '$ORIGIN rpz.bench.\n$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\nmarker-rpz.example CNAME .\n'
	awk '{ print $1 " CNAME ." }' "$T/deny.txt"
} >"$P/rpz.bench.zone"
PRIMARY_WAIT=120 start_primary "$P" rpz.bench
write_resolver_config rpz "$RPZ_PORT" "respip iterator"
printf 'rpz:\n    name: rpz.bench\n    primary: 127.0.0.1@%s\n' "$PRIMARY_PORT" >>"$T/rpz.conf"
"$UNBOUND" -d -c "$T/rpz.conf" >/dev/null 2>&1 &
RPZ_PID=$!
PIDS="$PIDS $RPZ_PID"
wait_until 120 sh -c "kdig +timeout=1 +retry=0 @127.0.0.1 -p $RPZ_PORT marker-rpz.example | grep -q NXDOMAIN" ||
	fail "RPZ daemon did not load"

# With 2 CPUs or more (BENCH_PIN=no to leave it to the scheduler), every
# daemon's threads are pinned to the second CPU and dnsperf to the first:
# a daemon's CPU time per query then does not depend on where the
# scheduler happened to put it next to the client that loads it, which
# on a small virtual machine moves the figures more than the module does.
CLIENT_CPU=
if [ "${BENCH_PIN:-yes}" = yes ] && [ "$(nproc)" -ge 2 ]; then
	for pid in "$MOD_PID" "$CACHED_PID" "$PLAIN_PID" "$RPZ_PID" "$TWIN_PID"; do
		taskset -a -p -c 1 "$pid" >/dev/null
	done
	CLIENT_CPU="taskset -c 0"
fi

# Cached allowed: 100 names, warmed in both caches. Blocked: 100 names
# of the denylist (answered by the module; the plain daemon resolves them,
# from its cache after the warm-up).
for i in $(seq 100); do printf 'allowed-%d.example A\n' "$i"; done >"$T/allowed.q"
sed -n '1~97p' "$T/deny.txt" | head -n 100 | sed 's/$/ A/' >"$T/blocked.q"
for p in "$MOD_PORT" "$CACHED_PORT" "$PLAIN_PORT" "$RPZ_PORT" "$TWIN_PORT"; do
	dnsperf -s 127.0.0.1 -p "$p" -d "$T/allowed.q" -n 1 >/dev/null 2>&1
	dnsperf -s 127.0.0.1 -p "$p" -d "$T/blocked.q" -n 1 >/dev/null 2>&1
done
echo "$N names; daemons ${CLIENT_CPU:+on CPU 1, dnsperf on CPU 0; }$PAIRS alternating rounds (module, module with answer.cache-blocked: no, no module, native RPZ, a second no-module daemon as the control; the order rotates each round, so that none always runs first) of ${SECS} s dnsperf runs (-c 10 -T 1); qps and Unbound CPU us/query; capacity = no-module us/q over theirs"
for kind in allowed blocked; do
	: >"$T/ratios"
	for i in $(seq "$PAIRS"); do
		for j in 0 1 2 3 4; do
			case $(((i + j) % 5)) in
			0) m=$(run_one "$MOD_PORT" "$MOD_PID" "$T/$kind.q") ;;
			1) p=$(run_one "$PLAIN_PORT" "$PLAIN_PID" "$T/$kind.q") ;;
			2) r=$(run_one "$RPZ_PORT" "$RPZ_PID" "$T/$kind.q") ;;
			3) c=$(run_one "$TWIN_PORT" "$TWIN_PID" "$T/$kind.q") ;;
			4) k=$(run_one "$CACHED_PORT" "$CACHED_PID" "$T/$kind.q") ;;
			esac
		done
		echo "$kind $i module $m cached $k plain $p rpz $r twin $c" | awk '{ printf "%-8s %s  module %7.0f qps %5.2f us/q  uncached %7.0f qps %5.2f us/q  no-module %7.0f qps %5.2f us/q  rpz %7.0f qps %5.2f us/q  control %7.0f qps %5.2f us/q  capacity: module %.3f uncached %.3f rpz %.3f control %.3f\n", $1, $2, $4, $5, $7, $8, $10, $11, $13, $14, $16, $17, $11 / $5, $11 / $8, $11 / $14, $11 / $17 }' |
			tee -a "$T/ratios"
	done
	mm=$(awk '{ print $(NF - 6) }' "$T/ratios" | median)
	kk=$(awk '{ print $(NF - 4) }' "$T/ratios" | median)
	rr=$(awk '{ print $(NF - 2) }' "$T/ratios" | median)
	cc=$(awk '{ print $NF }' "$T/ratios" | median)
	printf '%-8s median capacity over %d rounds: module %.3f uncached %.3f rpz %.3f control %.3f\n' \
		"$kind" "$PAIRS" "$mm" "$kk" "$rr" "$cc"
	echo "RESULT bench=qps kind=$kind n=$N rounds=$PAIRS module=$mm uncached=$kk rpz=$rr control=$cc"
done
