#!/usr/bin/env bash
# Installs the system packages Vigil needs to build and test, if missing.
# Usage: scripts/install-deps.sh [--browser]   (Debian/Ubuntu; uses sudo when not root)
set -euo pipefail

packages=(libturbojpeg0-dev libsqlite3-dev pkg-config)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "install-deps: please install: ${missing[*]}" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
