#!/usr/bin/env python3
"""Socket.IO zombie benchmark: how long viewers wait for live frames after a
Socket.IO session turns into a zombie (the failure of the original
python-socketio consumer: connected, heartbeat going, no frame).

A Vigil server reads a python-socketio server (`kind: socketio`, stale_after
2 s, frames as binary events at 30 fps) and a viewer reads the camera's
MJPEG stream. Ten times: the upstream stops emitting to the sessions it has
(it keeps them and their heartbeat; new sessions are served normally).
Measured: fault -> first real frame at the viewer (target <= stale_after +
0.5 s = 2.5 s). Faults are spaced by more than restart.stable_after (10 s).
About two minutes.

Usage: scripts/bench_socketio_recovery.py VIGIL_BINARY  (with the project's
venv python: .build-python/venv/bin/python). Everything runs on 127.0.0.1.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from bench_recovery import STABLE_AFTER, STALE_AFTER, split_jpegs, start_relay

RUNS = 10
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    vigil = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    frames_dir = os.path.join(work, "frames")
    os.mkdir(frames_dir)
    made = subprocess.run([vigil, "fake-camera", "--size", "640x360", "--fps", "1000", "--exit-after", "1"],
                          stdout=subprocess.PIPE, check=False).stdout
    for index, jpeg in enumerate(split_jpegs(made)[:30]):
        with open(os.path.join(frames_dir, f"{index:03d}.jpg"), "wb") as out:
            out.write(jpeg)
    upstream = subprocess.Popen([sys.executable, os.path.join(HERE, "socketio_upstream.py"), "--frames-dir",
                                 frames_dir, "--namespace", "/cam", "--fps", "30"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    up_port = int(re.search(r"listening on (\d+)", upstream.stdout.readline()).group(1))
    server, viewer = start_relay(vigil, work, "runner",
                                 f'{{kind: socketio, url: "http://127.0.0.1:{up_port}", namespace: /cam}}')
    zombies = []
    try:
        for _ in range(RUNS):
            time.sleep(STABLE_AFTER + 0.5)
            fault = time.monotonic()
            upstream.stdin.write("mute\n")
            upstream.stdin.flush()
            # Frames already in flight may still arrive just after the fault.
            zombies.append(viewer.first_real_after(fault + 0.5) - fault)
    finally:
        upstream.kill()
        server.terminate()
        server.wait()
    print(f"recovery, Socket.IO zombie (fault -> first fresh frame at a viewer, stale_after {STALE_AFTER:.0f} s): "
          f"median {statistics.median(zombies) * 1000:.0f} ms, max {max(zombies) * 1000:.0f} ms "
          f"over {RUNS} (target <= {(STALE_AFTER + 0.5) * 1000:.0f} ms)")
    print(f"result: zombie_median_ms={statistics.median(zombies) * 1000:.1f}")


if __name__ == "__main__":
    main()
