#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The metrics as a monitoring system reads them, with Debian's own
# Prometheus and node_exporter (scripts/install-deps.sh installs them; the
# test fails without them): the module in a real Unbound writes its
# textfile every second (metrics.textfile), a node_exporter of this test
# serves it with its textfile collector, a Prometheus of this test scrapes
# that every second. A name is blocked and queried, and
# tapir_pop_answers_total{action="nxdomain"} read back from Prometheus's
# HTTP API goes up; then every PromQL query of the example Grafana
# dashboard (examples/grafana/tapir-pop.json) returns data.
#
# Neither package's service is used: both daemons run here, on 127.0.0.1
# and free ports, with directories under $T, and are stopped by PID.
. "$top_srcdir/tests/integration/lib.sh"

DASHBOARD="$top_srcdir/examples/grafana/tapir-pop.json"

for tool in prometheus prometheus-node-exporter curl jq; do
	command -v "$tool" >/dev/null ||
		fail "$tool is not installed (sh scripts/install-deps.sh installs it)"
done
jq -e . "$DASHBOARD" >/dev/null || fail "$DASHBOARD is not JSON"

# The module writes where node_exporter reads.
daemon_dir "$T/textfile"
start_all "metrics:
  textfile: $T/textfile/tapir-pop.prom
  interval: 1"
wait_until 5 test -s "$T/textfile/tapir-pop.prom" ||
	fail "the module did not write $T/textfile/tapir-pop.prom"
ok "module writes $T/textfile/tapir-pop.prom"

# start_daemon NAME PORTVAR RUN PATH: RUN PORT (a function that execs the
# daemon, so that $! is its PID) on a free port, retried on another when a
# parallel test takes it first; up once http://127.0.0.1:PORT/PATH answers
# 2xx or 3xx.
start_daemon() {
	name=$1 portvar=$2 run=$3 path=$4
	for _ in 1 2 3; do
		port=$(free_port)
		"$run" "$port" >>"$T/$name.log" 2>&1 &
		pid=$!
		PIDS="$PIDS $pid"
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			if curl -sf --max-time 2 -o /dev/null \
				"http://127.0.0.1:$port/$path"; then
				eval "$portvar=$port"
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	fail "$name did not start: $(tail -n 5 "$T/$name.log")"
}

# Only the textfile collector: nothing of this host is read.
run_node_exporter() {
	exec prometheus-node-exporter --web.listen-address="127.0.0.1:$1" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$T/textfile"
}
start_daemon node-exporter NE_PORT run_node_exporter metrics
curl -sf --max-time 5 "http://127.0.0.1:$NE_PORT/metrics" |
	grep -q '^tapir_pop_active 1$' ||
	fail "node_exporter does not serve tapir_pop_active 1: $(curl -s "http://127.0.0.1:$NE_PORT/metrics" | grep -i -m 5 'textfile\|tapir')"
ok "node_exporter on 127.0.0.1:$NE_PORT serves the textfile"

cat >"$T/prometheus.yml" <<EOP
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tapir-pop
    static_configs:
      - targets: ['127.0.0.1:$NE_PORT']
EOP
mkdir -p "$T/prometheus-data"
run_prometheus() {
	exec prometheus --config.file="$T/prometheus.yml" \
		--storage.tsdb.path="$T/prometheus-data" \
		--web.listen-address="127.0.0.1:$1" --log.level=warn
}
start_daemon prometheus PROM_PORT run_prometheus -/ready
ok "prometheus on 127.0.0.1:$PROM_PORT"

# promql EXPR: the instant query's result array, as JSON.
promql() {
	curl -sf --max-time 5 -G --data-urlencode "query=$1" \
		"http://127.0.0.1:$PROM_PORT/api/v1/query" |
		jq -c 'select(.status == "success") | .data.result'
}

# nxdomain: the number of NXDOMAIN answers as Prometheus last scraped it;
# empty until it has a sample.
NX='tapir_pop_answers_total{action="nxdomain"}'
nxdomain() {
	promql "sum($NX)" | jq -r '.[0].value[1] // empty'
}
has_nxdomain() {
	[ -n "$(nxdomain)" ]
}
wait_until 15 has_nxdomain || fail "no $NX in Prometheus within 15 s: $(promql "$NX")"
before=$(nxdomain)
ok "Prometheus has $NX = $before"

publish_observe prom1.example 16
blocked_within 2 prom1.example || fail "prom1.example not blocked"
start=$(date +%s%N)
for _ in 1 2 3 4; do
	[ "$(rcode prom1.example)" = NXDOMAIN ] || fail "prom1.example not NXDOMAIN"
done
# One message that is not a JWS, for a rejection to show by reason.
printf 'not a signed message' >"$T/garbage.msg"
publish_file "$T/garbage.msg"
increased() {
	after=$(nxdomain)
	[ -n "$after" ] && [ "$after" -gt "$before" ]
}
wait_until 15 increased ||
	fail "$NX did not increase in Prometheus within 15 s (still $(nxdomain); module: $("$CONTROL" -s "$T/tapir-pop.sock" metrics | grep "^$NX"))"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok "Prometheus read $NX go from $before to $after, ${ms} ms after the last query"
# The command prints what the file holds: the same families.
"$CONTROL" -s "$T/tapir-pop.sock" metrics >"$T/metrics.txt" ||
	fail "tapir-pop-control metrics exited $?"
grep -q "^$NX [1-9]" "$T/metrics.txt" ||
	fail "tapir-pop-control metrics: $(grep "^$NX" "$T/metrics.txt")"
grep '^# ' "$T/metrics.txt" >"$T/families.cmd"
grep '^# ' "$T/textfile/tapir-pop.prom" >"$T/families.file"
cmp -s "$T/families.cmd" "$T/families.file" ||
	fail "metrics and the textfile differ: $(diff "$T/families.cmd" "$T/families.file" | head -n 5)"
ok "tapir-pop-control metrics: $(grep -c '^# TYPE' "$T/metrics.txt") families, as in the textfile"
rejected() {
	[ "$(promql 'sum(tapir_pop_messages_rejected_total)' |
		jq -r '.[0].value[1] // 0')" -ge 1 ]
}
wait_until 15 rejected || fail "the rejected message did not reach Prometheus"
ok "Prometheus has the rejected message, by reason: $(promql 'tapir_pop_messages_rejected_total > 0' |
	jq -r '.[] | "\(.metric.reason)=\(.value[1])"')"

# Each panel of the dashboard: its queries return data, with Grafana's
# variables as Grafana fills them ($instance: All, $__rate_interval: a
# window of several scrapes).
jq -e '[.panels[] | .id] | length == (unique | length)' "$DASHBOARD" >/dev/null ||
	fail "dashboard: panel ids not unique"
jq -e '[.panels[] | select(.type != "row") | select((.targets // []) | length == 0)] | length == 0' \
	"$DASHBOARD" >/dev/null || fail "dashboard: a panel has no query"
jq -r '.panels[] | select(.type != "row") | .title as $t | .targets[] |
	[$t, .refId, .expr] | @tsv' "$DASHBOARD" >"$T/panels.tsv"
[ -s "$T/panels.tsv" ] || fail "dashboard: no panel"
n=0
while IFS="$(printf '\t')" read -r title ref expr; do
	q=$(printf '%s' "$expr" | sed 's/\$instance/.*/g; s/\$__rate_interval/30s/g')
	res=$(promql "$q") || fail "panel '$title': query refused: $q"
	series=$(printf '%s' "$res" | jq 'length')
	[ "${series:-0}" -gt 0 ] || fail "panel '$title': no data for $q"
	max=$(printf '%s' "$res" | jq '[.[] | .value[1] | tonumber] | max')
	# The panels about blocks see the names just blocked.
	case "$title/$ref" in
	*[Bb]locked*/A)
		jq -n --argjson m "$max" -e '$m > 0' >/dev/null ||
			fail "panel '$title': $q is $max, not above 0" ;;
	esac
	echo "ok: panel '$title': $series series, max $max: $expr"
	n=$((n + 1))
done <"$T/panels.tsv"
ok "every one of the dashboard's $n queries returns data"

# A module that stops takes its file along: node_exporter serves nothing
# stale as current.
kill "$UNBOUND_PID"
wait_until 10 sh -c "! kill -0 $UNBOUND_PID 2>/dev/null" || fail "unbound did not stop"
[ ! -e "$T/textfile/tapir-pop.prom" ] ||
	fail "$T/textfile/tapir-pop.prom left behind after Unbound stopped"
ok "Unbound stopped: the textfile is gone"
