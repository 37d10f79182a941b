#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Set up a fresh Debian 12 machine and run every test: unit tests (cmocka),
# fuzz corpus replay, integration tests against a real mosquitto, Knot and
# the dynlib Unbound (Debian's 1.17.1); the whole suite again under
# AddressSanitizer and UndefinedBehaviorSanitizer, and against upstream
# Unbound 1.26.0; the integration tests once more with Unbound dropping
# privileges to user unbound; make distcheck; the RPM source package and
# rpmlint; the Debian packages built and tested as installed in a fresh
# Debian 12 root; the formatting check.
# Run as root.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)
newest=1.26.0

sh scripts/install-deps.sh
sh scripts/build-unbound.sh "$top/_unbound"
# The newest upstream release, from its tarball: $UNBOUND_TARBALL_DIR, or
# the team's test corpus beside the clone when there is one. Without it
# (a release cannot be fetched here) that run is skipped, and says so.
tarball_dir=${UNBOUND_TARBALL_DIR:-$top/../shared/unbound-src}
if [ -f "$tarball_dir/unbound-$newest.tar.gz" ]; then
	sh scripts/build-unbound.sh --upstream "$newest" \
		--tarball "$tarball_dir/unbound-$newest.tar.gz" \
		"$top/_unbound-$newest"
else
	echo "SKIP: Unbound $newest: no unbound-$newest.tar.gz in" \
		"$tarball_dir (set UNBOUND_TARBALL_DIR)"
	newest=
fi
[ -x configure ] || autoreconf -fi

fmt_bad=""
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find lib module tools tests -name '*.[ch]'); do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || fmt_bad="$fmt_bad $f"
done
if [ -n "$fmt_bad" ]; then
	echo "clang-format would change:$fmt_bad"
	exit 1
fi
echo "clang-format: clean"

status=0
logs=""
extra_pass=0
extra_fail=0

# check DIR LOG [make arguments]: make check in DIR, its summary in
# DIR/LOG; the logs of failed tests are shown.
check() {
	dir=$1 log=$2
	shift 2
	if ! make -C "$dir" -j"$jobs" check TEST_SUITE_LOG="$log" "$@"; then
		for t in "$dir"/tests/*/*.trs; do
			grep -q '^:test-result: \(FAIL\|ERROR\)' "$t" 2>/dev/null &&
				{ echo "=== ${t%.trs}.log"; tail -n 60 "${t%.trs}.log"; }
		done
		status=1
	fi
	logs="$logs $dir/$log"
}

# build DIR UNBOUND_TREE [configure options]
build() {
	dir=$1 tree=$2
	shift 2
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --enable-werror \
		--with-unbound-src="$tree" "$@" >configure.out) ||
		{ tail -n 30 "$dir/config.log"; exit 1; }
	make -C "$dir" -j"$jobs" >"$dir/make.out" 2>&1 ||
		{ tail -n 40 "$dir/make.out"; exit 1; }
}

# extra NAME COMMAND...: one more test, counted as one.
extra() {
	name=$1
	shift
	if "$@"; then
		echo "PASS: $name"
		extra_pass=$((extra_pass + 1))
	else
		echo "FAIL: $name"
		extra_fail=$((extra_fail + 1))
		status=1
	fi
}

build "$top/_build-ci" "$top/_unbound/src"
check "$top/_build-ci" test-suite.log
build "$top/_build-asan" "$top/_unbound/src" --with-sanitizer=address,undefined
check "$top/_build-asan" test-suite.log
if [ -n "$newest" ]; then
	build "$top/_build-$newest" "$top/_unbound-$newest/src"
	check "$top/_build-$newest" test-suite.log
fi

# The integration tests once more with `username: unbound`: the module's
# init(), its threads and files run as the unbound user, as when packaged.
integration=$(make -s -C "$top/_build-ci" print-integration-tests)
check "$top/_build-ci" test-suite-user.log TAPIR_TEST_USER=unbound \
	TESTS="$integration"

# 100 unbound-control reloads under load, once: too long for every build.
check "$top/_build-ci" test-suite-storm.log \
	TESTS=tests/integration/reload-storm.sh

# The libFuzzer targets build (clang) and replay their corpora under
# ASan+UBSan; fuzzing campaigns themselves are run by hand:
#   ./tests/fuzz/fuzz_msg -max_total_time=600 tests/fuzz/fuzz_msg.in
fuzz_dir="$top/_build-fuzz"
mkdir -p "$fuzz_dir"
(cd "$fuzz_dir" && CC=clang "$top/configure" --enable-werror --with-fuzzer \
	--with-sanitizer=address,undefined >configure.out) ||
	{ tail -n 30 "$fuzz_dir/config.log"; exit 1; }
fuzzers=$(cd "$top/tests/fuzz" && ls -d fuzz_*.in | sed 's/\.in$//')
for f in $fuzzers; do
	make -C "$fuzz_dir" "tests/fuzz/$f" >"$fuzz_dir/make-$f.out" 2>&1 ||
		{ tail -n 30 "$fuzz_dir/make-$f.out"; exit 1; }
	extra "libFuzzer $f corpus replay" sh -c \
		'"$1" -runs=0 "$2" >"$3" 2>&1 || { tail -n 30 "$3"; exit 1; }' \
		sh "$fuzz_dir/tests/fuzz/$f" "$top/tests/fuzz/$f.in" "$fuzz_dir/$f.log"
done

# The release tarball builds, passes its tests, installs and uninstalls
# cleanly, from a read-only source tree (lib/, tools and unit tests: the
# module needs an Unbound tree, built above).
dist_dir="$top/_build-dist"
mkdir -p "$dist_dir"
(cd "$dist_dir" && "$top/configure" >configure.out) ||
	{ tail -n 30 "$dist_dir/config.log"; exit 1; }
extra "make distcheck" sh -c \
	'make -C "$1" -j"$2" distcheck >"$1/distcheck.out" 2>&1 ||
		{ tail -n 40 "$1/distcheck.out"; exit 1; }' sh "$dist_dir" "$jobs"

# The RPM spec: what Debian's rpm and rpmlint can check of it.
extra "RPM source package and rpmlint (packaging/rpm/check.sh)" \
	sh packaging/rpm/check.sh "$(ls "$dist_dir"/unbound-tapir-pop-*.tar.gz)"

# The Debian packages, built from Debian's sources and tested as an
# operator installs them.
extra "Debian packages build (packaging/debian/build.sh)" \
	sh packaging/debian/build.sh "$top/dist"
extra "Debian packages as installed (tests/package/install-test.sh)" \
	sh tests/package/install-test.sh "$top/dist" "$top/_build-ci"

pass=$extra_pass
fail=$extra_fail
for log in $logs; do
	p=$(sed -n 's/^# PASS: *//p' "$log" | head -n 1)
	f=$(sed -n 's/^# FAIL: *//p' "$log" | head -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$log" | head -n 1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0}))
done
echo "$pass passed, $fail failed"
[ "$status" = 0 ] && [ "$fail" = 0 ]
