#!/usr/bin/env bash
# The three figures a restructuring must keep, for one release build: the
# framing parser, 200 MJPEG viewers of a 720p30 camera, a 5,000-frame upload.
# Usage: scripts/bench-core.sh BUILD_DIR   (e.g. .build-static/release, with
# vigil and vigil-load built there); run it for two builds back to back to
# compare them on one machine.
set -euo pipefail
BIN="$(cd "$1" && pwd)"; WORK="$(mktemp -d)"
"$BIN/vigil-load" framing --megabytes 2048 --runs 5 | grep framing
cat > "$WORK/vigil.yml" <<YAML
server:
  max_clients_per_camera: 1000
  max_connections_per_address: 1000
cameras:
  bench:
    source:
      kind: exec
      command: ["$BIN/vigil", fake-camera, --fps, "30", --size, 1280x720, --quality, "85", --noise, "14", --distinct, "30"]
YAML
start() {
  "$BIN/vigil" serve --config "$WORK/vigil.yml" --port 0 --data-dir "$WORK/data" --log-level notice 2> "$WORK/server.log" &
  PID=$!
  for _ in $(seq 1 100); do PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/server.log" | grep -o '[0-9]*$' || true); [ -n "$PORT" ] && break; sleep 0.1; done
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/cameras/bench" | grep -q '"phase":"live"' && break; sleep 0.1; done
}
start
"$BIN/vigil-load" fanout --url "http://127.0.0.1:$PORT/cameras/bench/stream.mjpg" --clients 200 --duration 20 --server-pid "$PID" | grep -E 'fast clients|server cpu|server rss'
kill -TERM $PID; wait $PID 2>/dev/null || true
rm -rf "$WORK/data"; start
"$BIN/vigil-load" ingest --url "ws://127.0.0.1:$PORT" --frames 5000 --server-pid "$PID" | grep ingest
kill -TERM $PID; wait $PID 2>/dev/null || true
rm -rf "$WORK"
