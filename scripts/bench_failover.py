#!/usr/bin/env python3
"""Failover benchmark: how long a viewer of a camera waits for fresh frames
when the node running the camera dies.

A real PostgreSQL (initdb in a temp dir, on a free port) and two
`vigil serve` nodes sharing it; one camera (`vigil fake-camera --timestamp`,
30 fps, 640x360) runs on one of them. A viewer watches the camera's MJPEG
stream on the *other* node (so through the relay), the node running it is
SIGKILLed, and the time from the kill to the first frame at the viewer that
the camera took after the kill (its `vigil-ts` comment) is measured. The
killed node is started again and the next run kills whichever node runs the
camera then. Five runs per lease; the median is the figure.

Expected: between two thirds of the lease and the lease (the dead node's
lease runs out `lease` after its last renewal, which was at most a round,
`lease / 3`, before the kill; the survivor wakes just after it expires), plus
the start of a source (about 0.3 s). Each kill comes at a random point of the
round.

Usage: scripts/bench_failover.py VIGIL_BINARY [LEASE_SECONDS...]  (default: 10 5)
Everything runs on 127.0.0.1.
"""
import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

RUNS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, root):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
        self.root = os.path.join(root, "postgres")
        os.makedirs(self.root)
        self.as_postgres = []
        if os.getuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        subprocess.run(self.as_postgres + [f"{self.bin}/initdb", "-D", self.data, "-U", "vigil", "-A", "trust",
                                           "--no-sync", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL)
        self.process = subprocess.Popen(
            self.as_postgres + [f"{self.bin}/postgres", "-D", self.data, "-p", str(self.port), "-k", self.data,
                                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if subprocess.run([f"{self.bin}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]).returncode == 0:
                break
            time.sleep(0.05)
        subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "vigil", "-d", "postgres",
                        "-q", "-c", "CREATE DATABASE bench"], check=True)
        self.url = f"postgres://vigil@127.0.0.1:{self.port}/bench?sslmode=disable"

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait()


class Node:
    def __init__(self, vigil, root, node_id, store_url, lease):
        self.vigil, self.root, self.id = vigil, root, node_id
        self.port = free_port()
        fake = [vigil, "fake-camera", "--fps", "30", "--size", "640x360", "--quality", "85", "--timestamp"]
        self.config = os.path.join(root, f"{node_id}.yml")
        with open(self.config, "w") as f:
            f.write(f'store: {{kind: postgres, url: "{store_url}"}}\n'
                    f'cluster: {{node_id: {node_id}, advertise_url: "http://127.0.0.1:{self.port}", lease: {lease}s}}\n'
                    f"cameras:\n  cam:\n    source: {{kind: exec, command: {json.dumps(fake)}}}\n"
                    f"    stale_after: 2s\n")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.vigil, "serve", "--config", self.config, "--port", str(self.port), "--data-dir",
             os.path.join(self.root, f"data-{self.id}")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"node {self.id} did not start")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait()

    def camera(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/cameras/cam", timeout=2) as r:
            return json.load(r)


class Viewer(threading.Thread):
    """Reads a node's MJPEG stream; remembers (arrival, camera time) of each stamped frame."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /cameras/cam/stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.frames = []
        self.lock = threading.Lock()
        self.start()

    def run(self):
        buffer = b""
        try:
            while True:
                data = self.sock.recv(1 << 16)
                if not data:
                    return
                buffer += data
                while True:
                    soi = buffer.find(b"\xff\xd8\xff\xfe")
                    if soi < 0 or len(buffer) < soi + 6:
                        buffer = buffer[-8:] if soi < 0 else buffer
                        break
                    length = int.from_bytes(buffer[soi + 4:soi + 6], "big")
                    if len(buffer) < soi + 4 + length:
                        break
                    text = buffer[soi + 6:soi + 4 + length].decode("ascii", "replace")
                    if text.startswith("vigil-ts="):
                        with self.lock:
                            self.frames.append((time.time(), float(text[9:])))
                    buffer = buffer[soi + 4 + length:]
        except OSError:
            return

    def first_taken_after(self, instant, timeout):
        deadline = time.time() + timeout
        while True:
            with self.lock:
                for arrival, taken in self.frames:
                    if taken > instant:
                        return arrival
            if time.time() >= deadline:
                return None
            time.sleep(0.01)

    def close(self):
        self.sock.close()


def wait(condition, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out: {what}")


def measure(vigil, lease):
    root = tempfile.mkdtemp(prefix="vigil-failover-")
    os.chmod(root, 0o755)
    postgres = Postgres(root)
    nodes = {n: Node(vigil, root, n, postgres.url, lease) for n in ("a", "b")}
    figures = []
    try:
        for node in nodes.values():
            node.start()
        for run in range(RUNS):
            wait(lambda: all(n.camera().get("owner") in nodes and n.camera().get("phase") == "live"
                             for n in nodes.values()), 60, "the camera live and known to both nodes")
            owner = nodes[nodes["a"].camera()["owner"]]
            other = nodes["b" if owner.id == "a" else "a"]
            viewer = Viewer(other.port)
            wait(lambda: viewer.first_taken_after(time.time() - 0.5, 0) is not None, 20, "frames through the relay")
            # At a random point of the owner's renewal round, so the runs
            # sample how long before the kill its lease was last renewed.
            time.sleep(1 + random.uniform(0, lease / 3))
            killed_at = time.time()
            owner.kill()
            arrival = viewer.first_taken_after(killed_at, 4 * lease + 10)
            viewer.close()
            if arrival is None:
                raise RuntimeError("no fresh frame after the kill")
            figures.append(arrival - killed_at)
            print(f"lease {lease} s, run {run + 1}: node {owner.id} killed; fresh frame at the viewer on "
                  f"{other.id} after {figures[-1]:.2f} s", flush=True)
            owner.start()
    finally:
        for node in nodes.values():
            node.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    return figures


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    vigil = os.path.abspath(sys.argv[1])
    leases = [int(x) for x in sys.argv[2:]] or [10, 5]
    results = {}
    for lease in leases:
        figures = measure(vigil, lease)
        median = statistics.median(figures)
        print(f"lease {lease} s: failover median {median:.2f} s (min {min(figures):.2f}, max {max(figures):.2f}) "
              f"over {len(figures)} runs")
        results[f"failover_lease{lease}_median_s"] = median
        results[f"failover_lease{lease}_max_s"] = max(figures)
    print("result: " + " ".join(f"{k}={v:.4f}" for k, v in results.items()))


if __name__ == "__main__":
    main()
