#!/usr/bin/env python3
"""Motion benchmark: what motion detection costs one 720p30 camera.

A Vigil server runs one camera fed by `vigil fake-camera` (1280x720, 30 fps,
~120 KB noisy frames; the fake camera is another process, its CPU is not
counted). Measured from /proc on the server process:

  cpu     motion off, then motion on (analysis_fps 5) on a still scene, then
          on a scene with a one-second motion burst every 10 s (events
          recorded): server CPU as a fraction of a core. Target: a 720p30
          camera with motion at analysis_fps 5 costs <= 2% of a core.
  memory  motion on with pre_capture 3s, bursts every 20 s, for
          MEMORY_SECONDS (default 600): the pre-capture ring (from
          /api/v1/cameras/bench/motion) stays within its byte bound, and the
          server RSS does not grow.

Usage: scripts/bench_motion.py VIGIL_BINARY [CPU_SECONDS] [MEMORY_SECONDS]
Everything runs on 127.0.0.1.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, binary, work, motion, camera_args):
        self.work = work
        config = os.path.join(work, "vigil.yml")
        command = json.dumps([binary, "fake-camera", "--fps", "30", "--size", "1280x720", "--quality", "85",
                              "--noise", "14"] + camera_args)
        with open(config, "w") as f:
            f.write("events: {max_bytes: 300MB}\n")
            f.write("cameras:\n  bench:\n")
            f.write(f"    source: {{kind: exec, command: {command}}}\n")
            if motion:
                f.write(f"    motion: {motion}\n")
        data = os.path.join(work, "data")
        shutil.rmtree(data, ignore_errors=True)
        self.log = open(os.path.join(work, "server.log"), "w+")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", config, "--port", "0", "--data-dir", data, "--log-level", "notice"],
            stderr=self.log)
        self.port = None
        for _ in range(200):
            self.log.seek(0)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log.read())
            if match:
                self.port = int(match.group(1))
                break
            time.sleep(0.05)
        if self.port is None:
            self.stop()
            sys.exit("server did not start")
        for _ in range(200):
            if self.get("/api/v1/cameras/bench").get("phase") == "live":
                return
            time.sleep(0.05)
        sys.exit("camera not live")

    def get(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            return json.loads(response.read())

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def measure_cpu(binary, work, motion, camera_args, seconds):
    server = Server(binary, work, motion, camera_args)
    try:
        time.sleep(3)
        start = cpu_seconds(server.process.pid)
        time.sleep(seconds)
        used = cpu_seconds(server.process.pid) - start
        events = server.get("/api/v1/events?limit=500") if motion else []
        return used / seconds, len(events)
    finally:
        server.stop()


def main():
    binary = sys.argv[1]
    cpu_window = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    memory_window = float(sys.argv[3]) if len(sys.argv) > 3 else 600
    work = tempfile.mkdtemp()
    try:
        still = ["--distinct", "1"]
        bursts = ["--distinct", "30", "--motion-every", "10"]
        on = "{enabled: true, analysis_fps: 5, threshold: 1.5, event_gap: 3s, pre_capture: 2s, post_capture: 2s}"
        off, _ = measure_cpu(binary, work, None, still, cpu_window)
        still_on, _ = measure_cpu(binary, work, on, still, cpu_window)
        bursts_on, events = measure_cpu(binary, work, on, bursts, cpu_window)
        print(f"one 720p30 camera, server CPU over {cpu_window:.0f} s: motion off {off * 100:.2f}% of a core; "
              f"motion on (analysis_fps 5), still scene {still_on * 100:.2f}% "
              f"(motion itself +{(still_on - off) * 100:.2f}%); "
              f"with a motion burst every 10 s {bursts_on * 100:.2f}% ({events} events recorded)  "
              f"[target: <= 2% of a core with motion at analysis_fps 5]")
        print(f"result: cpu_off_percent={off * 100:.3f} cpu_still_percent={still_on * 100:.3f} "
              f"cpu_bursts_percent={bursts_on * 100:.3f}")

        motion = ("{enabled: true, analysis_fps: 5, threshold: 1.5, event_gap: 3s, pre_capture: 3s, post_capture: 2s,"
                  " pre_capture_max_bytes: 16MiB}")
        server = Server(binary, work, motion, ["--distinct", "30", "--motion-every", "20"])
        try:
            bound = None
            ring_max = 0
            samples = []
            start = time.time()
            while time.time() - start < memory_window:
                status = server.get("/api/v1/cameras/bench/motion")
                bound = status["ring_max_bytes"]
                ring_max = max(ring_max, status["ring_bytes"])
                samples.append((time.time() - start, rss_kb(server.process.pid), status["ring_bytes"]))
                time.sleep(2)
            events = server.get("/api/v1/events?limit=500")
            first_minute = [rss for t, rss, _ in samples if 50 <= t <= 70] or [samples[0][1]]
            last = samples[-1][1]
            peak = max(rss for _, rss, _ in samples)
            print(f"pre_capture 3s at 720p30 over {memory_window:.0f} s: ring at most {ring_max / 1e6:.1f} MB "
                  f"(bound {bound / 1e6:.1f} MB: {'within' if ring_max <= bound else 'OVER'}); server RSS "
                  f"{first_minute[0] / 1000:.1f} MB at 1 min, {last / 1000:.1f} MB at the end, peak {peak / 1000:.1f} MB; "
                  f"{len(events)} events recorded")
            print(f"result: ring_max_mb={ring_max / 1e6:.2f} ring_bound_mb={bound / 1e6:.2f} "
                  f"rss_first_minute_mb={first_minute[0] / 1000:.2f} rss_end_mb={last / 1000:.2f}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
