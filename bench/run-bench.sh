#!/usr/bin/env bash
# bench/run-bench.sh - avedge vs coturn vs a bare UDP forwarder, side by side
# on this machine, in alternating rounds, with one load generator
# (tools/avedge-load). Everything stays on loopback; every load is bounded.
# See bench/README.md for what is measured and how.
#
#   bench/run-bench.sh [--quick] [--rounds N] [--servers "avedge coturn bare"]
#                      [--avedge PATH] [--coturn PATH] [--port P]
#                      [--window W] [--out FILE.md] [--no-build]
#                      [--avedge-base PATH] [--rtp]
#
# --avedge-base PATH adds a server "avedge-base": the same command line
# with another avedge binary (an older build), to measure what a change
# costs. --rtp makes every payload an RTP packet (avedge-load --rtp), so
# per-flow RTP quality code runs on every relayed packet.
#
# Prints a markdown table and writes it to bench/results-<date>.md, with the
# raw measurements (one JSON object per test) in bench/results-<date>.jsonl.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build-bench
ROUNDS=3
QUICK=0
SERVERS="avedge coturn bare"
AVEDGE_BIN=$REPO/build/avedge
AVEDGE_BASE_BIN=""
RTP_ARGS=()
COTURN_BIN=/usr/bin/turnserver
PORT=34780
MIN_PORT=10000 # relay ports, outside the kernel's ephemeral range
MAX_PORT=29999
WINDOW=8 # closed loop: packets in flight per client
CLIENTS=200
DO_BUILD=1
OUT=""

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--avedge) AVEDGE_BIN=$2; shift ;;
	--avedge-base) AVEDGE_BASE_BIN=$2; shift ;;
	--rtp) RTP_ARGS=(--rtp) ;;
	--coturn) COTURN_BIN=$2; shift ;;
	--port) PORT=$2; shift ;;
	--window) WINDOW=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-build) DO_BUILD=0 ;;
	-h | --help) usage 0 ;;
	*) echo "run-bench: unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	ROUNDS=1 DURATION=3 WARMUP=1 ALLOCS=2000 MEM_ALLOCS=3000 HOLD=1
else
	DURATION=8 WARMUP=2 ALLOCS=5000 MEM_ALLOCS=10000 HOLD=3
fi
DATE=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$REPO/bench/results-$DATE.md
RAW=${OUT%.md}.jsonl
LOAD=$BUILD/tools/avedge-load
BARE=$BUILD/tools/bare-forwarder

if [ "$DO_BUILD" = 1 ]; then
	cmake -S "$REPO" -B "$BUILD" -DAVEDGE_WERROR=ON -DAVEDGE_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" --target avedge-load bare-forwarder >/dev/null
fi
if [ ! -x "$LOAD" ] || [ ! -x "$BARE" ]; then
	echo "run-bench: build $LOAD and $BARE first" >&2
	exit 1
fi

# Each client and each server allocation holds a socket.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/avedge-bench.XXXXXX)
SERVER_PID=""
stop_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The exact server command lines (also printed in the results).
server_cmd() {
	case "$1" in
	avedge | avedge-base)
		local bin=$AVEDGE_BIN
		[ "$1" = avedge-base ] && bin=$AVEDGE_BASE_BIN
		echo "$bin --listening-ip 127.0.0.1 --listening-port $PORT" \
		"--relay-ip 127.0.0.1 --min-port $MIN_PORT --max-port $MAX_PORT" \
		"--realm bench --user bench:bench --allow-loopback-peers" \
		"--threads 2 --lock-dir $TMP/lock" ;;
	coturn) echo "$COTURN_BIN -n --listening-ip=127.0.0.1 --listening-port=$PORT" \
		"--relay-ip=127.0.0.1 --min-port=$MIN_PORT --max-port=$MAX_PORT" \
		"--lt-cred-mech --user=bench:bench --realm=bench" \
		"--allow-loopback-peers --relay-threads=2 --no-cli --no-tls" \
		"--no-dtls --no-stdout-log --log-file=$TMP/coturn.log" \
		"--pidfile=$TMP/coturn.pid --userdb=$TMP/turndb" ;;
	bare) echo "$BARE --listen 127.0.0.1:$PORT --relay-ip 127.0.0.1" \
		"--min-port $MIN_PORT --max-port $MAX_PORT --threads 2" ;;
	esac
}

SKIP=" "
BIN_ID=-
# Start a server and wait until its UDP port is bound and (TURN servers)
# an Allocate succeeds. Returns 1, with the reason logged, if it cannot.
start_server() {
	local s=$1 cmd
	cmd=$(server_cmd "$s")
	BIN_ID=-
	case "$s" in
	avedge | avedge-base)
		local bin=$AVEDGE_BIN
		[ "$s" = avedge-base ] && bin=$AVEDGE_BASE_BIN
		[ -x "$bin" ] || { log "$s: $bin not built - skipped"; return 1; }
		mkdir -p "$TMP/lock"
		# The binary may be rebuilt while we run: record which one ran.
		BIN_ID=$(sha256sum "$bin" | cut -c1-12) ;;
	coturn) [ -x "$COTURN_BIN" ] || { log "coturn: $COTURN_BIN missing - skipped"; return 1; } ;;
	esac
	# shellcheck disable=SC2086
	$cmd >"$TMP/$s.out" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		ss -Hlun "sport = :$PORT" | grep -q . && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		log "$s: exited at start - skipped: $(tail -3 "$TMP/$s.out" | tr '\n' ' ')"
		SERVER_PID=""
		return 1
	fi
	local probe=(--allocs-only 1 --max-tries 4 --rto 250)
	[ "$s" = bare ] && probe=(--bare -c 1 -r 100 -d 0.2 --warmup 0 --drain 0.1 --max-tries 4)
	if ! "$LOAD" -s "127.0.0.1:$PORT" -u bench -p bench "${probe[@]}" \
		>/dev/null 2>"$TMP/probe.err"; then
		log "$s: first Allocate failed - skipped: $(cat "$TMP/probe.err")"
		stop_server
		return 1
	fi
	return 0
}

# run_test SERVER ROUND TEST avedge-load-args...
run_test() {
	local s=$1 r=$2 t=$3 line
	shift 3
	local args=(-s "127.0.0.1:$PORT" --server-pid "$SERVER_PID" --json
		--label "$s/$t/$r")
	if [ "$s" = bare ]; then args+=(--bare); else args+=(-u bench -p bench); fi
	if line=$("$LOAD" "${args[@]}" "$@" 2>"$TMP/load.err"); then
		echo "$line" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read()); d.update(server=sys.argv[1], round=int(sys.argv[2]), test=sys.argv[3], args=sys.argv[4], binary=sys.argv[5])
print(json.dumps(d))' "$s" "$r" "$t" "$*" "$BIN_ID" >>"$RAW"
		log "  $s $t: $(echo "$line" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read())
ks=["relayed_pps","relayed_per_server_cpu_s","loss_pct","rtt_p50_us","rtt_p99_us","tool_cpu_pct","allocs_per_server_cpu_s","rss_per_alloc_bytes"]
print(" ".join("%s=%s" % (k, d[k]) for k in ks if d.get(k) is not None))')"
	else
		log "  $s $t: FAILED: $(cat "$TMP/load.err")"
	fi
}

DATA=(-c "$CLIENTS" -d "$DURATION" --warmup "$WARMUP" "${RTP_ARGS[@]}")
run_server_round() {
	local s=$1 r=$2
	# Memory on a fresh process: RSS growth over MEM_ALLOCS held allocations.
	if [ "$s" != bare ]; then
		start_server "$s" || { SKIP+="$s "; return; }
		run_test "$s" "$r" mem --allocs-only "$MEM_ALLOCS" --outstanding 64 --hold "$HOLD"
		stop_server
	fi
	start_server "$s" || { SKIP+="$s "; return; }
	run_test "$s" "$r" sat100 "${DATA[@]}" -w "$WINDOW" -b 100
	run_test "$s" "$r" sat1200 "${DATA[@]}" -w "$WINDOW" -b 1200
	run_test "$s" "$r" rate40k100 "${DATA[@]}" -r 40000 -b 100
	run_test "$s" "$r" rate40k1200 "${DATA[@]}" -r 40000 -b 1200
	run_test "$s" "$r" idle "${DATA[@]}" -r 1000 -b 100
	[ "$s" != bare ] && run_test "$s" "$r" allocs --allocs-only "$ALLOCS" --outstanding 64
	stop_server
}

: >"$RAW"
log "rounds $ROUNDS, servers: $SERVERS; raw results in $RAW"
read -r -a LIST <<<"$SERVERS"
for r in $(seq "$ROUNDS"); do
	# Alternate the order so no server always runs first (or last).
	n=${#LIST[@]}
	for i in $(seq 0 $((n - 1))); do
		s=${LIST[$(((i + r - 1) % n))]}
		case "$SKIP" in *" $s "*) continue ;; esac
		log "round $r: $s"
		run_server_round "$s" "$r"
	done
done

{
	echo "# avedge benchmark, $DATE"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
		"kernel $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "avedge $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"(working tree), coturn $($COTURN_BIN --version 2>/dev/null | head -1 || echo '?')."
	echo "Rounds: $ROUNDS$([ "$QUICK" = 1 ] && echo ' (--quick)'); window ${DURATION} s after ${WARMUP} s warm-up;" \
		"$CLIENTS clients; closed loop W=$WINDOW; allocations $ALLOCS; memory over $MEM_ALLOCS held $HOLD s."
	[ "$SKIP" = " " ] || echo "Skipped:$SKIP(see the log above / bench/README.md)."
	python3 -c 'import json,sys
ids=[]
for l in open(sys.argv[1]):
    d=json.loads(l)
    if d["server"]=="avedge" and d.get("binary","-") not in ids: ids.append(d.get("binary"))
if len(ids)>1: print("**Warning: the avedge binary changed during the run** (sha256 prefixes %s in round order): its medians mix builds." % ", ".join(ids))
elif ids: print("avedge binary sha256 %s." % ids[0])' "$RAW"
	echo
	python3 "$REPO/bench/summarize.py" "$RAW"
	echo
	echo "Commands (\`\$P\` = $PORT, relay ports $MIN_PORT-$MAX_PORT):"
	echo
	echo '```'
	for s in $SERVERS; do server_cmd "$s" | sed -e "s#$TMP#TMP#g" -e "s#$REPO/##g"; done
	echo "${LOAD#"$REPO"/} -s 127.0.0.1:$PORT -u bench -p bench --server-pid PID --json ARGS  (--bare instead of -u/-p for bare)"
	python3 -c 'import json,sys
seen={}
for l in open(sys.argv[1]):
    d=json.loads(l); seen.setdefault(d["test"], d["args"])
for t,a in seen.items(): print("  %-12s ARGS = %s" % (t, a))' "$RAW"
	echo '```'
} >"$TMP/results.md"
cp "$TMP/results.md" "$OUT"
cat "$OUT"
log "written $OUT and $RAW"
