#!/usr/bin/env bash
# bench/run-cost.sh - the data-path cost of avedge in numbers that do not
# depend on machine noise: instructions per relayed packet (valgrind
# callgrind) and system calls per relayed packet (strace -c), each from the
# difference of two runs with different packet counts, so start-up,
# allocation, freeing and shutdown cancel out. Loopback only; every run is
# bounded in count and time. See bench/README.md.
#
#   bench/run-cost.sh [--avedge PATH] [--avedge-base PATH] [--quick]
#                     [--reps R] [--threads T] [--clients C] [--payload B]
#                     [--cg-rate PPS] [--cg-n "N1 N2"]
#                     [--st-rate PPS] [--st-n "N1 N2"]
#                     [--port P] [--out FILE.md] [--no-build]
#                     [--only callgrind|strace] [--max-p99-us US]
#                     [--max-busy-pct P] [--retries K] [--budget SECONDS]
#
# --avedge PATH (default build/avedge) is labelled "avedge"; --avedge-base
# PATH adds "avedge-base" (an older build) and the ratio avedge/avedge-base.
# N1 N2 are relayed packets (client->peer plus peer->client) per run.
# Prints a markdown table and writes it to bench/cost-results-<date>.md,
# with every run (one JSON object each) in bench/cost-results-<date>.jsonl.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$REPO/build-bench
AVEDGE_BIN=$REPO/build/avedge
AVEDGE_BASE_BIN=""
# Below the kernel's ephemeral ports (32768-60999), where other programs'
# connections (even in TIME-WAIT) can hold the port the server's TCP
# listener needs; above the relay ports; not run-bench.sh's.
PORT=31880
MIN_PORT=10000
MAX_PORT=29999
THREADS=1
CLIENTS=200
PAYLOAD=100
REPS=3
CG_RATE=1000          # see bench/README.md: why so low
CG_N="4000 16000"
ST_RATE=2500          # strace slows the server: above this it falls behind
ST_N="5000 20000"
MAX_P99_US=1000       # a run with a longer p99 round trip was disturbed,
MAX_BUSY_PCT=50       # and so was one while the machine was busier than this
BUDGET=480            # seconds: no more retries after this
RETRIES=3 # extra attempts for an invalid run (loss, disturbed)
DO_BUILD=1
OUT=""
KINDS="callgrind strace"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--avedge) AVEDGE_BIN=$2; shift ;;
	--avedge-base) AVEDGE_BASE_BIN=$2; shift ;;
	--quick) REPS=2 CG_N="2000 8000" ST_N="3000 12000" ;;
	--reps) REPS=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--clients) CLIENTS=$2; shift ;;
	--payload) PAYLOAD=$2; shift ;;
	--cg-rate) CG_RATE=$2; shift ;;
	--cg-n) CG_N=$2; shift ;;
	--st-rate) ST_RATE=$2; shift ;;
	--st-n) ST_N=$2; shift ;;
	--port) PORT=$2; shift ;;
	--out) OUT=$2; shift ;;
	--no-build) DO_BUILD=0 ;;
	--only) KINDS=$2; shift ;;
	--max-p99-us) MAX_P99_US=$2; shift ;;
	--max-busy-pct) MAX_BUSY_PCT=$2; shift ;;
	--retries) RETRIES=$2; shift ;;
	--budget) BUDGET=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run-cost: unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

for tool in valgrind strace python3 ss; do
	command -v "$tool" >/dev/null || { echo "run-cost: needs $tool" >&2; exit 1; }
done
DATE=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$REPO/bench/cost-results-$DATE.md
RAW=${OUT%.md}.jsonl
LOAD=$BUILD/tools/avedge-load

if [ "$DO_BUILD" = 1 ]; then
	cmake -S "$REPO" -B "$BUILD" -DAVEDGE_WERROR=ON -DAVEDGE_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" --target avedge-load >/dev/null
fi
[ -x "$LOAD" ] || { echo "run-cost: build $LOAD first" >&2; exit 1; }
SERVERS="avedge"
[ -x "$AVEDGE_BIN" ] || { echo "run-cost: $AVEDGE_BIN is not executable" >&2; exit 1; }
if [ -n "$AVEDGE_BASE_BIN" ]; then
	[ -x "$AVEDGE_BASE_BIN" ] || { echo "run-cost: $AVEDGE_BASE_BIN is not executable" >&2; exit 1; }
	SERVERS="avedge avedge-base"
fi
if ss -Htuan "sport = :$PORT" | grep -q .; then
	echo "run-cost: port $PORT is in use (--port): $(ss -Htuanp "sport = :$PORT" | head -1)" >&2
	exit 1
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/avedge-cost.XXXXXX)
WRAP_PID="" # valgrind (which is the server) or strace (the server's parent)
SERVER_PID=""
kill_server() {
	local c
	[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
	# under strace: its children (the server, if SERVER_PID is not known)
	if [ -n "$WRAP_PID" ]; then
		for c in $(cat "/proc/$WRAP_PID/task/$WRAP_PID/children" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null || true
		done
	fi
	[ -n "$WRAP_PID" ] && kill -KILL "$WRAP_PID" 2>/dev/null
	[ -n "$WRAP_PID" ] && wait "$WRAP_PID" 2>/dev/null
	WRAP_PID="" SERVER_PID=""
	return 0
}
cleanup() { kill_server; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

bin_of() { if [ "$1" = avedge-base ]; then echo "$AVEDGE_BASE_BIN"; else echo "$AVEDGE_BIN"; fi; }

# The server's command line: run-bench.sh's, with --threads $THREADS.
server_cmd() {
	echo "$(bin_of "$1") --listening-ip 127.0.0.1 --listening-port $PORT" \
		"--relay-ip 127.0.0.1 --min-port $MIN_PORT --max-port $MAX_PORT" \
		"--realm bench --user bench:bench --allow-loopback-peers" \
		"--threads $THREADS --lock-dir $TMP/lock"
}

# start_server KIND SERVER: under callgrind or strace; sets WRAP_PID and
# SERVER_PID once the UDP port is bound. Returns 1 (reason in $TMP/why).
start_server() {
	local kind=$1 s=$2 cmd pid
	cmd=$(server_cmd "$s")
	mkdir -p "$TMP/lock"
	rm -f "$TMP/cg.out" "$TMP/strace.out"
	if ss -Htuan "sport = :$PORT" | grep -q .; then
		echo "port $PORT is busy: $(ss -Htuanp "sport = :$PORT" | head -1)" >"$TMP/why"
		return 1
	fi
	case "$kind" in
	callgrind)
		# shellcheck disable=SC2086
		valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
			$cmd >"$TMP/server.out" 2>&1 & ;;
	strace)
		# shellcheck disable=SC2086
		strace -c -f -o "$TMP/strace.out" $cmd >"$TMP/server.out" 2>&1 & ;;
	esac
	WRAP_PID=$! SERVER_PID=""
	for _ in $(seq 300); do # valgrind starts slowly: up to 30 s
		# The server is whoever holds the port: valgrind itself, or
		# strace's child (strace also forks short-lived probe children,
		# so its first child is not necessarily the server).
		pid=$(ss -Hlunp "sport = :$PORT" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
		if [ -n "$pid" ]; then
			if [ "$pid" = "$WRAP_PID" ] ||
				[ "$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" = "$WRAP_PID" ]; then
				SERVER_PID=$pid
				return 0
			fi
			echo "UDP port $PORT is held by pid $pid, not by our server" >"$TMP/why"
			kill_server
			return 1
		fi
		kill -0 "$WRAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not bind UDP $PORT: $(tail -3 "$TMP/server.out" | tr '\n' ' ')" >"$TMP/why"
	kill_server
	return 1
}

# SIGTERM, and wait for a clean exit: callgrind and strace write their
# files when the server exits. Returns 1 if it had to be killed.
stop_server() {
	local rc=0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for _ in $(seq 600); do
		kill -0 "$WRAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$WRAP_PID" 2>/dev/null; then
		echo "server did not exit within 60 s of SIGTERM" >"$TMP/why"
		kill_server
		return 1
	fi
	wait "$WRAP_PID" 2>/dev/null || rc=$?
	WRAP_PID="" SERVER_PID=""
	if ss -Hlun "sport = :$PORT" | grep -q .; then
		echo "UDP port $PORT still bound after the server exited: $(ss -Hlunp "sport = :$PORT" | head -1)" >"$TMP/why"
		return 1
	fi
	if [ "$rc" != 0 ]; then
		echo "server exited with status $rc: $(tail -3 "$TMP/server.out" | tr '\n' ' ')" >"$TMP/why"
		return 1
	fi
	return 0
}

# run_one KIND SERVER REP N RATE ATTEMPT: one server process, one bounded
# load of about N relayed packets at RATE, one JSON line appended to $RAW.
# Returns 1 if the run is invalid (loss, a failure); the line says why.
run_one() {
	local kind=$1 s=$2 rep=$3 n=$4 rate=$5 attempt=$6 bin sha dur t0 t1
	local lrc=0 src=0 why=""
	bin=$(bin_of "$s")
	sha=$(sha256sum "$bin" | cut -c1-12)
	dur=$(python3 -c "print(round($n / $rate, 3))")
	: >"$TMP/load.json"
	: >"$TMP/why"
	t0=$(date +%s.%N)
	if start_server "$kind" "$s"; then
		# --rto 1000: no retransmitted request while valgrind is slow to
		# answer the first Allocates (it would add control-path work).
		timeout -s INT $((${dur%.*} + 120)) "$LOAD" -s "127.0.0.1:$PORT" \
			-u bench -p bench -c "$CLIENTS" -b "$PAYLOAD" -r "$rate" \
			-d "$dur" --warmup 0 --drain 1 --rto 1000 --json \
			--server-pid "$SERVER_PID" --label "$s/$kind/$rep/$n" \
			>"$TMP/load.json" 2>"$TMP/load.err" || lrc=$?
		stop_server || src=1
	else
		src=1
	fi
	t1=$(date +%s.%N)
	[ "$src" = 0 ] || why=$(cat "$TMP/why")
	[ "$lrc" = 0 ] || why="avedge-load exit $lrc: $(tr '\n' ' ' <"$TMP/load.err") $why"
	python3 - "$kind" "$s" "$rep" "$n" "$rate" "$attempt" "$sha" "$bin" \
		"$(python3 -c "print(round($t1 - $t0, 1))")" "$why" "$TMP" \
		"$CLIENTS" "$THREADS" "$PAYLOAD" "$MAX_P99_US" "$MAX_BUSY_PCT" >>"$RAW" <<'EOF'
import json, os, re, sys
kind, s, rep, n, rate, attempt, sha, path, wall, why, tmp, clients, threads, payload, max_p99, max_busy = sys.argv[1:]
d = {"kind": kind, "server": s, "rep": int(rep), "target": int(n),
     "rate": float(rate), "attempt": int(attempt), "binary": sha,
     "path": path, "wall_s": float(wall), "clients": int(clients),
     "threads": int(threads), "payload": int(payload)}
bad = [why] if why.strip() else []
try:
    load = json.loads(open(os.path.join(tmp, "load.json")).read())
except ValueError:
    load = None
    if not bad:
        bad.append("no avedge-load result")
if load:
    d["load"] = load
    d["relayed"] = load["peer_rx"] + load["rx"]
    d["lost"] = load["sent"] - load["peer_rx"] + load["echoed"] - load["rx"]
    if d["lost"]:
        bad.append("loss: %d of %d packets (c2p %s %%, p2c %s %%)" % (
            d["lost"], load["sent"] + load["echoed"],
            load["loss_c2p_pct"], load["loss_p2c_pct"]))
    if load["rtt_p99_us"] is not None and load["rtt_p99_us"] > float(max_p99):
        # the server was held up (another process on the box, or it fell
        # behind under the tool): packets queued and were handled in
        # batches, which costs fewer instructions and system calls each
        bad.append("disturbed: p99 round trip %.1f ms" % (load["rtt_p99_us"] / 1000))
    if load["system_busy_pct"] is not None and load["system_busy_pct"] > float(max_busy):
        # other work on the box (ours alone reads under 40 %): it holds
        # the server up now and then even when the p99 does not show it
        bad.append("disturbed: machine %.0f %% busy" % load["system_busy_pct"])
    if load["clients_ready"] != int(clients):
        bad.append("%s of %s clients ready" % (load["clients_ready"], clients))
    if load["timeouts"] or load["allocs_fail"] or load["binds_fail"] or load["frees_fail"]:
        bad.append("timeouts %d, failed allocs %d binds %d frees %d" % (
            load["timeouts"], load["allocs_fail"], load["binds_fail"], load["frees_fail"]))
if kind == "callgrind":
    try:
        for line in open(os.path.join(tmp, "cg.out")):
            if line.startswith("totals:"):
                d["ir"] = int(line.split()[1])
    except OSError:
        pass
    if "ir" not in d and not bad:
        bad.append("no callgrind totals")
else:
    calls = {}
    try:
        for line in open(os.path.join(tmp, "strace.out")):
            f = line.split()
            # % time, seconds, usecs/call, calls, [errors,] syscall
            if len(f) in (5, 6) and re.match(r"^[0-9.]+$", f[0]) and f[3].isdigit():
                calls[f[-1]] = int(f[3])
    except OSError:
        pass
    if "total" in calls:
        d["syscalls_total"] = calls.pop("total")
        d["syscalls"] = calls
    elif not bad:
        bad.append("no strace summary")
d["valid"] = not bad
d["invalid"] = "; ".join(bad)
print(json.dumps(d))
EOF
	tail -1 "$RAW" | python3 -c 'import json,sys
d=json.loads(sys.stdin.read())
m="relayed=%s" % d.get("relayed")
if "ir" in d: m+=" Ir=%d" % d["ir"]
if "syscalls_total" in d: m+=" syscalls=%d" % d["syscalls_total"]
m+=" wall=%ss" % d["wall_s"]
if not d["valid"]: m+=" INVALID: "+d["invalid"]
print(m)' | { read -r msg; log "  $s $kind rep $rep N=$n attempt $attempt: $msg"; }
	tail -1 "$RAW" | grep -q '"valid": true'
}

# One estimate: the N1 and N2 runs back to back, each retried if invalid
# (while the run is within its time budget).
run_pair() {
	local kind=$1 s=$2 rep=$3 rate=$4 n a
	for n in $5 $6; do
		for a in $(seq $((RETRIES + 1))); do
			run_one "$kind" "$s" "$rep" "$n" "$rate" "$a" && break
			[ $(($(date +%s) - START)) -lt "$BUDGET" ] || break
		done
	done
}

: >"$RAW"
read -r CG_N1 CG_N2 <<<"$CG_N"
read -r ST_N1 ST_N2 <<<"$ST_N"
read -r -a LIST <<<"$SERVERS"
START=$(date +%s)
log "servers: $SERVERS; $REPS reps; callgrind N=$CG_N1,$CG_N2 at $CG_RATE pkts/s;" \
	"strace N=$ST_N1,$ST_N2 at $ST_RATE pkts/s; raw results in $RAW"
for kind in $KINDS; do
	for r in $(seq "$REPS"); do
		n=${#LIST[@]}
		for i in $(seq 0 $((n - 1))); do
			s=${LIST[$(((i + r - 1) % n))]} # alternate which goes first
			if [ "$kind" = callgrind ]; then
				run_pair callgrind "$s" "$r" "$CG_RATE" "$CG_N1" "$CG_N2"
			else
				run_pair strace "$s" "$r" "$ST_RATE" "$ST_N1" "$ST_N2"
			fi
		done
	done
done
ELAPSED=$(($(date +%s) - START))

{
	echo "# avedge data-path cost, $DATE"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
		"kernel $(uname -r); $(valgrind --version), $(strace -V | head -1)."
	for s in $SERVERS; do
		b=$(bin_of "$s")
		echo "$s: \`$b\` (sha256 $(sha256sum "$b" | cut -c1-12)$(git -C "$(dirname "$b")" describe --always --dirty 2>/dev/null | sed "s/^/, checkout /"))."
	done
	echo "$REPS reps; $CLIENTS clients, $PAYLOAD B ChannelData, server --threads $THREADS; run time $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
	echo
	python3 "$REPO/bench/summarize-cost.py" "$RAW"
	echo
	echo "Commands (\`N\` relayed packets at \`R\` pkts/s: \`-d N/R\`):"
	echo
	echo '```'
	# the same command line for every binary
	srv=$(server_cmd avedge | sed -e "s#^$AVEDGE_BIN #AVEDGE #" -e "s#$TMP#TMP#g")
	echo "valgrind --tool=callgrind --callgrind-out-file=F $srv"
	echo "strace -c -f -o F $srv"
	echo "${LOAD#"$REPO"/} -s 127.0.0.1:$PORT -u bench -p bench -c $CLIENTS -b $PAYLOAD -r R -d N/R --warmup 0 --drain 1 --rto 1000 --json --server-pid PID"
	echo "  callgrind: R = $CG_RATE, N = $CG_N1 and $CG_N2; strace: R = $ST_RATE, N = $ST_N1 and $ST_N2"
	echo "then SIGTERM to the server; Ir from the 'totals:' line of F, syscalls from strace's 'calls' column"
	echo '```'
} >"$TMP/results.md"
cp "$TMP/results.md" "$OUT"
cat "$OUT"
log "written $OUT and $RAW ($((ELAPSED / 60)) min $((ELAPSED % 60)) s)"
