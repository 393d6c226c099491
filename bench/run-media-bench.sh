#!/usr/bin/env bash
# bench/run-media-bench.sh - the desktop-sharing scenario (issue 13) as a
# benchmark: tools/edge-sim plays one MCU and N viewers, both legs relayed
# through the server on loopback, SRTP-protected RDP over RTP with bursts,
# against avedge and coturn in alternating rounds. Every load is bounded.
#
#   bench/run-media-bench.sh [--rounds N] [--rates "1.5M 3M 5M"]
#                            [--viewers N] [--duration S] [--warmup S]
#                            [--servers "avedge coturn"] [--avedge PATH]
#                            [--coturn PATH] [--port P] [--out FILE.md]
#                            [--no-build] [--runs-only] [--sim-args "ARGS"]
#
# --sim-args adds edge-sim options to every run (e.g. "--pdu-burst").
# --runs-only runs avedge alone, 5 consecutive runs at the first rate (the
# issue's acceptance check), and reports each run.
#
# Per run it records what edge-sim measured at the viewers (loss, SRTP
# auth failures, one-way delay p50/p99/p99.9, jitter, control loss), the
# server's CPU (utime+stime of its process over the run) and RSS at the
# end, the machine's softirq time over the run (network work the kernel
# does on behalf of both processes, not charged to either), kernel receive
# drops of the server's sockets by kind (bench/sockdrops.py reads them
# from /proc for any server), and edge-sim's own CPU, schedule slip and
# receive drops. A run where the simulator fell behind (its 1 ms ticks
# late by more than SLIP_P99_MAX_MS at the 99th percentile or SLIP_MAX_MS
# at worst, or drops in its own sockets) is marked not valid and is not
# counted as a server result.
#
# Writes bench/media-results-<date>.md and .jsonl; prints the table.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build-bench
ROUNDS=3
RATES="1.5M 3M 5M"
VIEWERS=100
DURATION=20
WARMUP=3
SERVERS="avedge coturn"
AVEDGE_BIN=""
COTURN_BIN=/usr/bin/turnserver
PORT=34790
MIN_PORT=10000
MAX_PORT=29999
DO_BUILD=1
RUNS_ONLY=0
SIM_EXTRA=()
OUT=""
SLIP_MAX_MS=${SLIP_MAX_MS:-25}    # worst tick
SLIP_P99_MAX_MS=${SLIP_P99_MAX_MS:-2} # 99th percentile of ticks
SEED=${SEED:-7}

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift ;;
	--rates) RATES=$2; shift ;;
	--viewers) VIEWERS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--avedge) AVEDGE_BIN=$2; shift ;;
	--coturn) COTURN_BIN=$2; shift ;;
	--port) PORT=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-build) DO_BUILD=0 ;;
	--runs-only) RUNS_ONLY=1 ;;
	--sim-args) read -r -a SIM_EXTRA <<<"$2"; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run-media-bench: unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

DATE=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$REPO/bench/media-results-$DATE.md
RAW=${OUT%.md}.jsonl
SIM=$BUILD/tools/edge-sim
[ -n "$AVEDGE_BIN" ] || AVEDGE_BIN=$BUILD/avedge

if [ "$DO_BUILD" = 1 ]; then
	cmake -S "$REPO" -B "$BUILD" -DAVEDGE_WERROR=ON -DAVEDGE_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" -j2 --target avedge edge-sim >/dev/null
fi
for f in "$SIM" "$AVEDGE_BIN"; do
	[ -x "$f" ] || { echo "run-media-bench: build $f first" >&2; exit 1; }
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TMP=$(mktemp -d /tmp/avedge-media-bench.XXXXXX)
SERVER_PID=""
POLL_PID=""
stop_pid() { # stop_pid PID: TERM, wait up to 5 s, KILL
	local p=$1
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}
cleanup() {
	stop_pid "$POLL_PID"
	stop_pid "$SERVER_PID"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

server_cmd() {
	case "$1" in
	avedge) echo "$AVEDGE_BIN --listening-ip 127.0.0.1 --listening-port $PORT" \
		"--relay-ip 127.0.0.1 --min-port $MIN_PORT --max-port $MAX_PORT" \
		"--realm bench --user bench:bench --allow-loopback-peers" \
		"--threads 2 --lock-dir $TMP/lock" ;;
	coturn) echo "$COTURN_BIN -n --listening-ip=127.0.0.1 --listening-port=$PORT" \
		"--relay-ip=127.0.0.1 --min-port=$MIN_PORT --max-port=$MAX_PORT" \
		"--lt-cred-mech --user=bench:bench --realm=bench" \
		"--allow-loopback-peers --relay-threads=2 --no-cli --no-tls" \
		"--no-dtls --no-stdout-log --log-file=$TMP/coturn.log" \
		"--pidfile=$TMP/coturn.pid --userdb=$TMP/turndb" ;;
	esac
}

start_server() {
	local s=$1 cmd
	cmd=$(server_cmd "$s")
	case "$s" in
	avedge) mkdir -p "$TMP/lock" ;;
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
		log "$s: exited at start: $(tail -3 "$TMP/$s.out" | tr '\n' ' ')"
		SERVER_PID=""
		return 1
	fi
}

proc_cpu_ticks() { # utime+stime of PID, in clock ticks
	awk '{print $14 + $15}' "/proc/$1/stat"
}
softirq_ticks() { awk '/^cpu /{print $8}' /proc/stat; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
udp_rcvbuf_errors() {
	awk '/^Udp:/{if (!h) {for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1} else print $c}' /proc/net/snmp
}

# run_one SERVER ROUND RATE: one edge-sim run against the running server,
# one JSON line appended to $RAW.
run_one() {
	local s=$1 r=$2 rate=$3 line
	local hz c0 c1 q0 q1 e0 e1 t0 t1
	hz=$(getconf CLK_TCK)
	python3 "$REPO/bench/sockdrops.py" --pid "$SERVER_PID" --listen "$PORT" \
		--relay-range "$MIN_PORT-$MAX_PORT" >"$TMP/drops.json" &
	POLL_PID=$!
	c0=$(proc_cpu_ticks "$SERVER_PID")
	q0=$(softirq_ticks)
	e0=$(udp_rcvbuf_errors)
	t0=$(date +%s.%N)
	local args=(--server "127.0.0.1:$PORT" --user bench:bench
		--viewers "$VIEWERS" --rate "$rate" --duration "$DURATION"
		--warmup "$WARMUP" --seed "$SEED" --json "${SIM_EXTRA[@]}")
	if ! line=$("$SIM" "${args[@]}" 2>"$TMP/sim.err"); then
		[ -n "$line" ] || line='{}'
		log "  $s $rate: edge-sim exited non-zero: $(head -3 "$TMP/sim.err" | tr '\n' ' ')"
	fi
	t1=$(date +%s.%N)
	c1=$(proc_cpu_ticks "$SERVER_PID")
	q1=$(softirq_ticks)
	e1=$(udp_rcvbuf_errors)
	local rss
	rss=$(rss_kb "$SERVER_PID")
	stop_pid "$POLL_PID"
	POLL_PID=""
	echo "$line" | python3 -c 'import json,sys
a=sys.argv
try: d=json.loads(sys.stdin.read() or "{}")
except ValueError: d={"errors":["edge-sim printed no JSON"]}
pv=d.pop("per_viewer",None) or []
if pv: d["viewer_loss_max"]=max(v.get("lost",0) for v in pv)
hz=float(a[5]); wall=float(a[10])-float(a[9])
d.update(server=a[1], round=int(a[2]), rate=a[3], args=a[4],
         server_cpu_s=(int(a[7])-int(a[6]))/hz, softirq_cpu_s=(int(a[12])-int(a[11]))/hz,
         wall_s=wall, server_rss_kb=int(a[8]), udp_rcvbuf_errors=int(a[14])-int(a[13]))
try: d["server_drops"]=json.load(open(a[15]))
except (OSError, ValueError): d["server_drops"]=None
cpu=d["server_cpu_s"]
d["relayed_per_server_cpu_s"]=round(2*d.get("pkts_recv",0)/cpu) if cpu>0 else None
slip=d.get("sim_schedule_slip_ms"); slip99=d.get("sim_schedule_slip_p99_ms"); simdrops=d.get("sim_rx_drops")
d["valid"]=bool(d.get("viewers") and slip is not None and slip<=float(a[16]) and slip99 is not None and slip99<=float(a[17]) and not simdrops)
print(json.dumps(d))' "$s" "$r" "$rate" "${args[*]}" "$hz" "$c0" "$c1" "$rss" \
		"$t0" "$t1" "$q0" "$q1" "$e0" "$e1" "$TMP/drops.json" "$SLIP_MAX_MS" "$SLIP_P99_MAX_MS" >>"$RAW"
	log "  $s $rate: $(tail -1 "$RAW" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read()); dr=d.get("server_drops") or {}
print("valid=%s loss=%s%% auth_fail=%s p99=%sus cpu=%.2fs drops(listener/relay)=%s/%s slip=%sms" % (
 d["valid"], d.get("loss_pct"), d.get("srtp_auth_fail"), d.get("delay_p99_us"), d["server_cpu_s"],
 dr.get("listener"), dr.get("relay"), d.get("sim_schedule_slip_ms")))')"
}

: >"$RAW"
read -r -a LIST <<<"$SERVERS"
read -r -a RATE_LIST <<<"$RATES"
if [ "$RUNS_ONLY" = 1 ]; then
	log "avedge alone, $ROUNDS consecutive runs at ${RATE_LIST[0]}"
	start_server avedge || exit 1
	for r in $(seq "$ROUNDS"); do run_one avedge "$r" "${RATE_LIST[0]}"; done
	stop_pid "$SERVER_PID"
	SERVER_PID=""
else
	log "rounds $ROUNDS, servers: $SERVERS, rates: $RATES; raw in $RAW"
	for r in $(seq "$ROUNDS"); do
		n=${#LIST[@]}
		for i in $(seq 0 $((n - 1))); do
			s=${LIST[$(((i + r - 1) % n))]}
			log "round $r: $s"
			start_server "$s" || continue
			for rate in "${RATE_LIST[@]}"; do run_one "$s" "$r" "$rate"; done
			stop_pid "$SERVER_PID"
			SERVER_PID=""
		done
	done
fi

{
	echo "# Desktop-sharing benchmark (edge-sim), $DATE"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
		"kernel $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "avedge $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), coturn" \
		"$($COTURN_BIN --version 2>/dev/null | head -1 || echo '?')."
	echo "$VIEWERS viewers, ${DURATION} s measured after ${WARMUP} s warm-up, seed $SEED," \
		"rounds $ROUNDS; a run is valid when edge-sim's 1 ms ticks ran late by <= $SLIP_P99_MAX_MS ms at p99 and <= $SLIP_MAX_MS ms at worst and its own sockets dropped nothing."
	echo
	python3 "$REPO/bench/summarize-media.py" "$RAW"
	echo
	echo "Commands (\`\$P\` = $PORT, relay ports $MIN_PORT-$MAX_PORT):"
	echo
	echo '```'
	for s in $SERVERS; do server_cmd "$s" | sed -e "s#$TMP#TMP#g" -e "s#$REPO/##g"; done
	echo "${SIM#"$REPO"/} --server 127.0.0.1:$PORT --user bench:bench --viewers $VIEWERS --rate RATE --duration $DURATION --warmup $WARMUP --seed $SEED --json ${SIM_EXTRA[*]}"
	echo "python3 bench/sockdrops.py --pid SERVER_PID --listen $PORT --relay-range $MIN_PORT-$MAX_PORT  (in the background during each run)"
	echo '```'
} >"$TMP/results.md"
cp "$TMP/results.md" "$OUT"
cat "$OUT"
log "written $OUT and $RAW"
