#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Publish-to-block latency with a real mosquitto and the dynlib Unbound,
# for names cached as allowed, at 10k, 100k and 1M names in the policy
# database (a doubtlist file source of real names, when a list is at hand,
# padded with synthetic ones). Prints
# numbers; asserts nothing. Run from a configured build directory:
#   top_srcdir=.. top_builddir=. UNBOUND_SRC=../_unbound/src \
#       sh ../tests/bench/bench_enforce.sh [TRIALS] [SIZES]
# BURSTS (default 5) sets how many bursts of 1,000 decision changes run at
# each size, each after a stream with no change at all: on a 2-core virtual
# machine one stream's worst wait swings by milliseconds from run to run,
# so one burst alone says little; the pairs give the spread of both.
# The broker and the publisher (this benchmark's bench_block) stand in for
# the TAPIR core's, on other machines: they run SCHED_IDLE (remote_peer in
# tests/integration/lib.sh); PEERS_IDLE=no runs them at Unbound's
# priority, as a broker on the resolver's own host would.
# RPZ_TRIALS (default 20) sets the trials of the native RPZ baseline that
# follows (tests/bench/bench_rpz.sh), BURST its update size.
# Each figure is also printed as a "RESULT bench=..." line, for
# tests/bench/bench_all.sh; with BENCH_OUT set, each trial's latency (us)
# is left in BENCH_OUT/lat-ours-SIZE.txt (and lat-rpz-SIZE.txt).
. "$top_srcdir/tests/integration/lib.sh"

TRIALS=${1:-200}
SIZES=${2:-"10000 100000 1000000"}
BENCH="$top_builddir/tests/bench/bench_block"
# Real names when a list is at hand ($TAPIR_BENCH_NAMES, or the team's
# test corpus beside the source tree), else synthetic ones only.
LIST=${TAPIR_BENCH_NAMES:-$top_srcdir/../shared/data/blocklist-all.txt}
[ -x "$BENCH" ] || fail "build it first: make tests/bench/bench_block"

start_mosquitto
remote_peer "$MOSQUITTO_PID"
start_knot
echo "publish -> first blocked answer, names cached as allowed; $TRIALS trials"
for n in $SIZES; do
	if [ -r "$LIST" ]; then
		head -n "$n" "$LIST" >"$T/names.txt"
	else
		: >"$T/names.txt"
	fi
	have=$(wc -l <"$T/names.txt")
	seq "$have" $((n - 1)) | awk '{ printf "synth-%d-%x.example\n", $1, $1 * 2654435761 % 4294967296 }' \
		>>"$T/names.txt"
	write_module_config
	awk -v T="$T" '/^sources:/ { print; print "  - name: padding\n    type: file\n    list: doubtlist\n    path: " T "/names.txt"; next } { print }' \
		"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
	UNBOUND_PORT=$(free_port)
	start_unbound
	wait_until 10 mqtt_connected || fail "not connected"
	wait_until 60 sh -c "$CONTROL -s $T/tapir-pop.sock status | grep -q '^db.names: $n$'" ||
		fail "$n names not loaded"
	printf '%8d names: ' "$n"
	"$BENCH" -u "$UNBOUND_PORT" -m "$MQTT_PORT" -t "$TOPIC" \
		-k "$top_srcdir/examples/keys/demo-signer.jwk" -n "$TRIALS" \
		-p "b$n" -o "$T/lat" >"$T/trials.out" || fail "bench failed"
	cat "$T/trials.out"
	sed -n "s/^trials \([0-9]*\) blocked \([0-9]*\) .* p50 \([0-9.]*\) ms  p99 \([0-9.]*\) ms  max \([0-9.]*\) ms/RESULT bench=block engine=ours n=$n trials=\1 blocked=\2 p50_ms=\3 p99_ms=\4 max_ms=\5/p" \
		"$T/trials.out"
	[ -n "${BENCH_OUT:-}" ] && cp "$T/lat" "$BENCH_OUT/lat-ours-$n.txt"
	: >"$T/worst"
	for r in $(seq "${BURSTS:-5}"); do
		# The same stream with no change at all: what this
		# machine's scheduling alone costs, to read the burst's
		# worst against.
		printf '%8d names: no decision changes, ' "$n"
		"$BENCH" -u "$UNBOUND_PORT" -s 4 >"$T/floor.out" ||
			fail "stream failed"
		cat "$T/floor.out"
		printf '%8d names: ' "$n"
		peer_run "$BENCH" -u "$UNBOUND_PORT" -m "$MQTT_PORT" \
			-t "$TOPIC" -k "$top_srcdir/examples/keys/demo-signer.jwk" \
			-b 1000 -p "s$n-$r" >"$T/burst.out" || fail "burst failed"
		cat "$T/burst.out"
		printf '%8d names: purges after burst %d: ' "$n" "$r"
		"$CONTROL" -s "$T/tapir-pop.sock" stats |
			awk -F= '/^cache.purge.(done|coalesced|by-name)=/ { printf "%s=%s ", $1, $2 } END { print "" }'
		# floor worst, burst-second worst, outside-it worst
		{
			sed -n 's/.*, worst \([0-9.]*\) ms (at.*/\1/p' "$T/floor.out"
			sed -n 's/.*during the burst.*, worst \([0-9.]*\) ms,.*before and after it:.*, worst \([0-9.]*\) ms,.*/\1 \2/p' "$T/burst.out"
		} | tr '\n' ' ' >>"$T/worst"
		echo >>"$T/worst"
	done
	awk -v n="$n" '
		function med(a, k,   i, j, t) {
			for (i = 1; i <= k; i++)
				for (j = i + 1; j <= k; j++)
					if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		NF == 3 { k++; f[k] = $1; b[k] = $2; o[k] = $3
			over += $2 > 5; fover += $1 > 5 }
		END {
			mf = med(f, k); mb = med(b, k); mo = med(o, k)
			printf "%8d names: worst wait over %d runs, median (max): no changes %.2f ms (%.2f), burst second %.2f ms (%.2f), rest of the burst runs %.2f ms (%.2f); runs over 5 ms: burst %d, no changes %d\n",
				n, k, mf, f[k], mb, b[k], mo, o[k], over, fover
			printf "RESULT bench=stall engine=ours n=%d runs=%d floor_ms=%.2f floor_max_ms=%.2f burst_ms=%.2f burst_max_ms=%.2f excess_ms=%.2f over5=%d floor_over5=%d\n",
				n, k, mf, f[k], mb, b[k], mb - mf, over, fover
		}' "$T/worst"
	kill "$UNBOUND_PID"
	wait "$UNBOUND_PID" 2>/dev/null
done

# The baseline in the same run: Unbound's own RPZ on the same names, fed
# by IXFR from Knot (fewer trials: at 1M names each takes seconds).
echo "the same sizes in Unbound's native RPZ, same run:"
sh "$top_srcdir/tests/bench/bench_rpz.sh" "${RPZ_TRIALS:-20}" "$SIZES" ||
	fail "RPZ baseline failed"
