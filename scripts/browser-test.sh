#!/usr/bin/env bash
# Runs the browser test (scripts/browser_test.py) against the debug build with
# headless Chromium. Usage: scripts/browser-test.sh [--screenshot PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .build-python/venv/bin/python scripts/browser_test.py .build/debug/vigil "$@"
