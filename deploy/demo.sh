#!/usr/bin/env bash
# deploy/demo.sh - install what avedge needs, build it, and run it in the
# foreground on loopback (127.0.0.1:3478, UDP and TCP) with the embedded
# state and a demo credential printed below. Ctrl-C stops it.
#   PORT=3478   listening port
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-3478}

bash deploy/install-deps.sh --runtime
cmake -S . -B build -DAVEDGE_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

password=$(openssl rand -hex 12)
realm=avedge.local
cat <<MSG

  avedge on 127.0.0.1:$PORT (UDP and TCP), embedded state
  demo credential:  user demo   password $password   realm $realm

  try:  turnutils_stunclient -p $PORT 127.0.0.1
        turnutils_uclient -p $PORT -u demo -w $password -y -n 20 127.0.0.1
        (both from Debian's coturn package)

MSG
# Loopback peers are allowed so that clients on this machine can relay to
# each other; a real deployment leaves that off (see docs/config.md).
exec ./build/avedge --listening-ip 127.0.0.1 --listening-port "$PORT" \
	--relay-ip 127.0.0.1 --realm "$realm" --user "demo:$password" \
	--allow-loopback-peers --lock-dir "${TMPDIR:-/tmp}"
