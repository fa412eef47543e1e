#!/usr/bin/env bash
# Vigil benchmarks: framing parser throughput and MJPEG fan-out under load.
# Usage: scripts/bench.sh            (everything, about 25 minutes)
#        BENCH_DURATION=20 BENCH_MOTION_SECONDS=600 scripts/bench.sh
# Runs release builds. Every client connects to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-20}"
# Same flags as `make release` (static Swift runtime, PIE with packed relocations).
RELEASE_FLAGS="${RELEASE_FLAGS:--c release --static-swift-stdlib --scratch-path .build-static -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs}"
# shellcheck disable=SC2086
swift build $RELEASE_FLAGS --product vigil
# shellcheck disable=SC2086
swift build $RELEASE_FLAGS --product vigil-load
BIN=.build-static/release
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== JPEG framing parser (one core, 720p frames of ~120 KB, 64 KiB reads)"
"$BIN/vigil-load" framing --megabytes 2048 --runs 5

start_server() {
    cat > "$WORK/vigil.yml" <<YAML
server:
  max_clients_per_camera: 1000
  max_connections_per_address: 1000
cameras:
  bench:
    source:
      kind: exec
      command: ["$PWD/$BIN/vigil", fake-camera, --fps, "30", --size, 1280x720, --quality, "85", --noise, "14", --distinct, "30"]
YAML
    "$BIN/vigil" serve --config "$WORK/vigil.yml" --port 0 --data-dir "$WORK/data" --log-level notice \
        2> "$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/server.log" | grep -o '[0-9]*$' || true)
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { cat "$WORK/server.log"; exit 1; }
    # wait for the camera to be live
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$PORT/api/v1/cameras/bench" | grep -q '"phase":"live"' && break
        sleep 0.1
    done
}

stop_server() {
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

echo
echo "== MJPEG fan-out: 200 clients, 1280x720 at 30 fps (targets: all >= 29.5 fps, <= 0.28 cores, p99 <= 16 ms, peak RSS <= 40 MB)"
start_server
"$BIN/vigil-load" fanout --url "http://127.0.0.1:$PORT/cameras/bench/stream.mjpg" \
    --clients 200 --duration "$DURATION" --server-pid "$SERVER_PID"
stop_server

echo
echo "== MJPEG fan-out: 50 clients of which 10 read at 250 kB/s (targets: fast ones unaffected, RSS flat)"
start_server
"$BIN/vigil-load" fanout --url "http://127.0.0.1:$PORT/cameras/bench/stream.mjpg" \
    --clients 50 --slow 10 --duration "$DURATION" --server-pid "$SERVER_PID"
stop_server

echo
echo "== Ingest: one session of 5000 1280x720 frames over loopback (targets: >= 1000 frames/s with acks every 50 frames after an fsync, server RSS flat)"
start_server
"$BIN/vigil-load" ingest --url "ws://127.0.0.1:$PORT" --frames 5000 --server-pid "$SERVER_PID"
stop_server

echo
echo "== Motion analysis per frame (target: comparing adds <= 15% to the scaled decode)"
"$BIN/vigil-load" motion --runs 5

echo
echo "== Motion on one 720p30 camera: CPU (target <= 2% of a core at analysis_fps 5) and pre-capture memory over ${BENCH_MOTION_SECONDS:-600} s"
python3 scripts/bench_motion.py "$BIN/vigil" "$DURATION" "${BENCH_MOTION_SECONDS:-600}"

echo
echo "== Recovery after upstream faults (kill: <= 0.5 s after the upstream is back; zombie: <= stale_after + 0.5 s)"
python3 scripts/bench_recovery.py "$BIN/vigil"

echo
echo "== Recovery from a Socket.IO zombie (a session that keeps its heartbeat and sends nothing: <= stale_after + 0.5 s)"
.build-python/venv/bin/python scripts/bench_socketio_recovery.py "$BIN/vigil"
