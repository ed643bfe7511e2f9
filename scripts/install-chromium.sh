#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright's own download does not work offline).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
  || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }
