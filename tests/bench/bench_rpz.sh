#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The baseline for bench_enforce.sh: Unbound's own RPZ (respip), fed by
# IXFR with NOTIFY from a local Knot primary holding the same N names (each
# `name CNAME .`). Time from the primary's commit of one new name to the
# first NXDOMAIN for it, the name cached as allowed before; then the worst
# latency of a steady stream of cached allowed queries while one dynamic
# update adds BURST names (one IXFR, RPZ's most favourable batching).
# Prints numbers, each also as a "RESULT bench=..." line (with BENCH_OUT
# set, each trial's latency in us goes to BENCH_OUT/lat-rpz-SIZE.txt);
# asserts nothing. From a configured build directory:
#   top_srcdir=.. top_builddir=. UNBOUND_SRC=../_unbound/src \
#       sh ../tests/bench/bench_rpz.sh [TRIALS] [SIZES]
. "$top_srcdir/tests/integration/lib.sh"

TRIALS=${1:-20}
SIZES=${2:-"10000 100000 1000000"}
BURST=${BURST:-1000}
BENCH="$top_builddir/tests/bench/bench_block"
[ -x "$BENCH" ] || fail "build it first: make tests/bench/bench_block"
# Real names when a list is at hand ($TAPIR_BENCH_NAMES, or the team's
# test corpus beside the source tree), else synthetic ones only.
LIST=${TAPIR_BENCH_NAMES:-$top_srcdir/../shared/data/blocklist-all.txt}
start_knot
P="$T/primary"
mkdir -p "$P/db"
for n in $SIZES; do
	UNBOUND_PORT=$(free_port)
	{
		printf '$ORIGIN rpz.bench.\n$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\n'
		# Resolves (via the test root's *.example) unless the RPZ
		# is loaded: the marker of a finished load.
		printf 'marker-rpz.example CNAME .\n'
		if [ -r "$LIST" ]; then head -n "$n" "$LIST"; fi |
			awk '{ print $1 " CNAME ." }'
		have=$([ -r "$LIST" ] && head -n "$n" "$LIST" | wc -l || echo 0)
		seq "$have" $((n - 1)) | awk '{ printf "synth-%d-%x.example CNAME .\n", $1, $1 * 2654435761 % 4294967296 }'
	} >"$P/rpz.bench.zone"
	PRIMARY_NOTIFY=127.0.0.1@$UNBOUND_PORT PRIMARY_UPDATE=yes PRIMARY_WAIT=120 \
		start_primary "$P" rpz.bench
	remote_peer "$PRIMARY_PID"
	write_resolver_config rpz "$UNBOUND_PORT" "respip iterator"
	printf 'rpz:\n    name: rpz.bench\n    primary: 127.0.0.1@%s\n    allow-notify: 127.0.0.1\n' \
		"$PRIMARY_PORT" >>"$T/rpz.conf"
	t0=$(date +%s%N)
	"$UNBOUND" -d -c "$T/rpz.conf" >/dev/null 2>&1 &
	UPID=$!
	PIDS="$PIDS $UPID"
	wait_until 120 is_rcode marker-rpz.example NXDOMAIN ||
		fail "RPZ of $n names not loaded"
	load_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	: >"$T/lat"
	for i in $(seq "$TRIALS"); do
		name="rpzb$n-$i.example"
		[ "$(rcode "$name")" = NOERROR ] || continue
		knotc -c "$P/knot.conf" zone-begin rpz.bench >/dev/null
		knotc -c "$P/knot.conf" zone-set rpz.bench "$name" 300 CNAME . >/dev/null
		s=$(date +%s%N)
		knotc -c "$P/knot.conf" zone-commit rpz.bench >/dev/null
		if wait_until 10 is_rcode "$name" NXDOMAIN; then
			echo $(( ($(date +%s%N) - s) / 1000 )) >>"$T/lat"
		fi
	done
	sort -n "$T/lat" | awk -v n="$n" -v t="$TRIALS" -v l="$load_ms" '
		{ v[NR] = $1 }
		END { if (!NR) { print n " names: none blocked"; exit }
		      p99 = int((NR * 99 + 99) / 100); if (p99 > NR) p99 = NR
		      printf "%8d names (native RPZ, IXFR+NOTIFY): trials %d blocked %d  p50 %.2f ms  p99 %.2f ms  max %.2f ms  (initial load %d ms)\n",
		      n, t, NR, v[int((NR + 1) / 2)] / 1000, v[p99] / 1000, v[NR] / 1000, l
		      printf "RESULT bench=block engine=rpz n=%d trials=%d blocked=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f load_ms=%d\n",
		      n, t, NR, v[int((NR + 1) / 2)] / 1000, v[p99] / 1000, v[NR] / 1000, l }'
	[ -n "${BENCH_OUT:-}" ] && sort -n "$T/lat" >"$BENCH_OUT/lat-rpz-$n.txt"
	printf '%8d names (native RPZ): no changes, ' "$n"
	"$BENCH" -u "$UNBOUND_PORT" -s 8 >"$T/floor.out" || fail "stream failed"
	cat "$T/floor.out"
	# The burst: one update of BURST new names while cached allowed
	# names are asked without pause.
	{
		echo "server 127.0.0.1 $PRIMARY_PORT"
		echo "zone rpz.bench"
		seq "$BURST" | awk -v n="$n" '{ printf "update add rpzburst%d-%d.example.rpz.bench. 300 CNAME .\n", n, $1 }'
		echo "send"
	} >"$T/burst.upd"
	"$BENCH" -u "$UNBOUND_PORT" -s 8 >"$T/stream.out" &
	SPID=$!
	sleep 2
	nsupdate -v "$T/burst.upd" || fail "update of $BURST names refused"
	wait_until 5 is_rcode "rpzburst$n-$BURST.example" NXDOMAIN ||
		echo "(the burst was not in force within 5 s)"
	wait "$SPID"
	printf '%8d names (native RPZ): one IXFR of %d names: ' "$n" "$BURST"
	sed 's/^steady stream for [0-9]* s: //' "$T/stream.out"
	{
		sed -n 's/.*, worst \([0-9.]*\) ms (at.*/\1/p' "$T/floor.out"
		sed -n 's/.*, worst \([0-9.]*\) ms (at.*/\1/p' "$T/stream.out"
	} | tr '\n' ' ' | awk -v n="$n" 'NF == 2 {
		printf "RESULT bench=stall engine=rpz n=%d runs=1 floor_ms=%.2f burst_ms=%.2f excess_ms=%.2f over5=%d\n",
			n, $1, $2, $2 - $1, ($2 > 5) }'
	kill "$UPID" "$PRIMARY_PID"
	wait "$UPID" 2>/dev/null
	wait "$PRIMARY_PID" 2>/dev/null
done
