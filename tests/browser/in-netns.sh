#!/usr/bin/env bash
# tests/browser/in-netns.sh - run a TURN server and a client together inside a
# fresh network namespace that has only the loopback interface.
#
#   in-netns.sh [--port P] [--server-log FILE] [--ready-timeout S] \
#               -- SERVER_CMD... --then CLIENT_CMD...
#
# Re-executes itself under `unshare --net` (adding --map-root-user when not
# root), brings `lo` up, refuses to go on if any other interface is visible,
# starts SERVER_CMD in the background (stdout+stderr to --server-log), waits
# until it listens on UDP and TCP port P of 127.0.0.1, runs CLIENT_CMD in the
# foreground, then stops the server by its PID (SIGTERM, SIGKILL after 5 s).
#
# Why: Chromium gathers ICE candidates on every interface it sees; with only
# `lo` there is exactly one path and the selected pair cannot flap. A network
# namespace has its own loopback and its own port space, so the server must
# run in the same namespace, and fixed ports cannot collide with other tests.
#
# Exit status: CLIENT_CMD's status; 3 if the server did not come up; 4 if the
# server was no longer running when the client finished (a crash is a
# failure even when the client was satisfied); 2 on usage errors.
set -uo pipefail

if [ "${AVEDGE_IN_NETNS_INNER:-}" != 1 ]; then
	unshare_args=(--net)
	[ "$(id -u)" -ne 0 ] && unshare_args=(--map-root-user --net)
	exec env AVEDGE_IN_NETNS_INNER=1 unshare "${unshare_args[@]}" -- \
		bash "$0" "$@"
fi
unset AVEDGE_IN_NETNS_INNER

port=""
server_log=/dev/null
ready_timeout=20
usage() {
	echo "usage: $0 [--port P] [--server-log FILE] [--ready-timeout S] -- SERVER... --then CLIENT..." >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--port) port=$2; shift 2 ;;
	--server-log) server_log=$2; shift 2 ;;
	--ready-timeout) ready_timeout=$2; shift 2 ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
server=()
while [ $# -gt 0 ] && [ "$1" != "--then" ]; do
	server+=("$1")
	shift
done
[ $# -gt 0 ] || usage
shift
client=("$@")
if [ ${#server[@]} -eq 0 ] || [ ${#client[@]} -eq 0 ]; then usage; fi

say() { echo "in-netns: $*" >&2; }

ip link set lo up || { say "cannot bring lo up"; exit 3; }
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
if [ "$links" != "lo " ]; then
	say "expected only lo in the namespace, found: $links"
	exit 3
fi

spid=""
cpid=""
stop_server() {
	[ -n "$spid" ] || return 0
	if kill -0 "$spid" 2>/dev/null; then
		kill -TERM "$spid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$spid" 2>/dev/null && kill -KILL "$spid" 2>/dev/null
	fi
	wait "$spid" 2>/dev/null
	spid=""
}
# shellcheck disable=SC2317  # invoked through the trap
on_signal() {
	[ -n "$cpid" ] && kill -TERM "$cpid" 2>/dev/null
	stop_server
	exit 143
}
trap on_signal TERM INT HUP

"${server[@]}" >"$server_log" 2>&1 </dev/null &
spid=$!

listening() { # listening udp|tcp PORT
	local flag=-u
	[ "$1" = tcp ] && flag=-t
	[ -n "$(ss -Hln $flag "sport = :$2" 2>/dev/null)" ]
}
if [ -n "$port" ]; then
	deadline=$((SECONDS + ready_timeout))
	until listening udp "$port" && listening tcp "$port"; do
		if ! kill -0 "$spid" 2>/dev/null; then
			wait "$spid"
			say "server exited with status $? before listening on port $port"
			tail -n 30 "$server_log" >&2 2>/dev/null
			exit 3
		fi
		if [ $SECONDS -ge $deadline ]; then
			say "server not listening on udp+tcp port $port after ${ready_timeout}s"
			tail -n 30 "$server_log" >&2 2>/dev/null
			stop_server
			exit 3
		fi
		sleep 0.05
	done
fi

"${client[@]}" &
cpid=$!
wait "$cpid"
rc=$?
cpid=""

if ! kill -0 "$spid" 2>/dev/null; then
	wait "$spid"
	say "server exited with status $? while the client ran"
	tail -n 30 "$server_log" >&2 2>/dev/null
	spid=""
	[ "$rc" -eq 0 ] && rc=4
fi
stop_server
exit "$rc"
