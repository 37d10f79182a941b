#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Set up a fresh Debian 12 machine and run every test: unit tests (cmocka),
# fuzz corpus replay, integration tests against a real mosquitto, Knot and
# the dynlib Unbound, then the whole suite again under AddressSanitizer and
# UndefinedBehaviorSanitizer, and the formatting check. Run as root.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

sh scripts/install-deps.sh
sh scripts/build-unbound.sh "$top/_unbound"
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

summary=""
run_suite() {
	dir=$1
	shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --enable-werror \
		--with-unbound-src="$top/_unbound/src" "$@" >configure.out) ||
		{ tail -n 30 "$dir/config.log"; exit 1; }
	make -C "$dir" -j"$jobs" >"$dir/make.out" 2>&1 ||
		{ tail -n 40 "$dir/make.out"; exit 1; }
	if ! make -C "$dir" -j"$jobs" check; then
		for log in "$dir"/tests/*/*.log; do
			grep -q '^FAIL\|^ERROR' "${log%.log}.trs" 2>/dev/null &&
				{ echo "=== $log"; tail -n 60 "$log"; }
		done
		status=1
	fi
	summary="$summary $dir"
}

status=0
run_suite "$top/_build-ci"
run_suite "$top/_build-asan" --with-sanitizer=address,undefined

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
	if "$fuzz_dir/tests/fuzz/$f" -runs=0 "$top/tests/fuzz/$f.in" \
		>"$fuzz_dir/$f.log" 2>&1; then
		echo "PASS: libFuzzer $f corpus replay"
		fuzz_pass=$((${fuzz_pass:-0} + 1))
	else
		tail -n 30 "$fuzz_dir/$f.log"
		echo "FAIL: libFuzzer $f corpus replay"
		status=1
		fuzz_fail=$((${fuzz_fail:-0} + 1))
	fi
done

pass=${fuzz_pass:-0}
fail=${fuzz_fail:-0}
for dir in $summary; do
	p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" | head -n 1)
	f=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log" | head -n 1)
	e=$(sed -n 's/^# ERROR: *//p' "$dir/test-suite.log" | head -n 1)
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-0} + ${e:-0}))
done
echo "$pass passed, $fail failed"
[ "$status" = 0 ] && [ "$fail" = 0 ]
