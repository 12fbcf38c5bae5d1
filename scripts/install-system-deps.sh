#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: PostgreSQL (storage tests) and Chromium
# (browser tests). Idempotent; does nothing when they are already present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-system-deps: need root (or sudo) to apt-get install ${need[*]}" >&2; exit 1; fi
else SUDO=; fi
echo "install-system-deps: apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
