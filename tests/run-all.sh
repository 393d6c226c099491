#!/usr/bin/env bash
# tests/run-all.sh - install what is needed, build, and run every test:
# format check, -Werror build, the layering check (tests/layering.py),
# Check unit tests, integration tests against the real daemon with clients
# we did not write, the unit suite under ASan+UBSan, a 3-minute soak of the
# ASan daemon (bench/soak.sh --asan: loss of steady flows, fds, a clean
# exit with LeakSanitizer silent; it reuses build-asan, so it runs after
# sanitize), and a bounded libFuzzer run over the parsers. Prints the time
# of each stage and, last, one line "N passed, N failed". Exit 0 only when
# every stage passed.
#   FUZZ_SECONDS   length of each fuzz target's run (default 40; targets:
#                  STUN codec, TURN core, RTP quality estimator, the JSON
#                  reader and writer, cluster records from Redis, the
#                  configuration file and command line)
#   SOAK_MINUTES   length of the soak stage's run (default 3)
#   STAGES         space-separated subset of stages to run (default: all)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)
FUZZ_SECONDS=${FUZZ_SECONDS:-40}
SOAK_MINUTES=${SOAK_MINUTES:-3}
ALL_STAGES="deps format build layering unit integration sanitize soak fuzz"
STAGES=${STAGES:-$ALL_STAGES}
passed=0
failed=0
failed_names=()

stage() { # stage NAME COMMAND...
	local name=$1 t0 t1 rc
	shift
	case " $STAGES " in *" $name "*) ;; *) return 0 ;; esac
	echo "=== stage $name: start $(date -u +%H:%M:%S)"
	t0=$(date +%s)
	"$@"
	rc=$?
	t1=$(date +%s)
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		echo "=== stage $name: ok in $((t1 - t0)) s"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "=== stage $name: FAILED (exit $rc) in $((t1 - t0)) s"
	fi
}

deps() { bash deploy/install-deps.sh; }

format() {
	local files bad
	files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
	# shellcheck disable=SC2086
	bad=$(clang-format --dry-run $files 2>&1 | grep -c 'warning:' || true)
	if [ "$bad" != 0 ]; then
		# shellcheck disable=SC2086
		clang-format --dry-run $files 2>&1 | head -20
		echo "clang-format: $bad lines need formatting (run clang-format -i)"
		return 1
	fi
}

build() {
	cmake -S . -B build -DAVEDGE_WERROR=ON -DAVEDGE_TESTS=ON >/dev/null &&
		cmake --build build -j"$JOBS"
}

# The floors of the code (docs/layout.md): includes and, from the objects
# of the build, calls; first on a made-up tree with one file that breaks
# them, which must fail, so a check that stopped seeing is noticed.
layering() {
	local t rc
	t=$(mktemp -d)
	mkdir -p "$t/edge/net" "$t/edge/admin"
	touch "$t/edge/admin/admin.h"
	echo '#include "edge/admin/admin.h"' >"$t/edge/net/bad.c"
	LAYERING_ROOT=$t python3 tests/layering.py >/dev/null
	rc=$?
	rm -rf "$t"
	if [ $rc -ne 1 ]; then
		echo "layering: the check passed a tree that breaks the floors"
		return 1
	fi
	python3 tests/layering.py build
}

unit() {
	(cd build && ctest --no-tests=error --output-on-failure -j"$JOBS")
}

integration() {
	AVEDGE_BUILD="$ROOT/build" python3 -m unittest discover -v \
		-s tests/integration -p 'test_*.py'
}

sanitize() {
	CC=clang cmake -S . -B build-asan -DAVEDGE_WERROR=ON \
		-DAVEDGE_SANITIZE=ON -DAVEDGE_TESTS=ON >/dev/null &&
		cmake --build build-asan -j"$JOBS" &&
		(cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			CK_TIMEOUT_MULTIPLIER=4 ctest --no-tests=error --output-on-failure -j"$JOBS")
}

# The daemon of build-asan (built by the sanitize stage) under mixed load:
# bench/soak.sh --asan keeps the loss, fd and clean-exit rules (a leak makes
# the exit status non-zero) and drops the RSS rule (bench/README.md, Soak).
soak() {
	if [ ! -x build-asan/avedge ]; then
		echo "soak: build-asan/avedge is missing: run the sanitize stage first"
		return 1
	fi
	bash bench/soak.sh --minutes "$SOAK_MINUTES" --avedge build-asan/avedge --asan
}

fuzz() {
	CC=clang cmake -S . -B build-fuzz -DAVEDGE_FUZZ=ON -DAVEDGE_TESTS=OFF \
		>/dev/null &&
		cmake --build build-fuzz -j"$JOBS" --target fuzz_stun fuzz_turn \
			fuzz_rtpq fuzz_json fuzz_redis fuzz_config &&
		bash tests/fuzz/run.sh build-fuzz "$FUZZ_SECONDS"
}

stage deps deps
stage format format
stage build build
stage layering layering
stage unit unit
stage integration integration
stage sanitize sanitize
stage soak soak
stage fuzz fuzz

if [ $failed -ne 0 ]; then
	echo "failed stages: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
