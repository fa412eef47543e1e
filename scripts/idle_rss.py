#!/usr/bin/env python3
"""Idle memory of a release binary: the figure the Pi's 512 MB are spent on.

Starts `vigil serve` with one exec camera (the binary's own `fake-camera` at
720p15), no viewer, waits until the camera is live and then SECONDS more
(default 20), and prints the server's RSS from /proc/PID/status (the fake
camera not included) with how much of the binary's own code is resident.

Usage: scripts/idle_rss.py VIGIL_BINARY [SECONDS]
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def write_one_camera_config(vigil, root):
    """A config with one exec camera `cam` fed by VIGIL's fake camera."""
    fake = [vigil, "fake-camera", "--fps", "15", "--size", "1280x720"]
    config = os.path.join(root, "vigil.yml")
    with open(config, "w") as f:
        f.write(f"cameras:\n  cam:\n    source: {{kind: exec, command: {json.dumps(fake)}}}\n")
    return config


def listening_port(log_path, process, timeout=120):
    """The port `vigil serve --port 0` says it listens on (in its log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vigil exited with {process.returncode}; see {log_path}")
        for line in open(log_path):
            if "listening on http://" in line:
                return int(line.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
        time.sleep(0.2)
    raise SystemExit(f"vigil did not start within {timeout} s; see {log_path}")


@contextlib.contextmanager
def running_server(vigil, config, root):
    """`vigil serve` with `config` on a free port, data and log under `root`;
    yields (process, port), then stops it and removes `root`. The log goes to
    a file: a pipe nobody reads would stop the server once full."""
    log_path = os.path.join(root, "vigil.log")
    server = subprocess.Popen(
        [vigil, "serve", "--config", config, "--port", "0", "--host", "127.0.0.1",
         "--data-dir", os.path.join(root, "data")],
        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
    try:
        yield server, listening_port(log_path, server)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        shutil.rmtree(root, ignore_errors=True)


def wait_live(port, camera="cam", timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/cameras", timeout=5))
            if any(s["id"] == camera and s["phase"] == "live" for s in states):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"camera {camera} not live within {timeout} s")


def status_kb(pid):
    values = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0])
    return values


def resident_code_kb(pid, binary):
    """Resident kB of the binary's executable mapping (its .text)."""
    real = os.path.realpath(binary)
    total, in_code = 0, False
    for line in open(f"/proc/{pid}/smaps"):
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:
            in_code = fields[1].startswith("r-x") and len(fields) >= 6 and os.path.realpath(fields[5]) == real
        elif in_code and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    vigil = os.path.abspath(sys.argv[1])
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    root = tempfile.mkdtemp(prefix="vigil-idle-")
    config = write_one_camera_config(vigil, root)
    with running_server(vigil, config, root) as (server, port):
        wait_live(port)
        time.sleep(seconds)
        kb = status_kb(server.pid)
        code = resident_code_kb(server.pid, vigil)
        size = os.path.getsize(vigil)
        print(f"idle RSS {kb['VmRSS'] / 1024:.1f} MB (anon {kb['RssAnon'] / 1024:.1f}, "
              f"file {kb['RssFile'] / 1024:.1f}; the binary's code {code / 1024:.1f}) "
              f"with one exec camera 720p15, {seconds:.0f} s after it went live; binary {size / 1e6:.1f} MB")
        print(f"result: rss_mb={kb['VmRSS'] / 1024:.4f} anon_mb={kb['RssAnon'] / 1024:.4f} "
              f"file_mb={kb['RssFile'] / 1024:.4f} code_mb={code / 1024:.4f} binary_mb={size / 1e6:.4f}")


if __name__ == "__main__":
    main()
