#!/usr/bin/env python3
"""Recovery benchmark: how long viewers wait for live frames after an upstream fault.

A Vigil server relays an MJPEG upstream (kind: mjpeg, stale_after 2 s) and a
viewer reads the relay's stream. Two faults, ten times each:

Faults are spaced by more than restart.stable_after (10 s), so each is
measured on its own. It takes about four minutes.

  kill    the upstream process is SIGKILLed and started again at once;
          measured: upstream listening again -> first real frame at the viewer
          (target <= 0.5 s)
  outage  the same, with the upstream away for 1 s and for 5 s (the camera's
          backoff grows meanwhile; it probes the unreachable upstream with a
          bare TCP connect every 250 ms and retries as soon as it answers)
          (target <= 0.5 s after the upstream is back)
  zombie  the upstream keeps its connection open and stops sending (new
          connections are served normally); measured: fault -> first real
          frame at the viewer (target <= stale_after + 0.5 s = 2.5 s)

Usage: scripts/bench_recovery.py VIGIL_BINARY [kill|outage|zombie]...  (default: all)
Everything runs on 127.0.0.1.
"""
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

STALE_AFTER = 2.0
RUNS = 10
# The restart backoff resets after this much good streaming (the default
# restart.stable_after); faults are spaced further apart so that each one is
# measured on its own, not on a backoff raised by the previous one.
STABLE_AFTER = 10.0


def split_jpegs(data):
    frames, start = [], 0
    while True:
        soi = data.find(b"\xff\xd8", start)
        if soi < 0:
            return frames
        eoi = data.find(b"\xff\xd9", soi)
        if eoi < 0:
            return frames
        frames.append(data[soi:eoi + 2])
        start = eoi + 2


def upstream_main(port, frames_path, fps):
    """An MJPEG camera; SIGUSR1 turns the open connections into zombies."""
    frames = split_jpegs(open(frames_path, "rb").read())
    generation = [0]
    signal.signal(signal.SIGUSR1, lambda *_: generation.__setitem__(0, generation[0] + 1))

    def serve(conn, born):
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
            index = 0
            while True:
                if generation[0] != born:
                    while conn.recv(4096):  # a zombie: silent until the client leaves
                        pass
                    return
                frame = frames[index % len(frames)]
                conn.sendall(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(frame)
                             + frame + b"\r\n")
                index += 1
                time.sleep(1 / fps)
        except OSError:
            pass
        finally:
            conn.close()

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(16)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, generation[0]), daemon=True).start()


class Viewer(threading.Thread):
    """Reads an MJPEG stream and records when each real frame arrived."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.real = []
        self.lock = threading.Lock()

    def run(self):
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        buffer = buffer.split(b"\r\n\r\n", 1)[1]
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            while len(buffer) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[length:]
            if b"X-Placeholder" not in head:
                with self.lock:
                    self.real.append(time.monotonic())

    def first_real_after(self, t, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                later = [x for x in self.real if x > t]
            if later:
                return later[0]
            time.sleep(0.002)
        raise TimeoutError("no real frame")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
    raise TimeoutError(f"port {port} not listening")


def start_relay(vigil, work, camera, source):
    """`vigil serve` with one camera reading `source` (stale_after 2 s), and
    an MJPEG viewer of it that has seen its first real frame."""
    config = os.path.join(work, "vigil.yml")
    with open(config, "w") as f:
        f.write(f"cameras:\n  {camera}:\n    source: {source}\n    stale_after: {STALE_AFTER}s\n")
    log = open(os.path.join(work, "server.log"), "w+")
    server = subprocess.Popen([vigil, "serve", "--config", config, "--port", "0", "--data-dir",
                               os.path.join(work, "data"), "--log-level", "notice"], stderr=log)
    port = None
    for _ in range(200):
        log.seek(0)
        match = re.search(r"listening on http://127.0.0.1:(\d+)", log.read())
        if match:
            port = int(match.group(1))
            break
        time.sleep(0.05)
    viewer = Viewer(port, f"/cameras/{camera}/stream.mjpg")
    viewer.start()
    viewer.first_real_after(0)
    return server, viewer


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "upstream":
        upstream_main(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
        return
    vigil = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp()
    frames = os.path.join(work, "frames.mjpg")
    with open(frames, "wb") as out:
        subprocess.run([vigil, "fake-camera", "--size", "640x360", "--fps", "1000", "--exit-after", "30"],
                       stdout=out, check=False)
    up_port = free_port()

    def start_upstream():
        return subprocess.Popen([sys.executable, __file__, "upstream", str(up_port), frames, "30"])

    upstream = start_upstream()
    wait_listening(up_port)
    server, viewer = start_relay(vigil, work, "relay", f'{{kind: mjpeg, url: "http://127.0.0.1:{up_port}/stream"}}')
    kills, zombies = [], []
    outages = {1.0: [], 5.0: []}
    which = sys.argv[2:] or ["kill", "outage", "zombie"]
    try:
        for _ in range(RUNS if "kill" in which else 0):
            upstream.kill()
            upstream.wait()
            upstream = start_upstream()
            back = wait_listening(up_port)
            kills.append(viewer.first_real_after(back) - back)
            time.sleep(STABLE_AFTER + 0.5)
        for away in (outages if "outage" in which else {}):
            for _ in range(RUNS):
                upstream.kill()
                upstream.wait()
                time.sleep(away)
                upstream = start_upstream()
                back = wait_listening(up_port)
                outages[away].append(viewer.first_real_after(back) - back)
                time.sleep(STABLE_AFTER + 0.5)
        for _ in range(RUNS if "zombie" in which else 0):
            fault = time.monotonic()
            upstream.send_signal(signal.SIGUSR1)
            # Frames already in flight may still arrive just after the fault.
            zombies.append(viewer.first_real_after(fault + 0.5) - fault)
            time.sleep(STABLE_AFTER + 0.5)
    finally:
        upstream.kill()
        server.terminate()
        server.wait()
    result = {}
    if kills:
        result["kill_median_ms"] = statistics.median(kills) * 1000
        print(f"recovery, killed upstream (upstream back -> first fresh frame at a viewer): "
              f"median {statistics.median(kills) * 1000:.0f} ms, max {max(kills) * 1000:.0f} ms "
              f"over {RUNS} (target <= 500 ms)")
    for away, times in outages.items():
        if times:
            result[f"away_{away:.0f}s_median_ms"] = statistics.median(times) * 1000
            print(f"recovery, upstream away {away:.0f} s (upstream back -> first fresh frame at a viewer): "
                  f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
                  f"over {RUNS} (target <= 500 ms)")
    if zombies:
        result["zombie_median_ms"] = statistics.median(zombies) * 1000
        print_zombies(zombies)
    print("result: " + " ".join(f"{name}={value:.1f}" for name, value in result.items()))


def print_zombies(zombies):
    print(f"recovery, zombie upstream (fault -> first fresh frame at a viewer, stale_after {STALE_AFTER:.0f} s): "
          f"median {statistics.median(zombies) * 1000:.0f} ms, max {max(zombies) * 1000:.0f} ms "
          f"over {RUNS} (target <= {(STALE_AFTER + 0.5) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
