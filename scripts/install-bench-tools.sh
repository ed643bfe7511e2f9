#!/usr/bin/env bash
# Debian's wrk, the load generator of `make bench` (the benchmark falls back to a slower
# Python generator without it, which is enough for the smoke run only).
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends wrk \
  || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends wrk; }
