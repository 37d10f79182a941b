#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# make bench without running a benchmark (they take the CPUs for minutes
# and are never part of make check): every benchmark script parses; the
# dry run names each step; and the table, report.md and plots are made
# from RESULT lines as the benchmarks print them, with each figure beside
# its native RPZ one, the ratio, and the target judged.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-check.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}
ALL="$top_srcdir/tests/bench/bench_all.sh"
export top_srcdir top_builddir

for s in "$top_srcdir"/tests/bench/*.sh; do
	sh -n "$s" || fail "$s does not parse"
done
echo "ok: the benchmark scripts parse"

out=$(BENCH_SIZES="1000 2000" sh "$ALL" --dry-run --out "$T/dry" 2>&1) ||
	fail "dry run: $out"
for b in db db-distinct ingest enforce mem qps; do
	echo "$out" | grep -q "^would run ($b): " || fail "dry run lacks $b: $out"
done
echo "$out" | grep -q "bench_db -n 1000,2000 -r 3" || fail "sizes not passed: $out"
[ ! -e "$T/dry" ] || fail "the dry run made $T/dry"
out=$(sh "$ALL" --rounds x --dry-run 2>&1) && fail "--rounds x accepted"
echo "$out" | grep -q "not a positive number: x" || fail "--rounds x: $out"
out=$(sh "$ALL" --only nope --dry-run 2>&1) && fail "--only nope accepted"
echo "ok: the dry run names every step; bad parameters refused"

# The figures of a run, as the benchmarks print them.
O="$T/out"
mkdir -p "$O"
cat >"$O/db.log" <<'EOF'
some human output
RESULT bench=db distinct=0 n=1000 rss_bpn=90.0 stats_bpn=80.0 load_s=0.001 hit_ns=30.0 hit_iso_ns=60.0 miss_ns=20.0 decide_ns=40.0 decide_iso_ns=70.0 update_per_s=1000000 ok=1
RESULT bench=db distinct=0 n=2000 rss_bpn=45.0 stats_bpn=40.0 load_s=0.002 hit_ns=31.0 hit_iso_ns=61.0 miss_ns=21.0 decide_ns=41.0 decide_iso_ns=71.0 update_per_s=1000000 ok=1
EOF
cat >"$O/db-distinct.log" <<'EOF'
RESULT bench=db distinct=1 n=2000 rss_bpn=70.5 stats_bpn=60.0 load_s=0.002 hit_ns=35.0 hit_iso_ns=95.0 miss_ns=21.0 decide_ns=41.0 decide_iso_ns=71.0 update_per_s=1000000 ok=1
EOF
cat >"$O/ingest.log" <<'EOF'
RESULT bench=ingest messages=100 rounds=1 raw_per_s=10000 engine_per_s=8500 wall_per_s=9000 ratio=0.850
EOF
cat >"$O/enforce.log" <<'EOF'
    1000 names: trials 2 blocked 2 not-blocked-in-2s 0  p50 1.50 ms  p99 2.50 ms  max 2.50 ms
RESULT bench=block engine=ours n=1000 trials=2 blocked=2 p50_ms=1.50 p99_ms=2.50 max_ms=2.50
RESULT bench=stall engine=ours n=1000 runs=3 floor_ms=1.00 floor_max_ms=2.00 burst_ms=3.00 burst_max_ms=7.00 excess_ms=2.00 over5=1 floor_over5=0
RESULT bench=block engine=rpz n=1000 trials=2 blocked=2 p50_ms=300.00 p99_ms=500.00 max_ms=500.00 load_ms=900
RESULT bench=stall engine=rpz n=1000 runs=1 floor_ms=1.00 burst_ms=9.00 excess_ms=8.00 over5=1
EOF
cat >"$O/mem.log" <<'EOF'
RESULT bench=mem engine=ours source=file n=0 rss_kb=20000
RESULT bench=mem engine=ours source=file n=1000 rss_kb=20050 base_kb=20000 bpn=51.2 peak_kb=30075 peak_ratio=1.500 load_peak_kb=20050 load_ms=300 load_wall_ms=900 load_cpu_ms=250 reload_ms=20 reload_wall_ms=300 reload_cpu_ms=15 load_answered=10 load_unanswered=0 load_servfail=0 load_worst_ms=1.00 reload_answered=10 reload_unanswered=1 reload_servfail=2 reload_worst_ms=2.00
RESULT bench=mem engine=rpz source=file n=1000 rss_kb=21212 base_kb=20000 bpn=1241.1 peak_kb=21300 peak_ratio=1.004 load_peak_kb=21212 load_wall_ms=6000 reload_wall_ms=400 reload_answered=10 reload_unanswered=0 reload_servfail=0 reload_worst_ms=200.00
RESULT bench=mem engine=rpz source=file n=5000 skipped=memory
EOF
printf '1000\n1500\n2500\n' >"$O/lat-ours-1000.txt"
printf '300000\n500000\n' >"$O/lat-rpz-1000.txt"
out=$(BENCH_SIZES="1000 2000" BENCH_MEM_SIZES="1000 5000" BENCH_NATIVE_MAX=1000 \
	BENCH_MEM_XFR=no BENCH_OUT="$O" sh "$ALL" --report-only 2>&1) ||
	fail "report: $out"
# row FIGURE-PREFIX OURS NATIVE RATIO TARGET MET: that line in the table.
row() {
	awk -F'\t' -v f="$1" -v want="$2|$3|$4|$5|$6" '
		index($1, f) == 1 { got = $2 "|" $3 "|" $4 "|" $5 "|" $6; n++ }
		END { if (n != 1 || got != want) { print "got " n ": " got; exit 1 } }' \
		"$O/table.tsv" || fail "row '$1' (wanted $2|$3|$4|$5|$6)"
}
row "ingest: signed observations/s per core" 8500 10000 0.85 ">= 8000" yes
row "publish->blocked p50 ms, 1000 names" 1.50 300.00 0.01 - -
row "bytes/name steady, whole Unbound, file source, 1000 names" 51.2 1241.1 0.04 "<= 64" yes
row "peak/steady RSS during a full reload, 1000 names" 1.500 1.004 1.49 "<= 1.2" NO
row "load s, 1000 names" 0.30 6.00 0.05 "<= 5" yes
row "load CPU s of the module's writer thread, 1000 names" 0.25 - - - -
row "queries unanswered (2 s) or SERVFAIL, load + reload, 1000 names" 3 0 - "= 0" NO
row "bytes/name steady, whole Unbound, file source, 5000 names" - "not run (memory)" - "<= 64" -
row "load s, 5000 names" - "not run (memory)" - "<= 5" -
row "full reload s, 5000 names" - "not run (memory)" - - -
row "distinct entries: bytes/name (database RSS), 2000 names" 70.5 - - "<= 64" NO
row "distinct entries: ns per hit (one at a time), 2000 names" 95.0 - - "<= 100" yes
row "stall: worst wait excess ms over no change, burst, 1000 names" 2.00 8.00 0.25 - -
row "stall: runs over 5 ms (3 ours, 1 native), 1000 names" 1 1 1.00 "= 0" NO
echo "$out" | grep -q "^figure  *ours  *native RPZ  *ratio  *target  *met?" ||
	fail "no table header on stdout: $out"
echo "$out" | grep -q "^bytes/name steady, whole Unbound, file source, 1000 names  *51.2  *1241.1  *0.04  *<= 64  *yes" ||
	fail "no table row on stdout: $out"
grep -q "^| figure | ours | native RPZ | ratio | target | met? |" "$O/report.md" ||
	fail "report.md has no table"
grep -q "^- machine: \`Linux " "$O/report.md" || fail "report.md: no uname"
grep -q "^- CPU: .*, [0-9]* cores online" "$O/report.md" || fail "report.md: no CPU"
grep -q "^- memory: [0-9.]* GiB" "$O/report.md" || fail "report.md: no memory"
echo "ok: the table and report.md from RESULT lines, each target judged"
if command -v gnuplot >/dev/null 2>&1; then
	for p in publish-blocked-cdf.png bytes-per-name.png; do
		[ -s "$O/$p" ] || fail "no $p: $out"
		head -c 4 "$O/$p" | grep -q PNG || fail "$p is no PNG"
	done
	echo "ok: the plots"
fi
