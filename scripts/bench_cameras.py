#!/usr/bin/env python3
"""Camera capacity of one node: the server's CPU and memory per camera.

Starts `vigil serve` with N exec cameras, each a `vigil fake-camera` at
720p30 with ~119 KB frames (the fan-out bench's camera, pre-rendered, so the
fakes cost little), no viewer, motion off, and measures the server's CPU
(from /proc/PID/stat, the fakes not included) over a window after a warm-up.

Usage: scripts/bench_cameras.py VIGIL_BINARY [CAMERAS] [SECONDS]  (default: 10 20)
"""
import json
import os
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_rss import running_server, status_kb  # noqa: E402


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    vigil = os.path.abspath(sys.argv[1])
    cameras = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 20
    root = tempfile.mkdtemp(prefix="vigil-cameras-")
    fake = [vigil, "fake-camera", "--fps", "30", "--size", "1280x720", "--quality", "85", "--noise", "14",
            "--distinct", "30"]
    config = os.path.join(root, "vigil.yml")
    with open(config, "w") as f:
        f.write("cameras:\n")
        for i in range(cameras):
            f.write(f"  cam{i}:\n    source: {{kind: exec, command: {json.dumps(fake)}}}\n")
    with running_server(vigil, config, root) as (server, port):
        deadline = time.time() + 120
        while time.time() < deadline:
            states = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cameras"))
            if all(s["phase"] == "live" and s["fps"] >= 25 for s in states):
                break
            time.sleep(1)
        time.sleep(3)
        start, wall = cpu_seconds(server.pid), time.time()
        time.sleep(seconds)
        cores = (cpu_seconds(server.pid) - start) / (time.time() - wall)
        states = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cameras"))
        fps = sum(s["fps"] for s in states)
        rss = status_kb(server.pid)["VmRSS"] / 1024
        print(f"{cameras} cameras at 720p30 ({fps:.0f} frames/s in all): server {cores:.3f} cores, "
              f"{cores / cameras * 100:.2f}% of a core per camera, RSS {rss:.1f} MB")
        print(f"result: cameras={cameras} cpu_cores={cores:.4f} cpu_percent_per_camera={cores / cameras * 100:.4f} "
              f"rss_mb={rss:.4f} frames_per_second={fps:.4f}")


if __name__ == "__main__":
    main()
