#!/usr/bin/env bash
# bench/run-stream-bench.sh - avedge vs coturn over TCP and TLS client
# transports, side by side in alternating rounds, on loopback, with clients
# neither of us wrote: coturn's turnutils_uclient (-t, -t -S) relaying to
# turnutils_peer, and `openssl s_time` for the TLS handshake rate. Every
# load is bounded in count and time.
#
#   bench/run-stream-bench.sh [--quick] [--rounds N] [--servers "avedge coturn"]
#                             [--avedge PATH] [--coturn PATH] [--port P]
#                             [--out FILE.md]
#
# Reports per server the median over the rounds of: relayed packets per
# server CPU-second over TCP and over TLS (the server's utime+stime from
# /proc over the whole uclient run, allocation set-up included), loss, and
# full TLS handshakes per second (wall) and per server CPU-second; then the
# avedge/coturn ratios. Raw rows go to FILE.jsonl beside FILE.md.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=3
QUICK=0
SERVERS="avedge coturn"
AVEDGE_BIN=$REPO/build/avedge
COTURN_BIN=/usr/bin/turnserver
PORT=34790
OUT=""

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--avedge) AVEDGE_BIN=$2; shift ;;
	--coturn) COTURN_BIN=$2; shift ;;
	--port) PORT=$2; shift ;;
	--out) OUT=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "run-stream-bench: unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

if [ "$QUICK" = 1 ]; then
	ROUNDS=1 CLIENTS=100 MSGS=250 STIME=3
else
	CLIENTS=200 MSGS=500 STIME=8
fi
TLS_PORT=$((PORT + 1))
PEER_PORT=$((PORT + 2))
MIN_PORT=10000 # relay ports, outside the kernel's ephemeral range
MAX_PORT=29999
DATE=$(date +%Y-%m-%d)
[ -n "$OUT" ] || OUT=$REPO/bench/stream-results-$DATE.md
RAW=${OUT%.md}.jsonl

for tool in turnutils_uclient turnutils_peer openssl; do
	command -v "$tool" >/dev/null || { echo "run-stream-bench: $tool missing" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

TMP=$(mktemp -d /tmp/avedge-sbench.XXXXXX)
SERVER_PID=""
PEER_PID=""
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=""; }
cleanup() { stop_server; stop_pid "$PEER_PID"; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# One self-signed P-256 certificate for both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-days 1 -subj /CN=localhost -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
	2>/dev/null

server_cmd() {
	case "$1" in
	avedge) echo "$AVEDGE_BIN --listening-ip 127.0.0.1 --listening-port $PORT" \
		"--tls-listening-port $TLS_PORT --cert $TMP/cert.pem --pkey $TMP/key.pem" \
		"--relay-ip 127.0.0.1 --min-port $MIN_PORT --max-port $MAX_PORT" \
		"--realm bench --user bench:bench --allow-loopback-peers" \
		"--rfc5766-channel-numbers --threads 2 --lock-dir $TMP/lock" ;;
	coturn) echo "$COTURN_BIN -n --listening-ip=127.0.0.1 --listening-port=$PORT" \
		"--tls-listening-port=$TLS_PORT --cert=$TMP/cert.pem --pkey=$TMP/key.pem" \
		"--relay-ip=127.0.0.1 --min-port=$MIN_PORT --max-port=$MAX_PORT" \
		"--lt-cred-mech --user=bench:bench --realm=bench" \
		"--allow-loopback-peers --relay-threads=2 --no-cli --no-dtls" \
		"--no-stdout-log --log-file=$TMP/coturn.log" \
		"--pidfile=$TMP/coturn.pid --userdb=$TMP/turndb" ;;
	esac
}

start_server() {
	local s=$1 cmd
	cmd=$(server_cmd "$s")
	case "$s" in
	avedge) [ -x "$AVEDGE_BIN" ] || { log "avedge: $AVEDGE_BIN not built"; return 1; }
		mkdir -p "$TMP/lock" ;;
	coturn) [ -x "$COTURN_BIN" ] || { log "coturn: $COTURN_BIN missing"; return 1; } ;;
	esac
	# shellcheck disable=SC2086
	$cmd >"$TMP/$s.out" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		ss -Hltn "sport = :$TLS_PORT" | grep -q . && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		log "$s: exited at start: $(tail -3 "$TMP/$s.out" | tr '\n' ' ')"
		SERVER_PID=""
		return 1
	fi
	sleep 0.5
}

calc() { awk "BEGIN { print $1 }"; }

cpu_s() { # utime+stime of a process, in seconds
	awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

record() { # record SERVER ROUND TEST key=value...
	python3 - "$@" >>"$RAW" <<'EOF'
import json, sys
s, r, t = sys.argv[1:4]
d = {"server": s, "round": int(r), "test": t}
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    d[k] = float(v)
print(json.dumps(d))
EOF
}

# uclient SERVER ROUND TEST FLAGS...: relayed packets per server CPU-s
uclient() {
	local s=$1 r=$2 t=$3 c0 c1 w0 w1 out sent recv lost
	shift 3
	c0=$(cpu_s "$SERVER_PID")
	w0=$(date +%s.%N)
	out=$(timeout 300 turnutils_uclient "$@" -m "$CLIENTS" -n "$MSGS" -l 100 \
		-z 20 -u bench -w bench -e 127.0.0.1 -r "$PEER_PORT" 127.0.0.1 2>&1) || true
	w1=$(date +%s.%N)
	c1=$(cpu_s "$SERVER_PID")
	sent=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1/p' | tail -1)
	recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\2/p' | tail -1)
	lost=$(echo "$out" | sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' | tail -1)
	if [ -z "$sent" ] || [ -z "$recv" ]; then
		log "  $s $t: uclient failed: $(echo "$out" | tail -3 | tr '\n' ' ')"
		return 0
	fi
	local cpu wall
	cpu=$(calc "$c1 - $c0")
	wall=$(calc "$w1 - $w0")
	record "$s" "$r" "$t" relayed=$((sent + recv)) lost="${lost:-0}" \
		server_cpu_s="$cpu" wall_s="$wall" \
		per_cpu_s="$(calc "($sent + $recv) / ($cpu + 0.000001)")"
	log "  $s $t: relayed $((sent + recv)) lost ${lost:-?} server cpu ${cpu}s wall ${wall}s"
}

# handshakes SERVER ROUND: full TLS handshakes (no resumption) for STIME s
handshakes() {
	local s=$1 r=$2 c0 c1 out n secs
	c0=$(cpu_s "$SERVER_PID")
	out=$(timeout $((STIME + 30)) openssl s_time -connect "127.0.0.1:$TLS_PORT" \
		-new -time "$STIME" 2>&1) || true
	c1=$(cpu_s "$SERVER_PID")
	n=$(echo "$out" | sed -n 's/^\([0-9]*\) connections in \([0-9.]*\)s;.*/\1/p' | head -1)
	secs=$(echo "$out" | sed -n 's/^[0-9]* connections in \([0-9]*\) real seconds.*/\1/p' | head -1)
	if [ -z "$n" ]; then
		log "  $s tls-handshake: s_time failed: $(echo "$out" | tail -3 | tr '\n' ' ')"
		return 0
	fi
	local cpu
	cpu=$(calc "$c1 - $c0")
	record "$s" "$r" handshake handshakes="$n" server_cpu_s="$cpu" \
		per_s="$(calc "$n / ${secs:-$STIME}")" \
		per_cpu_s="$(calc "$n / ($cpu + 0.000001)")"
	log "  $s tls-handshake: $n handshakes, server cpu ${cpu}s"
}

turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >"$TMP/peer.out" 2>&1 &
PEER_PID=$!

: >"$RAW"
log "rounds $ROUNDS, servers: $SERVERS; raw results in $RAW"
read -r -a LIST <<<"$SERVERS"
for r in $(seq "$ROUNDS"); do
	n=${#LIST[@]}
	for i in $(seq 0 $((n - 1))); do
		s=${LIST[$(((i + r - 1) % n))]}
		log "round $r: $s"
		start_server "$s" || continue
		uclient "$s" "$r" tcp -t -p "$PORT"
		uclient "$s" "$r" tls -t -S -p "$TLS_PORT"
		handshakes "$s" "$r"
		stop_server
	done
done

{
	echo "# avedge stream transports benchmark, $DATE"
	echo
	echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
		"kernel $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "avedge $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), coturn" \
		"$($COTURN_BIN --version 2>/dev/null | head -1 || echo '?'); $(openssl version)."
	echo "Rounds: $ROUNDS$([ "$QUICK" = 1 ] && echo ' (--quick)'); uclient $CLIENTS clients x $MSGS messages of 100 B, -z 20; s_time $STIME s."
	echo
	python3 - "$RAW" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
servers = sorted({r["server"] for r in rows})
def med(s, t, k):
    v = [r[k] for r in rows if r["server"] == s and r["test"] == t and k in r]
    return statistics.median(v) if v else None
tests = [("tcp", "per_cpu_s", "TCP: relayed pkts / server CPU-s"),
         ("tcp", "lost", "TCP: lost packets"),
         ("tls", "per_cpu_s", "TLS: relayed pkts / server CPU-s"),
         ("tls", "lost", "TLS: lost packets"),
         ("handshake", "per_s", "TLS handshakes / s (wall)"),
         ("handshake", "per_cpu_s", "TLS handshakes / server CPU-s")]
print("| measure (median) | " + " | ".join(servers) +
      (" | avedge / coturn |" if {"avedge", "coturn"} <= set(servers) else " |"))
print("|---" * (len(servers) + 1 + ({"avedge", "coturn"} <= set(servers))) + "|")
for t, k, name in tests:
    vals = [med(s, t, k) for s in servers]
    cells = ["-" if v is None else ("%.0f" % v) for v in vals]
    ratio = ""
    if {"avedge", "coturn"} <= set(servers):
        a, c = med("avedge", t, k), med("coturn", t, k)
        ratio = " | %.2fx" % (a / c) if a is not None and c and k != "lost" else " | "
    print("| %s | %s%s |" % (name, " | ".join(cells), ratio))
EOF
	echo
	echo "Commands (relay ports $MIN_PORT-$MAX_PORT; peer: turnutils_peer -L 127.0.0.1 -p $PEER_PORT):"
	echo
	echo '```'
	for s in $SERVERS; do server_cmd "$s" | sed -e "s#$TMP#TMP#g" -e "s#$REPO/##g"; done
	echo "turnutils_uclient -t [-S] -p PORT -m $CLIENTS -n $MSGS -l 100 -z 20 -u bench -w bench -e 127.0.0.1 -r $PEER_PORT 127.0.0.1"
	echo "openssl s_time -connect 127.0.0.1:$TLS_PORT -new -time $STIME"
	echo '```'
} >"$TMP/results.md"
cp "$TMP/results.md" "$OUT"
cat "$OUT"
log "written $OUT and $RAW"
