#!/usr/bin/env bash
# bench/soak.sh - a long mixed load against one avedge process, watching
# its memory, its file descriptors, its errors and the loss of steady flows.
# Everything stays on loopback; every loop is bounded in count and time;
# every process started here is stopped by PID at the end (trap).
# See bench/README.md ("Soak").
#
#   bench/soak.sh [--minutes N] [--avedge PATH] [--asan] [--out FILE]
#
# Load (bench/soak_load.py): steady flows, 4 over UDP, 2 over TCP and 2 over
# TLS, 50 packets/s each way (ChannelData, 100 B), never kicked: their loss
# is counted packet by packet; allocation churn (allocate, bind, send, hold
# 0.2-2 s, free; 8/s, one in five over TCP); a kick of one churn allocation
# every 5 s through the admin API (DELETE /api/allocations/ID); SIGHUP every
# 60 s (the config file rewritten with another user each time); the
# redis-server that avedge uses (started here on loopback) killed with
# SIGKILL at 1/3 and 2/3 of the run and started again on the same port 3 s
# later.
#
# Samples of avedge (VmRSS from /proc/PID/status, open fds = entries of
# /proc/PID/fd): "start" (ready, before any load), "warm" (after the
# warm-up: 2 minutes, or 20 % of a shorter run), "end" (just before the load
# stops) and "after" (load gone, every allocation freed). "warm" and "end"
# are taken with churn and kicks paused and every churn allocation freed, so
# that only the steady flows are open both times.
#
# Exit status 1 (FAIL) when any of these thresholds is missed:
#   - RSS at "end" more than 5 % above RSS at "warm" (not with --asan:
#     ASan's quarantine keeps up to 256 MiB of freed memory resident and
#     its allocator's RSS only grows, so RSS says nothing about leaks
#     there; LeakSanitizer does);
#   - open fds at "end" more than at "warm", or at "after" more than at
#     "start";
#   - a steady flow lost a packet (or could not be set up);
#   - avedge did not exit with status 0 on SIGTERM at the end (under
#     --asan: ASAN_OPTIONS=detect_leaks=1, so a leak makes it non-zero), or
#     its stderr holds a sanitizer report.
# Reported, not thresholds: failed churn allocations, client errors, kicks,
# avedge log lines at level error (Redis down for 3 s is expected to log
# some), load average. Exit status 2: the set-up failed.
#
# --asan: the binary is an ASan build (tests/run-all.sh stage soak with
# build-asan/avedge); the RSS rule is off, the others stay.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=30
AVEDGE_BIN=$REPO/build/avedge
ASAN=0
OUT=""
usage() { sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) MINUTES=$2; shift ;;
	--avedge) AVEDGE_BIN=$2; shift ;;
	--asan) ASAN=1 ;;
	--out) OUT=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "soak: unknown option $1" >&2; usage 2 ;;
	esac
	shift
done
case "$MINUTES" in '' | *[!0-9.]*) echo "soak: --minutes N" >&2; exit 2 ;; esac
case "$AVEDGE_BIN" in /*) ;; *) AVEDGE_BIN=$PWD/$AVEDGE_BIN ;; esac
[ -x "$AVEDGE_BIN" ] || { echo "soak: $AVEDGE_BIN is not built" >&2; exit 2; }
for t in redis-server redis-cli openssl python3 curl; do
	command -v "$t" >/dev/null || { echo "soak: $t is needed" >&2; exit 2; }
done

TOTAL=$(python3 -c "print(int(float('$MINUTES') * 60))")
WARM=$(python3 -c "print(min(120, int($TOTAL * 0.2)))")
[ "$TOTAL" -ge 30 ] || { echo "soak: at least 0.5 minutes" >&2; exit 2; }
RSS_PCT=5

TMP=$(mktemp -d /tmp/avedge-soak.XXXXXX)
AVEDGE_PID="" REDIS_PID="" LOAD_PID=""
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

STOP_RC=""
stop_pid() { # stop_pid PID [SECONDS]: TERM, wait, KILL; exit status in STOP_RC
	local pid=$1 n=$((${2:-10} * 10))
	STOP_RC=""
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq "$n"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null
		STOP_RC=killed
		return 0
	fi
	wait "$pid" 2>/dev/null
	STOP_RC=$?
}
cleanup() {
	[ -n "$LOAD_PID" ] && stop_pid "$LOAD_PID" 5
	[ -n "$AVEDGE_PID" ] && stop_pid "$AVEDGE_PID" 30
	[ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID" 5
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
read -r PORT TLS_PORT ADMIN_PORT REDIS_PORT < <(python3 - <<'EOF'
import socket
ports, held = [], []
while len(ports) < 4:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        t.bind(("127.0.0.1", p))
    except OSError:
        u.close(); t.close(); continue
    held += [u, t]; ports.append(p)
print(*ports)
EOF
)
TOKEN=soak-token-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
PASSWORD=soakpw

start_redis() {
	mkdir -p "$TMP/redis"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$TMP/redis" --daemonize no >>"$TMP/redis.log" 2>&1 &
	REDIS_PID=$!
	for _ in $(seq 50); do
		[ "$(redis-cli -p "$REDIS_PORT" PING 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	log "redis-server did not start: $(tail -3 "$TMP/redis.log")"
	return 1
}

RELOADS=0
write_config() { # the user "reload-N" changes at every reload
	cat >"$TMP/avedge.conf.new" <<EOF
listening-ip = 127.0.0.1
listening-port = $PORT
tls-listening-port = $TLS_PORT
relay-ip = 127.0.0.1
min-port = 30000
max-port = 31799
threads = 2
realm = soak
user = steady:$PASSWORD
user = churn:$PASSWORD
user = reload-$RELOADS:pw$RELOADS
allow-loopback-peers
cert = $TMP/cert.pem
pkey = $TMP/key.pem
redis = redis://127.0.0.1:$REDIS_PORT/0
node-id = soak1
admin-listen = 127.0.0.1:$ADMIN_PORT
admin-token = $TOKEN
lock-dir = $TMP/lock
log-file = $TMP/avedge.log
log-level = info
EOF
	mv "$TMP/avedge.conf.new" "$TMP/avedge.conf"
}

sample() { # sample NAME: "NAME rss_kb fds" into $TMP/samples
	local rss fds
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$AVEDGE_PID/status" 2>/dev/null)
	fds=$(find "/proc/$AVEDGE_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$1 ${rss:-?} $fds $(cut -d' ' -f1-3 /proc/loadavg)" >>"$TMP/samples"
	log "sample $1: rss ${rss:-?} kB, fds $fds, load $(cut -d' ' -f1-3 /proc/loadavg)"
}

quiesce() { # churn and kicks paused, every churn allocation freed
	touch "$TMP/ctl/pause"
	for _ in $(seq 300); do
		[ -e "$TMP/ctl/paused" ] && break
		kill -0 "$LOAD_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -e "$TMP/ctl/paused" ] || log "warning: churn did not pause within 30 s"
	sleep 2 # closes and kicked relays settle in avedge
}
resume() { rm -f "$TMP/ctl/pause"; }

# --- set up ------------------------------------------------------------------
mkdir -p "$TMP/lock" "$TMP/ctl"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 ||
	{ log "openssl failed"; exit 2; }
start_redis || exit 2
write_config
if [ "$ASAN" = 1 ]; then
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
fi
"$AVEDGE_BIN" -c "$TMP/avedge.conf" >"$TMP/avedge.out" 2>&1 &
AVEDGE_PID=$!
ready=0
for _ in $(seq 300); do
	kill -0 "$AVEDGE_PID" 2>/dev/null || break
	if curl -fsS -m 1 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$ADMIN_PORT/metrics" 2>/dev/null | grep -q '^avedge_redis_up 1'; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ $ready != 1 ]; then
	log "avedge not ready (redis up) in 30 s: $(tail -5 "$TMP/avedge.out" "$TMP/avedge.log" 2>/dev/null)"
	exit 2
fi
BIN_ID=$(sha256sum "$AVEDGE_BIN" | cut -c1-12)
log "avedge $AVEDGE_BIN (sha256 $BIN_ID) pid $AVEDGE_PID, port $PORT/tls $TLS_PORT," \
	"admin $ADMIN_PORT, redis $REDIS_PORT pid $REDIS_PID; $TOTAL s, warm-up $WARM s"
sleep 1
sample start

python3 "$REPO/bench/soak_load.py" --server "127.0.0.1:$PORT" --tls-port "$TLS_PORT" \
	--admin "127.0.0.1:$ADMIN_PORT" --token "$TOKEN" --password "$PASSWORD" \
	--dir "$TMP/ctl" --max-seconds $((TOTAL + 120)) >"$TMP/load.json" 2>"$TMP/load.err" &
LOAD_PID=$!
for _ in $(seq 600); do
	[ -e "$TMP/ctl/ready" ] && break
	kill -0 "$LOAD_PID" 2>/dev/null || break
	sleep 0.1
done
[ -e "$TMP/ctl/ready" ] || { log "load did not start: $(cat "$TMP/load.err")"; exit 2; }
log "$(cat "$TMP/load.err")"

# --- the run -----------------------------------------------------------------
T0=$(date +%s)
R1=$((TOTAL / 3)) R2=$((2 * TOTAL / 3))
next_hup=60 warm_done=0 r1_done=0 r2_done=0 next_tick=60
HUPS=0 REDIS_RESTARTS=0
for _ in $(seq $((TOTAL * 4 + 400))); do # bounded; the clock ends it
	el=$(($(date +%s) - T0))
	[ "$el" -ge "$TOTAL" ] && break
	kill -0 "$AVEDGE_PID" 2>/dev/null || { log "avedge died"; break; }
	kill -0 "$LOAD_PID" 2>/dev/null || { log "load generator died"; break; }
	if [ $warm_done = 0 ] && [ "$el" -ge "$WARM" ]; then
		quiesce; sample warm; resume; warm_done=1
	fi
	if [ "$el" -ge "$next_hup" ]; then
		RELOADS=$((RELOADS + 1)); write_config
		kill -HUP "$AVEDGE_PID" && HUPS=$((HUPS + 1))
		next_hup=$((next_hup + 60))
	fi
	if { [ $r1_done = 0 ] && [ "$el" -ge "$R1" ]; } || { [ $r2_done = 0 ] && [ "$el" -ge "$R2" ]; }; then
		if [ $r1_done = 0 ]; then r1_done=1; else r2_done=1; fi
		log "redis-server: SIGKILL pid $REDIS_PID, 3 s down"
		kill -KILL "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=""
		sleep 3
		start_redis && REDIS_RESTARTS=$((REDIS_RESTARTS + 1))
		log "redis-server: up again, pid $REDIS_PID"
	fi
	if [ "$el" -ge "$next_tick" ]; then
		sample "t$el"; next_tick=$((next_tick + 60))
	fi
	sleep 0.25
done

# --- the end -----------------------------------------------------------------
quiesce
sample end
touch "$TMP/ctl/stop"
for _ in $(seq 600); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$LOAD_PID" 1; LOAD_RC=$STOP_RC LOAD_PID=""
sleep 2
sample after
REDIS_UP_END=$(curl -fsS -m 2 -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$ADMIN_PORT/metrics" 2>/dev/null | awk '/^avedge_redis_up / {print $2}')
stop_pid "$AVEDGE_PID" 60; AVEDGE_RC=$STOP_RC AVEDGE_PID=""
stop_pid "$REDIS_PID" 5; REDIS_RC=$STOP_RC REDIS_PID=""

# --- report ------------------------------------------------------------------
HEAD=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')
python3 - "$TMP" "$ASAN" "$RSS_PCT" "$AVEDGE_RC" "$LOAD_RC" "$HUPS" "$REDIS_RESTARTS" \
	"$TOTAL" "$WARM" "$BIN_ID" "$HEAD" "$AVEDGE_BIN" "${REDIS_UP_END:-?}" "$REDIS_RC" \
	>"$TMP/report.md" <<'EOF'
import json, re, sys, os, datetime
(tmp, asan, rss_pct, av_rc, load_rc, hups, rr, total, warm, bin_id, head, binp,
 redis_up, redis_rc) = sys.argv[1:15]
asan = asan == "1"
s = {}
for line in open(os.path.join(tmp, "samples")):
    f = line.split()
    s[f[0]] = (int(f[1]) if f[1].isdigit() else None, int(f[2]), " ".join(f[3:]))
try:
    load = json.loads(open(os.path.join(tmp, "load.json")).read().strip().splitlines()[-1])
except Exception as e:
    load = None
log = open(os.path.join(tmp, "avedge.log"), errors="replace").read().splitlines()
out = open(os.path.join(tmp, "avedge.out"), errors="replace").read()
err_lines = [l for l in log if re.match(r"^\S+ error ", l)]
warn_lines = [l for l in log if re.match(r"^\S+ warn ", l)]
fails = []
def g(k, i):
    return s[k][i] if k in s else None
P = print
P("## soak: %s, %s s (warm-up %s s)%s" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
  total, warm, ", ASan" if asan else ""))
P()
P("avedge `%s` (sha256 %s), commit %s; machine %d CPUs, load average at the end %s." % (
  binp, bin_id, head, os.cpu_count(), open("/proc/loadavg").read().split()[:3]))
P()
P("| sample | VmRSS kB | open fds | load average |")
P("| --- | ---: | ---: | --- |")
for k, v in s.items():
    P("| %s | %s | %d | %s |" % (k, v[0], v[1], v[2]))
P()
# thresholds
if not asan:
    if g("warm", 0) and g("end", 0):
        grow = 100.0 * (g("end", 0) - g("warm", 0)) / g("warm", 0)
        P("RSS end vs warm: %+.1f %% (threshold +%s %%)" % (grow, rss_pct))
        if grow > float(rss_pct):
            fails.append("RSS grew %.1f %% after warm-up (> %s %%)" % (grow, rss_pct))
    else:
        fails.append("no RSS samples")
else:
    P("RSS rule off under ASan (quarantine and allocator keep freed memory resident).")
for a, b in (("warm", "end"), ("start", "after")):
    if g(a, 1) is None or g(b, 1) is None:
        fails.append("missing fd samples %s/%s" % (a, b)); continue
    P("fds %s %d -> %s %d" % (a, g(a, 1), b, g(b, 1)))
    if g(b, 1) > g(a, 1):
        fails.append("fds grew: %s %d -> %s %d" % (a, g(a, 1), b, g(b, 1)))
P()
if load is None:
    fails.append("no report from the load generator (exit %s)" % load_rc)
else:
    P("| flow | sent | received | lost | loss % | dups | refresh errors | set-up error |")
    P("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for f in load["flows"]:
        P("| %s | %d | %d | %d | %s | %d | %d | %s |" % (f["flow"], f["sent"], f["received"],
          f["lost"], f["loss_pct"], f["dups"], f["refresh_errors"], f["setup_error"] or ""))
        if f["setup_error"]:
            fails.append("steady flow %s not set up: %s" % (f["flow"], f["setup_error"]))
        elif f["lost"] > 0:
            fails.append("steady flow %s lost %d of %d" % (f["flow"], f["lost"], f["sent"]))
        elif f["sent"] == 0:
            fails.append("steady flow %s sent nothing" % f["flow"])
    P()
    P("Churn: %s." % ", ".join("%s %d" % kv for kv in load["churn"].items()))
    P("Kicks: %s." % ", ".join("%s %d" % kv for kv in load["kicks"].items()))
    P("Client errors: %d%s" % (load["client_errors"], ":" if load["errors"] else "."))
    for e in load["errors"][:20]:
        P("    %s" % e)
P("SIGHUP reloads: %s; Redis restarts: %s; avedge_redis_up at the end: %s." % (hups, rr, redis_up))
P("avedge log: %d lines, %d at error level, %d at warn level." % (len(log), len(err_lines), len(warn_lines)))
def kinds(lines):  # distinct messages, numbers folded, most frequent first
    c = {}
    for l in lines:
        k = re.sub(r"\d+", "N", l.split(" ", 2)[2] if l.count(" ") >= 2 else l)
        c[k] = c.get(k, 0) + 1
    return sorted(c.items(), key=lambda kv: -kv[1])
for what, lines in (("error", err_lines), ("warn", warn_lines)):
    for k, n in kinds(lines)[:8]:
        P("    %s x%d: %s" % (what, n, k[:200]))
P("avedge exit status on SIGTERM: %s." % av_rc)
if av_rc != "0":
    fails.append("avedge exit status %s" % av_rc)
if re.search(r"LeakSanitizer|AddressSanitizer|runtime error:", out):
    fails.append("sanitizer report on avedge's stderr")
    P("```"); P(out[-4000:]); P("```")
elif asan:
    P("LeakSanitizer: nothing reported (ASAN_OPTIONS=detect_leaks=1).")
P()
if fails:
    P("**FAIL**: " + "; ".join(fails) + ".")
else:
    P("**PASS**: all thresholds met.")
sys.exit(1 if fails else 0)
EOF
RC=$?
cat "$TMP/report.md"
[ -n "$OUT" ] && cp "$TMP/report.md" "$OUT"
exit $RC
