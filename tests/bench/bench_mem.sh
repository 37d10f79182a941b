#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Whole-process memory of the dynlib Unbound: with the module and a file
# source of N names (and, with MEM_XFR=yes, an xfr source of the same
# names from a local Knot primary), and with Unbound's own RPZ (a zone
# file in unbound.conf) of the same names. For each: VmRSS once loaded,
# less that of the same daemon with no names (so bytes/name is what the
# names cost); the time to load; then a full reload of the source (the
# file touched and tapir-pop-control reload; unbound-control
# auth_zone_reload for RPZ; none for the xfr source, whose full reload
# would be a new AXFR) with VmRSS sampled every 10 ms (bench_rss) and
# VmHWM reset before it (/proc/PID/clear_refs), for the peak; and a
# steady stream of cached queries (bench_block -s, STREAM_QPS a second,
# default 2000; 0: each as soon as the last is answered, a flood that
# leaves the module's threads, niced below the workers, what the workers
# do not take) throughout the load and the reload, counting those not
# answered within 2 s and SERVFAILs (native RPZ answers nothing until its
# zone is read: its load has none).
# Prints numbers and one "RESULT bench=mem ..." line for each run;
# asserts nothing. From a configured build directory:
#   top_srcdir=.. top_builddir=. UNBOUND_SRC=../_unbound/src \
#       sh ../tests/bench/bench_mem.sh [SIZES]
# SIZES: default "1000000 10000000". NATIVE_MAX (default 1000000): the
# largest size native RPZ runs at (about 1.2 kB a name: 10M would not fit
# in a 23 GB machine). MEM_XFR=no: no xfr source. BENCH_OUT: a directory
# where each reload's VmRSS samples are left (mem-ENGINE-SOURCE-N.rss).
. "$top_srcdir/tests/integration/lib.sh"

SIZES=${1:-"1000000 10000000"}
NATIVE_MAX=${NATIVE_MAX:-1000000}
MEM_XFR=${MEM_XFR:-yes}
STREAM_QPS=${STREAM_QPS:-2000}
BENCH="$top_builddir/tests/bench/bench_block"
RSS="$top_builddir/tests/bench/bench_rss"
# Real names when a list is at hand ($TAPIR_BENCH_NAMES, or the team's
# test corpus beside the source tree), else synthetic ones only.
LIST=${TAPIR_BENCH_NAMES:-$top_srcdir/../shared/data/blocklist-all.txt}
[ -x "$BENCH" ] && [ -x "$RSS" ] ||
	fail "build them first: make tests/bench/bench_block tests/bench/bench_rss"

# names N FILE: the benchmarks' names, real ones first. Memory per name
# depends on its length (the database keeps a name of up to 27 bytes in
# its index cell, a longer one in its arena), so the synthetic names are
# as long as real ones: 17 to 19 bytes, where the team's real list
# averages 20.5 (and the other benchmarks' "synth-N-HEX.example", 25 to
# 29 bytes, would each take the arena's slot too).
names() {
	if [ -r "$LIST" ] && [ "$1" -gt 0 ]; then
		head -n "$1" "$LIST" >"$2"
	else
		: >"$2"
	fi
	have=$(wc -l <"$2")
	[ "$have" -ge "$1" ] ||
		seq "$have" $(($1 - 1)) | awk '{ printf "%x-%x.example\n", $1, $1 * 2654435761 % 65536 }' >>"$2"
}

# vm KEY PID: VmRSS, VmHWM, ... of PID in kB.
vm() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# stream_start PORT / stream_stop: the steady stream of cached queries,
# until stopped; stream_stop leaves "answered unanswered servfail worst_ms".
# Its query thread is started after its SIGTERM handler is in place:
# until then, SIGTERM would end it without a report.
stream_start() {
	"$BENCH" -u "$1" -s 3600 -r "$STREAM_QPS" >"$T/stream.out" &
	SPID=$!
	PIDS="$PIDS $SPID"
	wait_until 10 sh -c "[ \$(ls /proc/$SPID/task 2>/dev/null | wc -l) -ge 2 ]" ||
		fail "the query stream did not start"
}
stream_stop() {
	kill -TERM "$SPID"
	wait "$SPID" 2>/dev/null
	r=$(sed -n 's/.*: \([0-9]*\) cached queries answered, .*, worst \([0-9.]*\) ms (at.*, \([0-9]*\) unanswered, \([0-9]*\) SERVFAIL.*/\1 \3 \4 \2/p' \
		"$T/stream.out")
	[ -n "$r" ] || echo "query stream: no report: $(cat "$T/stream.out")" >&2
	echo "${r:-- - - -}"
}

# sample_start PID FILE / sample_stop: VmRSS every 10 ms; VmHWM reset
# first, so that it is the peak of what follows. sample_stop prints the
# larger of the sampled maximum and VmHWM, in kB.
sample_start() {
	echo 5 >"/proc/$1/clear_refs" 2>/dev/null
	"$RSS" -p "$1" -i 10 -o "$2" >"$T/rss.out" &
	RPID=$!
	PIDS="$PIDS $RPID"
}
sample_stop() {
	kill -TERM "$RPID"
	wait "$RPID" 2>/dev/null
	s=$(sed -n 's/^samples [0-9]* max_rss_kb //p' "$T/rss.out")
	h=$(vm VmHWM "$1")
	echo "${s:-0} ${h:-0}" | awk '{ print ($1 > $2) ? $1 : $2 }'
}

# keep FILE NAME: the samples where BENCH_OUT asks for them.
keep() {
	[ -n "${BENCH_OUT:-}" ] && cp "$1" "$BENCH_OUT/$2" 2>/dev/null
	:
}

# loaded_ms SOURCE K: the module's own time for the K-th load of SOURCE,
# from its log line ("source S: N names from ... in T ms", or for xfr
# "AXFR of ... in T ms" when it says).
loaded_ms() {
	grep "source $1: .* in [0-9]* ms" "$T/unbound.log" | sed -n "$2p" |
		sed 's/.* in \([0-9]*\) ms.*/\1/'
}

# thread_cpu_ms PID COMM: CPU time (user + system) of the thread named COMM
# of process PID so far, in ms: the module's cost of a load, whatever
# share of the CPUs the query stream leaves its writer (nice 10 below the
# workers).
thread_cpu_ms() {
	for t in /proc/$1/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
		sed 's/^.*) //' "$t/stat" | awk -v hz="$(getconf CLK_TCK)" \
			'{ printf "%d\n", ($12 + $13) * 1000 / hz }'
		return
	done
	echo -
}

db_names() {
	"$CONTROL" -s "$T/tapir-pop.sock" status 2>/dev/null |
		grep -q "^db.names: $1\$"
}

# ours SOURCE N: the module with a file or xfr source of N names. Prints
# the figures and a RESULT line; BASE_OURS (kB) is the daemon with none.
ours() {
	src=$1 n=$2
	names "$n" "$T/names.txt"
	# Limits above the defaults' 10M names, 256 MiB list file and 512 MiB
	# transfer, so that the largest sizes load.
	write_module_config "$(printf 'limits:\n  max-entries: %d\n  max-transfer-size: %d' \
		$((2 * n + 1000)) $((128 * n + 536870912)))"
	if [ "$src" = file ]; then
		awk -v T="$T" '/^sources:/ { print; print "  - name: mem\n    type: file\n    list: doubtlist\n    path: " T "/names.txt\n    refresh: 86400\n    max-size: 2147483648"; next } { print }' \
			"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
	else
		{
			printf '$ORIGIN rpz.mem.\n$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\n'
			awk '{ print $1 " CNAME ." }' "$T/names.txt"
		} >"$XP/rpz.mem.zone"
		PRIMARY_WAIT=600 start_primary "$XP" rpz.mem
		remote_peer "$PRIMARY_PID"
		awk -v P="$PRIMARY_PORT" '/^sources:/ { print; print "  - name: mem\n    type: xfr\n    list: doubtlist\n    primary: 127.0.0.1\n    port: " P "\n    zone: rpz.mem"; next } { print }' \
			"$T/tapir-pop.yaml" >"$T/y" && mv "$T/y" "$T/tapir-pop.yaml"
	fi
	: >"$T/unbound.log"
	UNBOUND_PORT=$(free_port)
	t0=$(now_ms)
	start_unbound
	stream_start "$UNBOUND_PORT"
	if [ "$src" = file ]; then
		wait_until 900 db_names "$n" || fail "$src: $n names not loaded"
		load_ms=$(loaded_ms mem 1)
	else
		# Its log says when the AXFR is applied (and the count);
		# the zone's apex is no name of the policy.
		wait_until 900 grep -q "source mem: AXFR of rpz.mem to serial 1" \
			"$T/unbound.log" || fail "$src: AXFR of $n names not applied"
		load_ms=-
	fi
	load_wall=$(($(now_ms) - t0))
	load_cpu=$(thread_cpu_ms "$UNBOUND_PID" tapir-writer)
	during_load=$(stream_stop)
	sleep "${SETTLE:-2}"
	rss=$(vm VmRSS "$UNBOUND_PID")
	load_hwm=$(vm VmHWM "$UNBOUND_PID")
	if [ "$n" = 0 ]; then
		BASE_OURS=$rss
		printf 'module, no names: VmRSS %d kB (VmHWM %d kB)\n' "$rss" "$load_hwm"
		echo "RESULT bench=mem engine=ours source=$src n=0 rss_kb=$rss"
		kill "$UNBOUND_PID"
		wait "$UNBOUND_PID" 2>/dev/null
		[ "$src" = file ] || { kill "$PRIMARY_PID"; wait "$PRIMARY_PID" 2>/dev/null; }
		return
	fi
	if [ "$src" = xfr ]; then
		# A full reload of an xfr source is a new AXFR, which the
		# primary sends only when it has no IXFR history to give:
		# not measured here (the file source's reload is).
		echo "$n $rss $BASE_OURS $load_hwm $load_wall $during_load" |
			awk '{
				n = $1; bpn = ($2 - $3) * 1024 / n
				printf "module, xfr source, %d names: VmRSS %d kB, %.1f bytes/name over no names (%d kB); load peak %d kB = %.2fx steady; load (AXFR) %d ms (start to applied); queries during the load: %s answered, %s unanswered, %s SERVFAIL, worst %s ms\n",
					n, $2, bpn, $3, $4, $4 / $2, $5, $6, $7, $8, $9
				printf "RESULT bench=mem engine=ours source=xfr n=%d rss_kb=%d base_kb=%d bpn=%.1f load_peak_kb=%d load_peak_ratio=%.3f load_wall_ms=%d load_answered=%s load_unanswered=%s load_servfail=%s load_worst_ms=%s\n",
					n, $2, $3, bpn, $4, $4 / $2, $5, $6, $7, $8, $9
			}'
		kill "$UNBOUND_PID" "$PRIMARY_PID"
		wait "$UNBOUND_PID" 2>/dev/null
		wait "$PRIMARY_PID" 2>/dev/null
		return
	fi
	# The full reload: every name read and set again.
	stream_start "$UNBOUND_PORT"
	sample_start "$UNBOUND_PID" "$T/reload.rss"
	loads=$(grep -c "source mem: .* in [0-9]* ms" "$T/unbound.log")
	c0=$(thread_cpu_ms "$UNBOUND_PID" tapir-writer)
	r0=$(now_ms)
	# A new modification time: reload skips a file found unchanged.
	touch "$T/names.txt"
	"$CONTROL" -s "$T/tapir-pop.sock" reload >/dev/null ||
		fail "tapir-pop-control reload"
	wait_until 900 sh -c "[ \$(grep -c 'source mem: .* in [0-9]* ms' $T/unbound.log) -gt $loads ]" ||
		fail "$src: reload of $n names not seen in the log"
	reload_wall=$(($(now_ms) - r0))
	reload_ms=$(loaded_ms mem $((loads + 1)))
	reload_cpu=$(($(thread_cpu_ms "$UNBOUND_PID" tapir-writer) - c0))
	sleep 1
	peak=$(sample_stop "$UNBOUND_PID")
	during_reload=$(stream_stop)
	keep "$T/reload.rss" "mem-ours-$src-$n.rss"
	echo "$n $rss $BASE_OURS $peak $load_hwm $load_ms $load_wall $reload_ms $reload_wall $during_load $during_reload $load_cpu $reload_cpu" |
		awk -v s="$src" '{
			n = $1; bpn = ($2 - $3) * 1024 / n
			printf "module, %s source, %d names: VmRSS %d kB, %.1f bytes/name over no names (%d kB); reload peak %d kB = %.2fx steady (initial load peak %d kB); load %s ms (module) %d ms (start to loaded) %s ms CPU (writer); full reload %s ms (module) %d ms (wall) %s ms CPU (writer); queries during the load: %s answered, %s unanswered, %s SERVFAIL, worst %s ms; during the reload: %s answered, %s unanswered, %s SERVFAIL, worst %s ms\n",
				s, n, $2, bpn, $3, $4, $4 / $2, $5, $6, $7, $18, $8, $9, $19, $10, $11, $12, $13, $14, $15, $16, $17
			printf "RESULT bench=mem engine=ours source=%s n=%d rss_kb=%d base_kb=%d bpn=%.1f peak_kb=%d peak_ratio=%.3f load_peak_kb=%d load_ms=%s load_wall_ms=%d load_cpu_ms=%s reload_ms=%s reload_wall_ms=%d reload_cpu_ms=%s load_answered=%s load_unanswered=%s load_servfail=%s load_worst_ms=%s reload_answered=%s reload_unanswered=%s reload_servfail=%s reload_worst_ms=%s\n",
				s, n, $2, $3, bpn, $4, $4 / $2, $5, $6, $7, $18, $8, $9, $19, $10, $11, $12, $13, $14, $15, $16, $17
		}'
	kill "$UNBOUND_PID"
	wait "$UNBOUND_PID" 2>/dev/null
}

# native N: Unbound's own RPZ, the same names in a zone file.
native() {
	n=$1
	names "$n" "$T/names.txt"
	{
		printf '$ORIGIN rpz.bench.\n$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 60\n@ NS localhost.\n'
		# Resolves (via the test root's *.example) unless the RPZ
		# is loaded: the marker of a finished load.
		printf 'marker-rpz.example CNAME .\n'
		awk '{ print $1 " CNAME ." }' "$T/names.txt"
	} >"$T/rpz.bench.zone"
	UNBOUND_PORT=$(free_port)
	write_resolver_config rpz "$UNBOUND_PORT" "respip iterator"
	printf 'rpz:\n    name: rpz.bench\n    zonefile: "%s"\n' "$T/rpz.bench.zone" >>"$T/rpz.conf"
	t0=$(now_ms)
	"$UNBOUND" -d -c "$T/rpz.conf" >/dev/null 2>&1 &
	UPID=$!
	PIDS="$PIDS $UPID"
	# Unbound reads the zone before it answers anything.
	wait_until 900 is_rcode marker-rpz.example NXDOMAIN ||
		fail "RPZ of $n names not loaded"
	load_wall=$(($(now_ms) - t0))
	sleep "${SETTLE:-2}"
	rss=$(vm VmRSS "$UPID")
	load_hwm=$(vm VmHWM "$UPID")
	if [ "$n" = 0 ]; then
		BASE_NATIVE=$rss
		printf 'native RPZ, no names: VmRSS %d kB (VmHWM %d kB)\n' "$rss" "$load_hwm"
		echo "RESULT bench=mem engine=rpz source=file n=0 rss_kb=$rss"
		kill "$UPID"
		wait "$UPID" 2>/dev/null
		return
	fi
	stream_start "$UNBOUND_PORT"
	sleep 1
	sample_start "$UPID" "$T/reload.rss"
	r0=$(now_ms)
	"$UNBOUND_CONTROL" -c "$T/rpz.conf" auth_zone_reload rpz.bench >/dev/null ||
		fail "auth_zone_reload"
	reload_wall=$(($(now_ms) - r0))
	sleep 1
	peak=$(sample_stop "$UPID")
	during_reload=$(stream_stop)
	keep "$T/reload.rss" "mem-rpz-file-$n.rss"
	echo "$n $rss $BASE_NATIVE $peak $load_hwm $load_wall $reload_wall $during_reload" |
		awk '{
			n = $1; bpn = ($2 - $3) * 1024 / n
			printf "native RPZ, zone file, %d names: VmRSS %d kB, %.1f bytes/name over no names (%d kB); reload peak %d kB = %.2fx steady (initial load peak %d kB); load %d ms (start to first answer: it answers nothing before); full reload (auth_zone_reload) %d ms; queries during the reload: %s answered, %s unanswered, %s SERVFAIL, worst %s ms\n",
				n, $2, bpn, $3, $4, $4 / $2, $5, $6, $7, $8, $9, $10, $11
			printf "RESULT bench=mem engine=rpz source=file n=%d rss_kb=%d base_kb=%d bpn=%.1f peak_kb=%d peak_ratio=%.3f load_peak_kb=%d load_wall_ms=%d reload_wall_ms=%d reload_answered=%s reload_unanswered=%s reload_servfail=%s reload_worst_ms=%s\n",
				n, $2, $3, bpn, $4, $4 / $2, $5, $6, $7, $8, $9, $10, $11
		}'
	kill "$UPID"
	wait "$UPID" 2>/dev/null
}

start_mosquitto
remote_peer "$MOSQUITTO_PID"
start_knot
XP="$T/xfrprimary"
mkdir -p "$XP/db"
echo "whole-process memory (VmRSS) of the dynlib Unbound, 2 threads; sizes: $SIZES; native RPZ up to $NATIVE_MAX names; query stream: $([ "$STREAM_QPS" -gt 0 ] && echo "$STREAM_QPS/s" || echo flood)"
ours file 0
for n in $SIZES; do
	ours file "$n"
done
if [ "$MEM_XFR" = yes ]; then
	ours xfr 0
	for n in $SIZES; do
		ours xfr "$n"
	done
fi
native 0
for n in $SIZES; do
	if [ "$n" -le "$NATIVE_MAX" ]; then
		native "$n"
	else
		echo "native RPZ, $n names: not run (over NATIVE_MAX=$NATIVE_MAX: it would not fit in memory)"
		echo "RESULT bench=mem engine=rpz source=file n=$n skipped=memory"
	fi
done
