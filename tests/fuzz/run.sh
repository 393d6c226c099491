#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS - run every libFuzzer target for a
# bounded time over a scratch copy of its seed corpus; fails on any crash,
# leak, sanitizer report or timeout. Crash inputs are kept in BUILD_DIR.
set -euo pipefail
build=$1
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for target in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$target" ] || continue
	name=$(basename "$target")
	seeds="$here/corpus/${name#fuzz_}"
	work=$(mktemp -d)
	cp -r "$seeds"/. "$work"/ 2>/dev/null || true
	echo "fuzz: $name for ${seconds}s from $(ls "$work" | wc -l) seeds"
	if ! "$target" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/" "$work" 2>"$build/$name.log"; then
		tail -40 "$build/$name.log"
		rc=1
	else
		grep -E 'stat::number_of_executed_units|Done' "$build/$name.log" | tail -2
	fi
	rm -rf "$work"
done
exit $rc
