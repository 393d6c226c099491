#!/usr/bin/env bash
# deploy/install-deps.sh - install what avedge needs to build, run and test,
# from Debian 12 packages. Works as root or through sudo; a no-op when every
# package is already installed.
#   --runtime   only what building and running the daemon needs
set -euo pipefail

# curl: the /metrics line deploy/demo.sh prints.
build_pkgs=(build-essential cmake pkg-config libevent-dev libssl-dev
  libsrtp2-dev libhiredis-dev check openssl curl)
# Test clients we did not write (coturn's turnutils_*, stun-client), a real
# Redis, clang with the libFuzzer/sanitizer runtimes (only a Recommends of
# clang, so named), and valgrind for the leak check.
# Debian's Chromium is the browser of the WebRTC interop test
# (tests/browser, driven by npm playwright-core; never a downloaded browser).
test_pkgs=(redis-server coturn stun-client clang libclang-rt-14-dev
  clang-format valgrind iproute2 procps python3 ca-certificates chromium)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" != "--runtime" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
# Node.js and npm drive headless Chromium in the browser tests; a machine
# that already has them (from any source) keeps its own.
if [ "${1:-}" != "--runtime" ] && ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
  SUDO=(sudo)
fi
had_coturn=0
dpkg-query -W -f='${Status}' coturn 2>/dev/null | grep -q 'ok installed' && had_coturn=1
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
# We install coturn for its client tools only; its package starts a
# turnserver on 3478 where systemd runs, so stop the one we just brought in.
if [ $had_coturn = 0 ] && command -v systemctl >/dev/null &&
  systemctl is-active --quiet coturn 2>/dev/null; then
  "${SUDO[@]}" systemctl disable --now coturn || true
fi
