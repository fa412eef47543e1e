#!/usr/bin/env bash
# Installs what Vigil needs to build and test, if missing: system packages
# (libjpeg-turbo, SQLite; for the tests Chromium with its driver, openssl,
# which makes the TLS test's certificate, Prometheus with promtool, which
# scrape and check /metrics, the mosquitto broker and clients for the MQTT
# tests, PostgreSQL for the store and cluster tests and nginx in front of
# edge relays; their services are not started: the tests start their own on
# free ports, in temp dirs)
# and, in .build-python/venv, Selenium (browser test), matplotlib (the soak's
# plot), python-socketio and aiohttp (a real Socket.IO server for the tests)
# from PyPI.
# Usage: scripts/install-deps.sh        (Debian/Ubuntu; uses sudo when not root)
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc, iproute2 and curl are for `make bench`: its reference MJPEG writer in
# C, the network namespace with a rate-limited link, and readiness checks.
# valgrind and binutils are for `make release`: the profile its code layout
# comes from (scripts/code_order.py), strip and objcopy.
build_packages=(libturbojpeg0-dev libsqlite3-dev pkg-config gcc iproute2 curl valgrind binutils)
browser_packages=(chromium chromium-driver fonts-dejavu-core openssl)
service_packages=(prometheus mosquitto mosquitto-clients postgresql nginx)

missing_from() {
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            echo "$p"
        fi
    done
}

missing_build=($(missing_from "${build_packages[@]}"))
missing_browser=($(missing_from "${browser_packages[@]}"))
missing_service=($(missing_from "${service_packages[@]}"))

if [ ${#missing_build[@]} -gt 0 ] || [ ${#missing_browser[@]} -gt 0 ] || [ ${#missing_service[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then
        echo "install-deps: please install: ${missing_build[*]} ${missing_browser[*]} ${missing_service[*]}" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    echo "install-deps: installing ${missing_build[*]} ${missing_browser[*]} ${missing_service[*]}" >&2
    $SUDO apt-get update -qq
    if [ ${#missing_build[@]} -gt 0 ]; then
        $SUDO apt-get install -y -qq --no-install-recommends "${missing_build[@]}" >/dev/null
    fi
    if [ ${#missing_browser[@]} -gt 0 ]; then
        # With recommends: Chromium's fonts and libraries for rendering.
        $SUDO apt-get install -y -qq "${missing_browser[@]}" >/dev/null
    fi
    if [ ${#missing_service[@]} -gt 0 ]; then
        # Installed, not started: a policy-rc.d that says no for the
        # duration of the install (unless the machine has one already).
        policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
            $SUDO chmod 755 "$policy"
        fi
        $SUDO apt-get install -y -qq --no-install-recommends "${missing_service[@]}" >/dev/null
        if [ -n "$policy" ]; then $SUDO rm -f "$policy"; fi
    fi
fi

# Python tools for the browser test, the soak and the Socket.IO upstream of
# the tests, in a virtualenv of their own.
venv=.build-python/venv
if ! "$venv/bin/python" -c "import selenium, matplotlib, socketio, aiohttp" 2>/dev/null; then
    echo "install-deps: installing Selenium, matplotlib, python-socketio and aiohttp into $venv" >&2
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "selenium>=4.20,<5" "matplotlib>=3.8,<4" \
        "python-socketio>=5.11,<6" "aiohttp>=3.9,<4"
fi
