#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Every benchmark in one run, each figure next to Unbound's own RPZ
# measured in the same run: `make bench` runs this from the build
# directory. It prints one table (figure | ours | native RPZ | ratio |
# target | met?) and leaves in OUT (default bench-results/): report.md
# (the table, the machine, the parameters), each benchmark's own output
# (*.log), the data and the plots (gnuplot, PNG). Asserts nothing.
#
#   top_srcdir=.. top_builddir=. UNBOUND_SRC=../_unbound/src \
#       sh ../tests/bench/bench_all.sh [options]
#
# Options (make bench BENCH_ARGS="..."), each also an environment variable:
#   --sizes "N ..."      BENCH_SIZES      database, publish->blocked, stall
#                                         (default "10000 100000 1000000")
#   --rounds R           BENCH_ROUNDS     repeats of each (default 3)
#   --trials T           BENCH_TRIALS     publish->blocked trials (50)
#   --rpz-trials T       BENCH_RPZ_TRIALS the same for native RPZ (10)
#   --mem-sizes "N ..."  BENCH_MEM_SIZES  whole-process memory ("1000000")
#   --native-max N       BENCH_NATIVE_MAX largest native RPZ memory run
#                                         (1000000: about 1.2 kB a name)
#   --mem-xfr yes|no     BENCH_MEM_XFR    also an xfr source (yes)
#   --mem-qps Q          BENCH_MEM_QPS    queries/s during the loads (2000;
#                                         0: a flood)
#   --messages M         BENCH_MESSAGES   signed observations a round (20000)
#   --qps-names N        BENCH_QPS_NAMES  names behind the qps run (100000)
#   --qps-seconds S      BENCH_QPS_SECONDS seconds a dnsperf run (3)
#   --only "B ..."       BENCH_ONLY       a subset of: db ingest enforce mem qps
#   --out DIR            BENCH_OUT        where results go (bench-results;
#                                         what a run finds there goes first)
#   --dry-run            print what would run, run nothing
#   --report-only        only the table, report and plots, from the *.log
#                        an earlier run left in OUT
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
SIZES=${BENCH_SIZES:-"10000 100000 1000000"}
ROUNDS=${BENCH_ROUNDS:-3}
TRIALS=${BENCH_TRIALS:-50}
RPZ_TRIALS_N=${BENCH_RPZ_TRIALS:-10}
MEM_SIZES=${BENCH_MEM_SIZES:-1000000}
NATIVE_MAX_N=${BENCH_NATIVE_MAX:-1000000}
MEM_XFR_Q=${BENCH_MEM_XFR:-yes}
MEM_QPS=${BENCH_MEM_QPS:-2000}
MESSAGES=${BENCH_MESSAGES:-20000}
QPS_NAMES=${BENCH_QPS_NAMES:-100000}
QPS_SECONDS=${BENCH_QPS_SECONDS:-3}
ONLY=${BENCH_ONLY:-"db ingest enforce mem qps"}
OUT=${BENCH_OUT:-bench-results}
DRY=no
REPORT_ONLY=no

usage() {
	sed -n 's/^#   //p' "$0" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--sizes) SIZES=$2; shift ;;
	--rounds) ROUNDS=$2; shift ;;
	--trials) TRIALS=$2; shift ;;
	--rpz-trials) RPZ_TRIALS_N=$2; shift ;;
	--mem-sizes) MEM_SIZES=$2; shift ;;
	--native-max) NATIVE_MAX_N=$2; shift ;;
	--mem-xfr) MEM_XFR_Q=$2; shift ;;
	--mem-qps) MEM_QPS=$2; shift ;;
	--messages) MESSAGES=$2; shift ;;
	--qps-names) QPS_NAMES=$2; shift ;;
	--qps-seconds) QPS_SECONDS=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--out) OUT=$2; shift ;;
	--dry-run) DRY=yes ;;
	--report-only) REPORT_ONLY=yes ;;
	*) usage ;;
	esac
	shift || usage
done
for v in $SIZES $MEM_SIZES $ROUNDS $TRIALS $RPZ_TRIALS_N $NATIVE_MAX_N \
	$MESSAGES $QPS_NAMES $QPS_SECONDS; do
	case $v in
	'' | *[!0-9]* | 0) echo "bench_all: not a positive number: $v" >&2; exit 2 ;;
	esac
done
case $MEM_QPS in
'' | *[!0-9]*) echo "bench_all: not a number: $MEM_QPS" >&2; exit 2 ;;
esac
for b in $ONLY; do
	case $b in
	db | ingest | enforce | mem | qps) ;;
	*) echo "bench_all: no benchmark $b" >&2; exit 2 ;;
	esac
done

B="$top_builddir/tests/bench"
S="$top_srcdir/tests/bench"
wants() {
	case " $ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

# step NAME CMD...: CMD's output to the terminal and OUT/NAME.log (the
# figures are read back from there); --dry-run only says what it would be.
step() {
	name=$1
	shift
	if [ "$DRY" = yes ]; then
		echo "would run ($name): $*"
		return 0
	fi
	echo "=== $name: $*"
	t0=$(date +%s)
	{ "$@"; echo "exit $?" >"$OUT/$name.rc"; } 2>&1 | tee "$OUT/$name.log"
	rc=$(sed 's/exit //' "$OUT/$name.rc")
	echo "$name $(($(date +%s) - t0))" >>"$OUT/times.txt"
	echo "=== $name: $(($(date +%s) - t0)) s"
	[ "$rc" = 0 ] || echo "=== $name failed (exit $rc): its figures are missing from the table"
}

comma() { echo "$1" | tr ' ' ','; }

if [ "$REPORT_ONLY" = no ]; then
	[ "$DRY" = yes ] || mkdir -p "$OUT" || exit 1
	# A run's table holds its own figures only: what an earlier run
	# left here goes first.
	[ "$DRY" = yes ] || rm -f "$OUT"/*.log "$OUT"/*.rc "$OUT"/*.txt \
		"$OUT"/*.cdf "$OUT"/*.dat "$OUT"/*.rss "$OUT"/*.png \
		"$OUT"/*.tsv "$OUT"/report.md "$OUT"/gnuplot.log
	[ "$DRY" = yes ] || : >"$OUT/times.txt"
	OUT_ABS=$( [ "$DRY" = yes ] && echo "$OUT" || (cd "$OUT" && pwd))
	wants db && step db "$B/bench_db" -n "$(comma "$SIZES")" -r "$ROUNDS"
	wants db && step db-distinct "$B/bench_db" -d -n "$(comma "$SIZES")" -r "$ROUNDS"
	wants ingest && step ingest "$B/bench_ingest" -n "$MESSAGES" -r "$ROUNDS"
	wants enforce && step enforce env BENCH_OUT="$OUT_ABS" BURSTS="$ROUNDS" \
		RPZ_TRIALS="$RPZ_TRIALS_N" sh "$S/bench_enforce.sh" "$TRIALS" "$SIZES"
	wants mem && step mem env BENCH_OUT="$OUT_ABS" NATIVE_MAX="$NATIVE_MAX_N" \
		MEM_XFR="$MEM_XFR_Q" STREAM_QPS="$MEM_QPS" sh "$S/bench_mem.sh" "$MEM_SIZES"
	wants qps && step qps sh "$S/bench_qps.sh" "$QPS_NAMES" "$ROUNDS" "$QPS_SECONDS"
	if [ "$DRY" = yes ]; then
		echo "then: the table on stdout, $OUT/report.md and $OUT/*.png"
		exit 0
	fi
fi
[ -d "$OUT" ] || { echo "bench_all: no $OUT" >&2; exit 1; }

# --- The table, from the RESULT lines of the logs.
cat "$OUT"/*.log 2>/dev/null | grep '^RESULT ' >"$OUT/results.txt"

# get KEY=VALUE...: the line of results.txt that has all of them; prints
# the value of FIELD (the last argument), or nothing.
get() {
	field=$(eval echo "\${$#}")
	awk -v want="$*" -v f="$field" '
		BEGIN { k = split(want, w, " "); k-- }
		{
			delete v
			for (i = 2; i <= NF; i++) {
				p = index($i, "=")
				v[substr($i, 1, p - 1)] = substr($i, p + 1)
			}
			ok = 1
			for (i = 1; i <= k; i++) {
				p = index(w[i], "=")
				if (v[substr(w[i], 1, p - 1)] != substr(w[i], p + 1)) ok = 0
			}
			if (ok && (f in v)) r = v[f]
		}
		END { if (r != "") print r }' "$OUT/results.txt"
}

# row FIGURE OURS NATIVE TARGET: one line of the table (tab-separated in
# OUT/table.tsv). TARGET is "<= X", ">= X", "= X" or "-"; the ratio is
# ours over native when both are numbers; met? compares ours with the
# target.
: >"$OUT/table.tsv"
row() {
	printf '%s\t%s\t%s\t%s\n' "$1" "${2:--}" "${3:--}" "$4" |
		awk -F'\t' 'function num(x) { return x ~ /^-?[0-9]+(\.[0-9]+)?$/ }
		{
			# A ratio of two positive figures only (an excess over
			# the noise may come out below zero).
			r = (num($2) && num($3) && $2 + 0 >= 0 && $3 + 0 > 0) ? sprintf("%.2f", $2 / $3) : "-"
			m = "-"
			split($4, t, " ")
			if (num($2) && num(t[2])) {
				if (t[1] == "<=") m = ($2 + 0 <= t[2] + 0) ? "yes" : "NO"
				if (t[1] == ">=") m = ($2 + 0 >= t[2] + 0) ? "yes" : "NO"
				if (t[1] == "=") m = ($2 + 0 == t[2] + 0) ? "yes" : "NO"
			}
			printf "%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, r, $4, m
		}' >>"$OUT/table.tsv"
}
# ms_s MS: seconds; what is not a number (a step not run) as it is.
ms_s() {
	case $1 in
	'' | -) ;;
	*[!0-9.]*) printf '%s' "$1" ;;
	*) awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }' ;;
	esac
}
# sum A B: A + B when both are numbers, else nothing (a figure missing).
sum() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) print a + b }'
}

# Item 2: ingest next to the raw verify rate (RPZ takes no signed
# messages: its column holds the raw rate, the ratio is the target's).
raw=$(get bench=ingest raw_per_s)
row "ingest: signed observations/s per core (native column: raw Ed25519 verify, same run)" \
	"$(get bench=ingest engine_per_s)" "$raw" ">= $(awk -v r="${raw:-0}" 'BEGIN { printf "%.0f", r * 0.8 }')"

# Publish -> blocked (ours: MQTT; native: IXFR with NOTIFY).
for n in $SIZES; do
	row "publish->blocked p50 ms, $n names" "$(get bench=block engine=ours n="$n" p50_ms)" \
		"$(get bench=block engine=rpz n="$n" p50_ms)" "-"
	row "publish->blocked p99 ms, $n names" "$(get bench=block engine=ours n="$n" p99_ms)" \
		"$(get bench=block engine=rpz n="$n" p99_ms)" "-"
done

# Item 3: whole-process memory.
for n in $MEM_SIZES; do
	if [ "$n" -le "$NATIVE_MAX_N" ]; then nat=yes; else nat=no; fi
	nv() { [ "$nat" = yes ] && get bench=mem engine=rpz n="$n" "$1" || echo "not run (memory)"; }
	row "bytes/name steady, whole Unbound, file source, $n names" \
		"$(get bench=mem engine=ours source=file n="$n" bpn)" "$(nv bpn)" "<= 64"
	row "peak/steady RSS during a full reload, $n names" \
		"$(get bench=mem engine=ours source=file n="$n" peak_ratio)" "$(nv peak_ratio)" "<= 1.2"
	row "load s, $n names (native: until it answers)" \
		"$(ms_s "$(get bench=mem engine=ours source=file n="$n" load_ms)")" \
		"$(ms_s "$(nv load_wall_ms)")" "<= 5"
	row "load CPU s of the module's writer thread, $n names" \
		"$(ms_s "$(get bench=mem engine=ours source=file n="$n" load_cpu_ms)")" "-" "-"
	row "full reload s, $n names" \
		"$(ms_s "$(get bench=mem engine=ours source=file n="$n" reload_ms)")" \
		"$(ms_s "$(nv reload_wall_ms)")" "-"
	o() { get bench=mem engine=ours source=file n="$n" "$1"; }
	row "queries unanswered (2 s) or SERVFAIL, load + reload, $n names (native: reload; it answers nothing while it loads)" \
		"$(sum "$(sum "$(o load_unanswered)" "$(o load_servfail)")" \
			"$(sum "$(o reload_unanswered)" "$(o reload_servfail)")")" \
		"$([ "$nat" = yes ] && sum "$(nv reload_unanswered)" "$(nv reload_servfail)" || nv x)" "= 0"
	row "worst wait ms of a cached query during the reload, $n names" \
		"$(get bench=mem engine=ours source=file n="$n" reload_worst_ms)" \
		"$(nv reload_worst_ms)" "-"
	if [ "$MEM_XFR_Q" = yes ]; then
		row "bytes/name steady, whole Unbound, xfr source, $n names" \
			"$(get bench=mem engine=ours source=xfr n="$n" bpn)" "-" "<= 64"
		row "load s (AXFR), xfr source, $n names" \
			"$(ms_s "$(get bench=mem engine=ours source=xfr n="$n" load_wall_ms)")" "-" "<= 5"
	fi
done

# Item 4: one entry per name, in the database alone, at the largest size
# (the target's is 1M).
big=$(for n in $SIZES; do echo "$n"; done | sort -n | tail -n 1)
row "distinct entries: bytes/name (database RSS), $big names" \
	"$(get bench=db distinct=1 n="$big" rss_bpn)" "-" "<= 64"
row "distinct entries: ns per hit (one at a time), $big names" \
	"$(get bench=db distinct=1 n="$big" hit_iso_ns)" "-" "<= 100"
row "shared entry (file source): bytes/name (database RSS), $big names" \
	"$(get bench=db distinct=0 n="$big" rss_bpn)" "-" "<= 64"

# Item 5: stall, the excess of the burst's worst wait over the same stream
# with no change (medians over the rounds), and the runs over 5 ms.
for n in $SIZES; do
	row "stall: worst wait excess ms over no change, burst, $n names" \
		"$(get bench=stall engine=ours n="$n" excess_ms)" \
		"$(get bench=stall engine=rpz n="$n" excess_ms)" "-"
	row "stall: runs over 5 ms ($(get bench=stall engine=ours n="$n" runs) ours, 1 native), $n names" \
		"$(get bench=stall engine=ours n="$n" over5)" \
		"$(get bench=stall engine=rpz n="$n" over5)" "= 0"
done

# Query cost: capacity relative to Unbound without the module (1.0 = the
# same CPU per answer).
for k in allowed blocked; do
	row "capacity vs no module, $k queries, $QPS_NAMES names" \
		"$(get bench=qps kind=$k module)" "$(get bench=qps kind=$k rpz)" "-"
done

# --- Print it, and report.md.
awk -F'\t' 'BEGIN { printf "%-78s %12s %14s %7s %10s %5s\n", "figure", "ours", "native RPZ", "ratio", "target", "met?" }
	{ printf "%-78s %12s %14s %7s %10s %5s\n", $1, $2, $3, $4, $5, $6 }' "$OUT/table.tsv"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
ub=$("${UNBOUND_SRC:-}/unbound" -V 2>/dev/null | sed -n 's/^Version //p')
{
	echo "# tapir-pop benchmarks"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- machine: \`$(uname -a)\`"
	echo "- CPU: ${cpu:-unknown}, $(nproc) cores online"
	echo "- memory: $mem"
	echo "- Unbound: ${ub:-unknown} ($(echo "${UNBOUND_SRC:-?}"))"
	echo "- parameters: sizes \"$SIZES\", rounds $ROUNDS, trials $TRIALS (native RPZ $RPZ_TRIALS_N), memory sizes \"$MEM_SIZES\" (native RPZ up to $NATIVE_MAX_N, xfr source: $MEM_XFR_Q, queries during the loads: $MEM_QPS/s, 0 a flood), $MESSAGES messages a round, qps: $QPS_NAMES names, ${QPS_SECONDS} s runs; benchmarks: $ONLY"
	echo
	echo "| figure | ours | native RPZ | ratio | target | met? |"
	echo "|---|---:|---:|---:|---|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$OUT/table.tsv"
	echo
	echo "What each row means: docs/benchmarks.md. Each benchmark's own output: the \`*.log\` beside this file."
	if [ -s "$OUT/times.txt" ]; then
		echo
		echo "Seconds each step took: $(awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $1, $2; t += $2 } END { printf "; in all %d s", t }' "$OUT/times.txt")."
	fi
} >"$OUT/report.md"

# --- Plots.
# (a) publish -> blocked, the distribution of each size (CDF).
plots=""
for f in "$OUT"/lat-ours-*.txt "$OUT"/lat-rpz-*.txt; do
	[ -s "$f" ] || continue
	sort -n "$f" | awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) printf "%.3f %.4f\n", v[i] / 1000, i / NR }' \
		>"${f%.txt}.cdf"
	n=$(basename "$f" .txt | sed 's/^lat-[a-z]*-//')
	who=$(case $f in *lat-ours-*) echo "tapir-pop (MQTT)" ;; *) echo "native RPZ (IXFR+NOTIFY)" ;; esac)
	plots="$plots${plots:+, }'${f%.txt}.cdf' using 1:2 with steps title '$who, $n names'"
done
# (b) bytes per name against the number of names.
grep '^RESULT bench=db distinct=0 ' "$OUT/results.txt" |
	sed 's/.* n=\([0-9]*\) rss_bpn=\([0-9.-]*\) .*/\1 \2/' >"$OUT/bpn-db.dat"
grep '^RESULT bench=db distinct=1 ' "$OUT/results.txt" |
	sed 's/.* n=\([0-9]*\) rss_bpn=\([0-9.-]*\) .*/\1 \2/' >"$OUT/bpn-dbd.dat"
grep '^RESULT bench=mem engine=ours source=file n=[1-9]' "$OUT/results.txt" |
	sed 's/.* n=\([0-9]*\) .* bpn=\([0-9.-]*\) .*/\1 \2/' >"$OUT/bpn-ours.dat"
grep '^RESULT bench=mem engine=rpz source=file n=[1-9].* bpn=' "$OUT/results.txt" |
	sed 's/.* n=\([0-9]*\) .* bpn=\([0-9.-]*\) .*/\1 \2/' >"$OUT/bpn-rpz.dat"
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "bench_all: no gnuplot (apt-get install gnuplot-nox): no plots"
else
	if [ -n "$plots" ]; then
		gnuplot 2>>"$OUT/gnuplot.log" <<EOG
set terminal pngcairo size 900,600 noenhanced
set output '$OUT/publish-blocked-cdf.png'
set title 'publish -> first blocked answer, names cached as allowed'
set xlabel 'ms'
set ylabel 'fraction of trials'
set logscale x
set key bottom right
set grid
plot $plots
EOG
	fi
	bp=""
	[ -s "$OUT/bpn-db.dat" ] && bp="'$OUT/bpn-db.dat' using 1:2 with linespoints title 'tapir-pop, database alone, shared entry (bench_db)'"
	[ -s "$OUT/bpn-dbd.dat" ] && bp="$bp${bp:+, }'$OUT/bpn-dbd.dat' using 1:2 with linespoints title 'tapir-pop, database alone, an entry per name (bench_db -d)'"
	[ -s "$OUT/bpn-ours.dat" ] && bp="$bp${bp:+, }'$OUT/bpn-ours.dat' using 1:2 with linespoints title 'tapir-pop, whole Unbound (file source)'"
	[ -s "$OUT/bpn-rpz.dat" ] && bp="$bp${bp:+, }'$OUT/bpn-rpz.dat' using 1:2 with linespoints title 'native RPZ, whole Unbound'"
	if [ -n "$bp" ]; then
		gnuplot 2>>"$OUT/gnuplot.log" <<EOG
set terminal pngcairo size 900,600 noenhanced
set output '$OUT/bytes-per-name.png'
set title 'memory per name'
set xlabel 'names'
set ylabel 'bytes per name'
set logscale xy
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
set key top right
set grid
plot $bp
EOG
	fi
	{
		echo
		[ -f "$OUT/publish-blocked-cdf.png" ] && echo "![publish -> blocked](publish-blocked-cdf.png)"
		echo
		[ -f "$OUT/bytes-per-name.png" ] && echo "![bytes per name](bytes-per-name.png)"
	} >>"$OUT/report.md"
fi
echo "report: $OUT/report.md"
