#!/usr/bin/env bash
# deploy/demo.sh - install what avedge needs, build it, and run it in the
# foreground on loopback (127.0.0.1:3478, UDP and TCP) with the embedded
# state, a demo credential and the admin server (dashboard, /metrics,
# edgectl) on 127.0.0.1:9641 with a random token, all printed below.
# With --with-traffic, tools/edge-sim also plays a desktop-sharing session
# through it (an MCU and 10 viewers, control handed over and taken back),
# so that the dashboard has something to show. Ctrl-C stops everything
# this script started.
#   PORT=3478         TURN listening port
#   ADMIN_PORT=9641   admin server port
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3478}
ADMIN_PORT=${ADMIN_PORT:-9641}
VIEWERS=10
traffic=0
case "${1:-}" in
--with-traffic) traffic=1 ;;
"") ;;
*)
	echo "usage: $0 [--with-traffic]   (env: PORT, ADMIN_PORT)" >&2
	exit 2
	;;
esac

bash deploy/install-deps.sh --runtime
# A build/ configured before (e.g. by tests/run-all.sh, tests and -Werror
# on) is reused as it is; only a first configure picks the options.
if [ ! -f build/CMakeCache.txt ]; then
	cmake -S . -B build -DAVEDGE_TESTS=OFF >/dev/null
fi
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" \
	--target avedge edgectl edge-sim

password=$(openssl rand -hex 12)
token=$(openssl rand -hex 16)
realm=avedge.local
admin=http://127.0.0.1:$ADMIN_PORT

# Background children of a script ignore SIGINT, so Ctrl-C reaches them
# only through this trap: SIGTERM to each by PID, then wait (SIGKILL
# after 5 s).
relay_pid=
sim_pid=
stop() {
	trap - INT TERM EXIT
	local p alive n=0
	for p in $sim_pid $relay_pid; do kill -TERM "$p" 2>/dev/null || true; done
	while :; do
		alive=
		for p in $sim_pid $relay_pid; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && break
		if [ $n -ge 50 ]; then
			# shellcheck disable=SC2086
			kill -KILL $alive 2>/dev/null || true
		fi
		n=$((n + 1))
		sleep 0.1
	done
	wait 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Loopback peers are allowed so that clients on this machine can relay to
# each other; a real deployment leaves that off (see docs/config.md).
./build/avedge --listening-ip 127.0.0.1 --listening-port "$PORT" \
	--relay-ip 127.0.0.1 --realm "$realm" --user "demo:$password" \
	--allow-loopback-peers --lock-dir "${TMPDIR:-/tmp}" \
	--admin-listen "127.0.0.1:$ADMIN_PORT" --admin-token "$token" &
relay_pid=$!

up=0
for _ in $(seq 100); do
	if ./build/tools/edgectl --admin "$admin" --token "$token" \
		--timeout 1 status >/dev/null 2>&1; then
		up=1
		break
	fi
	kill -0 "$relay_pid" 2>/dev/null || break
	sleep 0.1
done
if [ $up = 0 ]; then
	echo "demo: avedge did not start (ports $PORT and $ADMIN_PORT free?)" >&2
	exit 1
fi

if [ $traffic = 1 ]; then
	# 10 viewers at 2 Mbit/s each (a usual screen share; at a few hundred
	# kbit/s a PDU's paced fragments, which share an RTP timestamp, read
	# as 25-35 ms of RFC 3550 jitter on a loss-free loopback: "poor");
	# viewer 1 gets control every 3 s, the presenter takes it back 3 s
	# later. Runs until stopped (or 24 h).
	./build/tools/edge-sim --server "127.0.0.1:$PORT" \
		--user "demo:$password" --viewers "$VIEWERS" --rate 2M \
		--duration 86400 --warmup 0 --control-viewer 1 \
		--control-every 3 >/dev/null &
	sim_pid=$!
	# The banner comes after the session's allocations (and their log
	# lines): MCU + viewers, within 20 s.
	for _ in $(seq 200); do
		n=$(./build/tools/edgectl --admin "$admin" --token "$token" \
			--timeout 1 --json status 2>/dev/null |
			grep -o '"allocations":[0-9]*' | head -1 | cut -d: -f2 || true)
		[ "${n:-0}" -ge $((VIEWERS + 1)) ] && break
		kill -0 "$sim_pid" 2>/dev/null || break
		sleep 0.1
	done
	traffic_msg="  Traffic (--with-traffic): tools/edge-sim (pid $sim_pid) plays a desktop-
  sharing session through the relay: an MCU and $VIEWERS viewers, SRTP at
  2 Mbit/s each, control handed to viewer 1 and taken back every 3 s."
else
	traffic_msg="  Traffic: none. For a desktop-sharing session through the relay to
  watch (tools/edge-sim: an MCU and $VIEWERS viewers), run instead:
    ./deploy/demo.sh --with-traffic"
fi

cat <<MSG

  avedge (pid $relay_pid) relays on 127.0.0.1:$PORT (UDP and TCP), embedded
  state, loopback only.
  TURN user demo, password $password, realm $realm

  Dashboard (open in a browser on this machine):
    $admin/#token=$token

  From another terminal:
    export AVEDGE_ADMIN=$admin
    export AVEDGE_TOKEN=$token
    curl -H "Authorization: Bearer \$AVEDGE_TOKEN" \$AVEDGE_ADMIN/metrics
    ./build/tools/edgectl allocations
    turnutils_uclient -p $PORT -u demo -w $password \\
        -y -n 20 127.0.0.1      (Debian's coturn package)

$traffic_msg

  Ctrl-C stops everything the demo started.

MSG

# Until Ctrl-C (the traps), or until the relay exits. edge-sim ending
# (after 24 h, or failing) leaves the relay running.
while :; do
	rc=0
	done_pid=
	wait -n -p done_pid || rc=$?
	if [ "$done_pid" = "$relay_pid" ] || [ -z "$done_pid" ]; then
		relay_pid=
		echo "demo: avedge exited (status $rc): the demo stops" >&2
		exit "$rc"
	fi
	if [ "$done_pid" = "$sim_pid" ]; then
		sim_pid=
		echo "demo: edge-sim exited (status $rc); the relay keeps running" >&2
	fi
done
