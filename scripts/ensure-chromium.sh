#!/usr/bin/env bash
# The sdk's browser test drives Debian's headless Chromium; install it when it is missing (needs apt and
# root or sudo). Runs before `npm test`.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "Chromium is missing: installing Debian's chromium package for the browser test"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
command -v chromium
