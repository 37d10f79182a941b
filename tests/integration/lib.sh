# SPDX-License-Identifier: BSD-3-Clause
# Shared set-up for the integration tests: a real mosquitto, a real Knot
# serving a small root zone, the dynlib Unbound with tapir-pop.so, kdig as
# the client. Everything listens on 127.0.0.1 only, on ports picked free at
# run time, in a private temporary directory; every process started here is
# stopped by PID on exit.
#
# Needs: top_srcdir, top_builddir, UNBOUND_SRC (set by make check).
#
# TAPIR_TEST_USER=unbound (any user name; empty, the default: root): Unbound
# drops privileges to that user (username: in unbound.conf), as Debian's
# package runs it, and loads the module after the drop. What the daemon
# reads or writes after it is made accessible to that user the way a
# package does, never world-writable: $T, where its log, pid file and
# sockets go, is root:GROUP 0770 (the user's group may write there, as in
# /run/unbound; root keeps it because knotd, which drops its capabilities,
# must still enter it); the module's configuration and keys are root:GROUP
# 0640, like a conffile (daemon_reads); state directories are made with
# daemon_dir, owned by the user, 0750, like /var/lib/unbound/tapir-pop.
# The user is created as Debian's unbound package creates it when it does
# not exist. Run:
#   make check TAPIR_TEST_USER=unbound

set -u

: "${top_srcdir:?}" "${top_builddir:?}" "${UNBOUND_SRC:?}"
# Absolute, as make check passes them: Unbound changes to its directory:
# before it loads the module, so a relative dynlib-file (top_builddir=. in
# a benchmark run by hand) would not be found. One that is not a directory
# stays as given (the package test has no Unbound tree).
abs_dir() {
	if [ -d "$1" ]; then (cd "$1" && pwd); else echo "$1"; fi
}
top_srcdir=$(abs_dir "$top_srcdir")
top_builddir=$(abs_dir "$top_builddir")
UNBOUND_SRC=$(abs_dir "$UNBOUND_SRC")
UNBOUND="$UNBOUND_SRC/unbound"
UNBOUND_CONTROL="$UNBOUND_SRC/unbound-control"
SIGN="$top_builddir/tools/tapir-pop-sign"
CONTROL="$top_builddir/tools/tapir-pop-control"
MODULE="$top_builddir/module/.libs/tapir-pop.so"
TOPIC="observations/down/tapir-pop"

T=$(mktemp -d "${TMPDIR:-/tmp}/tapir-it.XXXXXX")
PIDS=""
FAILED=0

cleanup() {
	rc=$?
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -9 "$p" 2>/dev/null
	done
	# What a test mounted under $T (CLEANUP_UMOUNT), after its daemons.
	for m in ${CLEANUP_UMOUNT:-}; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if ls "$T"/sanitizer.* >/dev/null 2>&1; then
		echo "FAIL: sanitizer report from unbound:"
		cat "$T"/sanitizer.*
		FAILED=1
		rc=1
	fi
	if [ "$FAILED" != 0 ] && [ -f "$T/unbound.log" ]; then
		echo "--- unbound.log (last 40 lines)"
		tail -n 40 "$T/unbound.log"
	fi
	[ -n "${KEEP_T:-}" ] && echo "kept $T" || rm -rf --one-file-system "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*"
	FAILED=1
	if [ -S "$T/tapir-pop.sock" ]; then
		echo "--- tapir-pop-control status and stats"
		"$CONTROL" -s "$T/tapir-pop.sock" status 2>&1
		"$CONTROL" -s "$T/tapir-pop.sock" stats_noreset 2>&1 |
			grep -v '=0$'
	fi
	exit 1
}

ok() {
	echo "ok: $*"
}

# The user Unbound runs as (TAPIR_TEST_USER), its primary group; both ""
# when Unbound runs as root.
TEST_USER=${TAPIR_TEST_USER:-}
TEST_GROUP=""

# as_test_user CMD...: CMD as TEST_USER with its groups, as the daemon
# runs after dropping privileges.
as_test_user() {
	setpriv --reuid="$TEST_USER" --regid="$TEST_GROUP" --init-groups "$@"
}

if [ -n "$TEST_USER" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: TAPIR_TEST_USER=$TEST_USER needs root"
		exit 77
	fi
	# As Debian's unbound.postinst creates it. Tests running in
	# parallel may race to it: one creates it, the others find it.
	getent passwd "$TEST_USER" >/dev/null ||
		adduser --quiet --system --group --no-create-home \
			--home "/var/lib/$TEST_USER" "$TEST_USER" ||
		getent passwd "$TEST_USER" >/dev/null ||
		fail "cannot create user $TEST_USER"
	TEST_GROUP=$(id -gn "$TEST_USER") || fail "no group of $TEST_USER"
	chown "root:$TEST_GROUP" "$T" && chmod 0770 "$T" ||
		fail "cannot give $T to group $TEST_GROUP"
	# dlopen() runs after the drop: the user must reach the module.
	as_test_user test -r "$MODULE" ||
		fail "$TEST_USER cannot read $MODULE (a parent directory closed to it?)"
	as_test_user test -w "$T" ||
		fail "$TEST_USER cannot write in $T (TMPDIR=${TMPDIR:-/tmp} closed to it?)"
fi

# daemon_reads FILE...: files the daemon reads after dropping privileges,
# installed as a package installs its conffile: root:GROUP, 0640.
daemon_reads() {
	[ -n "$TEST_USER" ] || return 0
	chown "root:$TEST_GROUP" "$@" && chmod 0640 "$@" ||
		fail "daemon_reads $*"
}

# daemon_dir DIR...: directories the daemon writes in (state-dir): made,
# owned by the user it runs as, 0750, as the package's postinst makes
# /var/lib/unbound/tapir-pop.
daemon_dir() {
	mkdir -p "$@" || fail "mkdir $*"
	[ -n "$TEST_USER" ] || return 0
	chown "$TEST_USER:$TEST_GROUP" "$@" && chmod 0750 "$@" ||
		fail "daemon_dir $*"
}

# A TCP+UDP port on 127.0.0.1 that nothing listens on.
free_port() {
	while :; do
		p=$(shuf -i 20000-59999 -n 1)
		if ! ss -Htuln "( sport = :$p )" | grep -q .; then
			echo "$p"
			return
		fi
	done
}

start_mosquitto() {
	# A port picked free can be taken by a parallel test before the
	# broker binds it: then pick another, unless the port was fixed.
	for _ in 1 2 3; do
		fixed=${MQTT_PORT:+yes}
		MQTT_PORT=${MQTT_PORT:-$(free_port)}
		cat >"$T/mosquitto.conf" <<EOC
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest file $T/mosquitto.log
# Test broker: keep the test user so it can read the files under $T.
user root
${MOSQUITTO_EXTRA:-}
EOC
		mosquitto -c "$T/mosquitto.conf" >>"$T/mosquitto.out" 2>&1 &
		MOSQUITTO_PID=$!
		PIDS="$PIDS $MOSQUITTO_PID"
		for _ in $(seq 100); do
			ss -Htln "( sport = :$MQTT_PORT )" | grep -q . &&
				kill -0 "$MOSQUITTO_PID" 2>/dev/null && return 0
			kill -0 "$MOSQUITTO_PID" 2>/dev/null || break
			sleep 0.1
		done
		[ "$fixed" = yes ] && break
		MQTT_PORT=""
	done
	fail "mosquitto did not start: $(tail -n 3 "$T/mosquitto.out" "$T/mosquitto.log" 2>/dev/null)"
}

stop_mosquitto() {
	kill "$MOSQUITTO_PID"
	wait "$MOSQUITTO_PID" 2>/dev/null
}

# start_knot: the test root zone, on a Knot primary (start_primary) at
# 127.0.0.1@KNOT_PORT, pid KNOT_PID. ZONE_EXTRA: more records for it. A
# test's own primary (PRIMARY_PORT, PRIMARY_PID) is left as it was.
start_knot() {
	mkdir -p "$T/knot"
	cat >"$T/knot/..zone" <<EOZ
\$TTL 3600
.		SOA	ns.root-test. hostmaster.root-test. 1 3600 600 86400 60
.		NS	ns.root-test.
ns.root-test.	A	127.0.0.1
*.example.	A	192.0.2.10
*.example.	AAAA	2001:db8::10
*.se.		A	192.0.2.20
*.org.		A	192.0.2.30
alias.org.	CNAME	chain.org.
chain.org.	CNAME	target.org.
short.org.	10	A	192.0.2.31
${ZONE_EXTRA:-}
EOZ
	_port=${PRIMARY_PORT:-} _pid=${PRIMARY_PID:-}
	PRIMARY_TSIG='' PRIMARY_UPDATE='' PRIMARY_NOTIFY='' \
		start_primary "$T/knot" .
	KNOT_PORT=$PRIMARY_PORT KNOT_PID=$PRIMARY_PID
	PRIMARY_PORT=$_port PRIMARY_PID=$_pid
}

# remote_peer PID: for the benchmarks, a process that stands in for one on
# another machine (the broker and publisher of the TAPIR core, an RPZ
# primary) runs SCHED_IDLE, all its threads, below every Unbound worker;
# PEERS_IDLE=no leaves it at Unbound's priority. On the 2 cores a
# benchmark shares with Unbound, the broker at Unbound's priority took a
# core from the worker answering the stream for a whole scheduler slice
# (5 ms, seen with perf sched) while it relayed a burst to the module.
remote_peer() {
	[ "${PEERS_IDLE:-yes}" = no ] || chrt -i -a -p 0 "$1" >/dev/null
}

# peer_run CMD...: run CMD as remote_peer would leave it (threads it starts
# may still raise their own priority, as bench_block's query stream does).
peer_run() {
	if [ "${PEERS_IDLE:-yes}" = no ]; then "$@"; else chrt -i 0 "$@"; fi
}

# start_primary DIR ZONE: a Knot primary for ZONE, from DIR/ZONE.zone, on
# a free loopback port PRIMARY_PORT, pid PRIMARY_PID. It allows transfers
# to 127.0.0.1, signed with the TSIG key "xfr-key" (hmac-sha256) when
# PRIMARY_TSIG holds its secret; dynamic updates from 127.0.0.1 when
# PRIMARY_UPDATE is set; sends NOTIFY to PRIMARY_NOTIFY (ADDR@PORT) when
# set. Returns once serial 1 is loaded, within PRIMARY_WAIT s (15); a port
# taken before knotd binds it means another try on another port.
start_primary() {
	for _ in 1 2 3; do
		PRIMARY_PORT=$(free_port)
		write_primary_config "$@" >"$1/knot.conf"
		rm -rf "$1/db" && mkdir -p "$1/db"
		knotd -c "$1/knot.conf" >>"$1/knotd.out" 2>&1 &
		PRIMARY_PID=$!
		PIDS="$PIDS $PRIMARY_PID"
		end=$(( $(date +%s) + ${PRIMARY_WAIT:-15} ))
		while kill -0 "$PRIMARY_PID" 2>/dev/null &&
			[ "$(date +%s)" -le "$end" ]; do
			knotc -c "$1/knot.conf" zone-status "$2" 2>/dev/null |
				grep -q 'serial: 1' && return 0
			sleep 0.1
		done
		kill "$PRIMARY_PID" 2>/dev/null
		wait "$PRIMARY_PID" 2>/dev/null
	done
	fail "primary for $2 did not start: $(tail -n 5 "$1/knot.log" "$1/knotd.out" 2>/dev/null)"
}

write_primary_config() {
	acl=xfr
	cat <<EOK
server:
    listen: 127.0.0.1@$PRIMARY_PORT
    rundir: "$1"
database:
    storage: "$1/db"
control:
    listen: "$1/knot.sock"
log:
  - target: "$1/knot.log"
    any: info
EOK
	if [ -n "${PRIMARY_TSIG:-}" ]; then
		printf 'key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: %s\n' \
			"$PRIMARY_TSIG"
	fi
	if [ -n "${PRIMARY_NOTIFY:-}" ]; then
		printf 'remote:\n  - id: secondary\n    address: %s\n' \
			"$PRIMARY_NOTIFY"
	fi
	printf 'acl:\n  - id: xfr\n    address: 127.0.0.1\n    action: transfer\n'
	if [ -n "${PRIMARY_TSIG:-}" ]; then
		printf '    key: xfr-key\n'
	fi
	if [ -n "${PRIMARY_UPDATE:-}" ]; then
		printf '  - id: upd\n    address: 127.0.0.1\n    action: update\n'
		acl="xfr, upd"
	fi
	cat <<EOK
template:
  - id: default
    storage: "$1"
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: $2
    file: "$2.zone"
    acl: [$acl]
EOK
	if [ -n "${PRIMARY_NOTIFY:-}" ]; then
		printf '    notify: secondary\n'
	fi
}

# write_module_config [extra yaml]
write_module_config() {
	cp "$top_srcdir/examples/keys/demo-keys.json" "$T/keys.json"
	cat >"$T/tapir-pop.yaml" <<EOY
mqtt:
  broker: ${MQTT_SCHEME:-mqtt}://127.0.0.1:$MQTT_PORT
  client-id: tapir-pop-test-$$
${MQTT_EXTRA:-}
  reconnect-min: 1
  reconnect-max: 2
keys: $T/keys.json
sources:
  - name: dns-tapir
    type: mqtt
    list: doubtlist
    topics: [$TOPIC]
policy:
  doubtlist:
    numtapirtags: { limit: 2, action: NXDOMAIN }
    denytapir: { tags: [likelymalware], action: NXDOMAIN }
answer:
  negative-ttl: 60
control:
  socket: $T/tapir-pop.sock
${1:-}
EOY
	daemon_reads "$T/tapir-pop.yaml" "$T/keys.json"
}

# The environment an unbound binary needs to load the module: a sanitizer
# build of the module needs its runtime loaded first into the
# (uninstrumented) daemon; reports go to files checked at exit. Used as
# `env $MODULE_ENV unbound ...` so that $! is the daemon's PID.
# TAPIR_POP_SOCKET: where an inactive module (no configuration loaded, so
# no control.socket) answers status, instead of /run/unbound.
MODULE_ENV="ASAN_OPTIONS=detect_leaks=0:log_path=$T/sanitizer UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$T/sanitizer TAPIR_POP_SOCKET=$T/tapir-pop.sock"
if ldd "$MODULE" 2>/dev/null | grep -q libasan; then
	MODULE_ENV="$MODULE_ENV LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
fi

write_unbound_config() {
	UNBOUND_PORT=${UNBOUND_PORT:-$(free_port)}
	write_resolver_config unbound "$UNBOUND_PORT" \
		"${MODULE_CONFIG:-dynlib iterator}"
}

# write_resolver_config NAME PORT MODULES: $T/NAME.conf, an Unbound on
# 127.0.0.1@PORT resolving from the test root, its log $T/NAME.log, its
# control socket $T/NAME-control.sock (CONTROL_IF and CONTROL_PORT put it
# elsewhere); tapir-pop.so is loaded when
# MODULES (the module-config) names dynlib. UNBOUND_EXTRA goes into the
# server: clause. The benchmarks' daemons without the module, or with
# Unbound's own RPZ, differ from the module's only by NAME and MODULES.
write_resolver_config() {
	cat >"$T/$1.conf" <<EOU
server:
    interface: 127.0.0.1
    port: $2
    do-daemonize: no
    username: "$TEST_USER"
    chroot: ""
    directory: "$T"
    pidfile: "$T/$1.pid"
    logfile: "$T/$1.log"
    use-syslog: no
    verbosity: 1
    num-threads: 2
    module-config: "$3"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    extended-statistics: yes
    ${UNBOUND_EXTRA:-}
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@$KNOT_PORT
remote-control:
    control-enable: yes
    control-interface: "${CONTROL_IF:-$T/$1-control.sock}"
    ${CONTROL_PORT:+control-port: $CONTROL_PORT}
    control-use-cert: no
EOU
	case "$3" in
	*dynlib*) printf 'dynlib:\n    dynlib-file: "%s"\n' "$MODULE" >>"$T/$1.conf" ;;
	esac
}

start_unbound() {
	# A port picked free can be taken by a parallel test before Unbound
	# binds it: then pick another (callers read $UNBOUND_PORT after).
	for attempt in 1 2 3; do
		write_unbound_config
		: >"$T/unbound.stderr.try"
		# shellcheck disable=SC2086
		env $MODULE_ENV "$UNBOUND" -d -c "$T/unbound.conf" \
			>>"$T/unbound.stderr.try" 2>&1 &
		UNBOUND_PID=$!
		PIDS="$PIDS $UNBOUND_PID"
		for _ in $(seq 100); do
			if ! kill -0 "$UNBOUND_PID" 2>/dev/null; then
				cat "$T/unbound.stderr.try" >>"$T/unbound.stderr"
				if grep -qi "address already in use" "$T/unbound.stderr.try" &&
					[ "$attempt" -lt 3 ]; then
					UNBOUND_PORT=$(free_port)
					continue 2
				fi
				fail "unbound exited: $(tail -n 5 "$T/unbound.log" "$T/unbound.stderr" 2>/dev/null)"
			fi
			if kdig +timeout=1 +retry=0 @127.0.0.1 -p "$UNBOUND_PORT" \
				up.example A 2>/dev/null | grep -q "status: NOERROR"; then
				cat "$T/unbound.stderr.try" >>"$T/unbound.stderr"
				check_unbound_user
				return 0
			fi
			sleep 0.1
		done
		fail "unbound did not answer"
	done
}

# The daemon answers as the user it was told to drop to (root otherwise).
check_unbound_user() {
	want=${TEST_USER:-root}
	got=$(ps -o user= -p "$UNBOUND_PID" | tr -d ' ')
	[ "$got" = "$want" ] || fail "unbound runs as '$got', not $want"
}

# rcode NAME [TYPE] [kdig options]: prints NOERROR, NXDOMAIN, ...
rcode() {
	name=$1
	shift
	type=${1:-A}
	[ $# -gt 0 ] && shift
	kdig +timeout=2 +retry=0 "$@" @127.0.0.1 -p "$UNBOUND_PORT" "$name" \
		"$type" 2>/dev/null | sed -n 's/.*status: \([A-Z]*\).*/\1/p'
}

# publish_observe NAME TAGS [ttl] [extra tapir-pop-sign options]
publish_observe() {
	name=$1
	tags=$2
	ttl=${3:-3600}
	shift 2
	[ $# -gt 0 ] && shift
	"$SIGN" -k "$top_srcdir/examples/keys/demo-signer.jwk" \
		--observe "$name" --tags "$tags" --ttl "$ttl" "$@" >"$T/msg.json" ||
		fail "tapir-pop-sign failed"
	publish_file "$T/msg.json"
}

# publish_file FILE: the file's bytes as one MQTT message.
publish_file() {
	# shellcheck disable=SC2086
	mosquitto_pub ${MQTT_PUB_OPTS:-} -h 127.0.0.1 -p "$MQTT_PORT" \
		-t "$TOPIC" -q 1 -f "$1" ||
		fail "mosquitto_pub failed"
}

# sign_feed PREFIX N: N signed observations that block PREFIX1.example to
# PREFIXN.example, one message a line in $T/feed.txt (for mosquitto_pub
# -l), signed up front in one process so that publishing is the only cost.
sign_feed() {
	# shellcheck disable=SC2046
	"$SIGN" -c -k "$top_srcdir/examples/keys/demo-signer.jwk" --tags 16 \
		--each $(seq -f "--observe $1%g.example" 1 "$2") >"$T/feed.txt" ||
		fail "tapir-pop-sign --each failed"
	[ "$(wc -l <"$T/feed.txt")" -eq "$2" ] || fail "feed has not $2 lines"
}

# feed_applied PREFIX: how many names of such a feed the module decided.
feed_applied() {
	"$CONTROL" -s "$T/tapir-pop.sock" list 2>/dev/null |
		grep -c "^$1[0-9]*\\.example"
}

# feed_all_applied PREFIX N
feed_all_applied() {
	[ "$(feed_applied "$1")" -eq "$2" ]
}

# stat_value NAME: a counter from tapir-pop-control stats_noreset.
stat_value() {
	"$CONTROL" -s "$T/tapir-pop.sock" stats_noreset |
		sed -n "s/^$1=//p"
}

# wait_until SECONDS COMMAND...: poll every 50 ms.
wait_until() {
	limit=$1
	shift
	end=$(( $(date +%s%N) + limit * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

decided() {
	"$CONTROL" -s "$T/tapir-pop.sock" lookup "$1" 2>/dev/null |
		grep -q "^action: $2\$"
}

# blocked_within SECONDS NAME: the module decides NXDOMAIN for NAME within
# SECONDS, and then a client gets NXDOMAIN. The name is not queried before
# the decision exists: an earlier answer would sit in Unbound's message
# cache, which answers before any module runs.
blocked_within() {
	wait_until "$1" decided "$2" NXDOMAIN || return 1
	[ "$(rcode "$2")" = NXDOMAIN ]
}

is_rcode() {
	[ "$(rcode "$1" "${3:-A}")" = "$2" ]
}

mqtt_connected() {
	"$CONTROL" -s "$T/tapir-pop.sock" status 2>/dev/null |
		grep -q '^mqtt: connected'
}

# reload_unbound: unbound-control reload, then wait until the module is
# loaded anew and connected (the control command answers before Unbound
# has actually reloaded).
reload_unbound() {
	loads=$(grep -c "tapir-pop .*: loaded for Unbound" "$T/unbound.log")
	"$UNBOUND_CONTROL" -c "$T/unbound.conf" reload >/dev/null ||
		fail "unbound-control reload"
	wait_until 10 sh -c "[ \$(grep -c 'tapir-pop .*: loaded for Unbound' $T/unbound.log) -gt $loads ]" ||
		fail "module not reloaded"
	wait_until 10 mqtt_connected || fail "module not connected after reload"
}

start_all() {
	start_mosquitto
	start_knot
	write_module_config "${1:-}"
	start_unbound
	wait_until 10 mqtt_connected || fail "module did not connect to mosquitto"
}
