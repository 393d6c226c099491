#!/usr/bin/env bash
# bench/run-redis-bench.sh - what Redis costs avedge: the same node without
# and with `redis` (a real redis-server on loopback, started and stopped
# here), in alternating rounds, with tools/avedge-load. Measures
# Allocate (allocations per server CPU-second, allocations/s, Allocate
# latency p50/p99, and redis-server's own CPU per 1,000 allocations) and
# shows that relaying does not change (relayed packets per server
# CPU-second at saturation and at 40k pkts/s). Every load is bounded.
#
#   bench/run-redis-bench.sh [--quick] [--rounds N] [--avedge PATH]
#                            [--port P] [--out FILE.md]
#
# Both runs set --auth-rate-limit 0: the generator makes every Allocate
# from one address, and avedge's per-source 401 pacing would otherwise set
# the wall-clock rate (bench/README.md).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build-bench
ROUNDS=3
QUICK=0
AVEDGE_BIN=""
PORT=34800
OUT=""

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--avedge) AVEDGE_BIN=$2; shift ;;
	--port) PORT=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run-redis-bench: unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	ROUNDS=1 ALLOCS=2000 DURATION=3 WARMUP=1
else
	ALLOCS=5000 DURATION=8 WARMUP=2
fi
REDIS_PORT=$((PORT + 5))
DATE=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$REPO/bench/redis-results-$DATE.md
RAW=${OUT%.md}.jsonl
LOAD=$BUILD/tools/avedge-load

cmake -S "$REPO" -B "$BUILD" -DAVEDGE_WERROR=ON -DAVEDGE_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target avedge-load avedge >/dev/null
[ -n "$AVEDGE_BIN" ] || AVEDGE_BIN=$BUILD/avedge
command -v redis-server >/dev/null || { echo "run-redis-bench: redis-server missing" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/avedge-rbench.XXXXXX)
SERVER_PID=""
REDIS_PID=""
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
cleanup() { stop_pid "$SERVER_PID"; stop_pid "$REDIS_PID"; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$TMP" >"$TMP/redis.out" 2>&1 &
REDIS_PID=$!
for _ in $(seq 50); do
	redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done

server_cmd() {
	local extra=""
	[ "$1" = avedge-redis ] && extra="--redis redis://127.0.0.1:$REDIS_PORT/0 --node-id bench"
	echo "$AVEDGE_BIN --listening-ip 127.0.0.1 --listening-port $PORT" \
		"--relay-ip 127.0.0.1 --min-port 10000 --max-port 29999" \
		"--realm bench --user bench:bench --allow-loopback-peers" \
		"--threads 2 --auth-rate-limit 0 --lock-dir $TMP/lock $extra"
}

start_server() {
	local cmd
	cmd=$(server_cmd "$1")
	mkdir -p "$TMP/lock"
	# shellcheck disable=SC2086
	$cmd >"$TMP/$1.out" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		ss -Hlun "sport = :$PORT" | grep -q . && break
		sleep 0.1
	done
	sleep 1 # Redis: connected and registered
	"$LOAD" -s "127.0.0.1:$PORT" -u bench -p bench --allocs-only 1 \
		--max-tries 4 --rto 250 >/dev/null 2>&1 ||
		{ log "$1: first Allocate failed: $(tail -3 "$TMP/$1.out")"; return 1; }
}

run_test() { # SERVER ROUND TEST args...
	local s=$1 r=$2 t=$3 line rc0 rc1
	shift 3
	rc0=$(cpu_s "$REDIS_PID")
	if line=$("$LOAD" -s "127.0.0.1:$PORT" -u bench -p bench \
		--server-pid "$SERVER_PID" --json "$@" 2>"$TMP/load.err"); then
		rc1=$(cpu_s "$REDIS_PID")
		echo "$line" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read())
d.update(server=sys.argv[1], round=int(sys.argv[2]), test=sys.argv[3], redis_cpu_s=float(sys.argv[5])-float(sys.argv[4]))
print(json.dumps(d))' "$s" "$r" "$t" "$rc0" "$rc1" >>"$RAW"
		log "  $s $t ok"
	else
		log "  $s $t: FAILED: $(cat "$TMP/load.err")"
	fi
}

: >"$RAW"
LIST=(avedge avedge-redis)
for r in $(seq "$ROUNDS"); do
	for i in 0 1; do
		s=${LIST[$(((i + r - 1) % 2))]}
		log "round $r: $s"
		start_server "$s" || { stop_pid "$SERVER_PID"; continue; }
		run_test "$s" "$r" allocs --allocs-only "$ALLOCS" --outstanding 64
		run_test "$s" "$r" sat100 -c 200 -d "$DURATION" --warmup "$WARMUP" -w 8 -b 100
		run_test "$s" "$r" rate40k100 -c 200 -d "$DURATION" --warmup "$WARMUP" -r 40000 -b 100
		stop_pid "$SERVER_PID"
		SERVER_PID=""
	done
done

{
	echo "# avedge with and without Redis, $DATE"
	echo
	echo "Machine: $(nproc) CPUs, kernel $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "avedge $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'); $(redis-server --version | cut -d' ' -f1-3)."
	echo "Rounds: $ROUNDS; $ALLOCS Allocates (64 outstanding); data: 200 clients, ${DURATION} s after ${WARMUP} s."
	echo
	python3 - "$RAW" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(s, t, k, f=lambda d, k: d.get(k)):
    v = [f(d, k) for d in rows if d["server"] == s and d["test"] == t and f(d, k) is not None]
    return statistics.median(v) if v else None
per_k = lambda d, k: (1000.0 * d["redis_cpu_s"] / d["allocs_ok"]) if d.get("allocs_ok") else None
tests = [("allocs", "allocs_per_server_cpu_s", "Allocations per avedge CPU-s", None),
         ("allocs", "allocs_per_s", "Allocations/s, wall clock", None),
         ("allocs", "alloc_p50_ms", "Allocate latency p50, ms (lower is better)", None),
         ("allocs", "alloc_p99_ms", "Allocate latency p99, ms (lower is better)", None),
         ("allocs", "redis_cpu_per_1k", "redis-server CPU-s per 1,000 allocations", per_k),
         ("sat100", "relayed_per_server_cpu_s", "Relayed pkts per avedge CPU-s, saturation, 100 B", None),
         ("rate40k100", "relayed_per_server_cpu_s", "Relayed pkts per avedge CPU-s at 40k pkts/s", None),
         ("rate40k100", "loss_pct", "Loss at 40k pkts/s, %", None)]
print("| measure (median over rounds) | avedge | avedge + Redis | with / without |")
print("|---|---|---|---|")
for t, k, name, f in tests:
    a = med("avedge", t, k, f) if f else med("avedge", t, k)
    b = med("avedge-redis", t, k, f) if f else med("avedge-redis", t, k)
    fmt = lambda v: "-" if v is None else ("%.3f" % v if abs(v) < 10 else "%.0f" % v)
    ratio = "%.2fx" % (b / a) if a and b is not None else "-"
    print("| %s | %s | %s | %s |" % (name, fmt(a), fmt(b), ratio))
EOF
	echo
	echo "Commands (redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no):"
	echo
	echo '```'
	for s in avedge avedge-redis; do server_cmd "$s" | sed -e "s#$TMP#TMP#g" -e "s#$REPO/##g"; done
	echo "${LOAD#"$REPO"/} -s 127.0.0.1:$PORT -u bench -p bench --server-pid PID --json ARGS"
	echo "  allocs: --allocs-only $ALLOCS --outstanding 64"
	echo "  sat100: -c 200 -d $DURATION --warmup $WARMUP -w 8 -b 100"
	echo "  rate40k100: -c 200 -d $DURATION --warmup $WARMUP -r 40000 -b 100"
	echo '```'
} >"$TMP/results.md"
cp "$TMP/results.md" "$OUT"
cat "$OUT"
log "written $OUT and $RAW"
