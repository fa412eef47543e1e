#!/usr/bin/env python3
"""Where the release link puts Vigil's code: the code it runs first, together.

Why: the kernel maps a binary's code into a process 64 kB at a time around
each page it touches ("fault-around"), so a few thousand small functions
spread over 23 MB of code make most of it resident, although the server runs
only a few MB of it. Packed together, the same work keeps far less resident.

How: runs BINARY (an unstripped release build, linked with `-Map=LINK_MAP`)
under valgrind's callgrind with the config `scripts/idle_rss.py` measures
(one exec camera, 720p15): start-up and SECONDS idle (default 20), then a
round of what viewers do (the page, the API, a snapshot, an MJPEG stream,
the three WebSocket paths, a capture, /metrics). The address of every
instruction that ran is traced to its input section through the link map
(not by function name: Swift emits outlined copies, value witnesses and the
like as functions without a symbol, which names miss), and OUT becomes a linker script that puts those
sections, idle ones first, at the start of `.text`. Code that is not listed
(new since the profile) follows in lld's default order: a stale script costs
memory, never correctness.

Usage: scripts/code_order.py BINARY LINK_MAP OUT [SECONDS]
"""
import bisect
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from idle_rss import listening_port, wait_live, write_one_camera_config  # noqa: E402
from soak import RawWebSocket  # noqa: E402


def code_that_ran(profile, binary):
    """The addresses of the instructions of `binary` that ran, from a
    callgrind profile written with --dump-instr=yes --compress-pos=no
    --compress-strings=no: every position a plain address, relative to the
    object (the address in the ELF file, as in the link map)."""
    ran, in_binary = set(), False
    name = os.path.basename(binary)
    for line in open(profile, errors="replace"):
        if line.startswith("ob="):
            in_binary = os.path.basename(line[3:].strip()) == name
        elif in_binary and line.startswith("0x"):
            ran.add(int(line.split(None, 1)[0], 16))
    return ran


class LinkMap:
    """The code input sections of a link, by address, from lld's `-Map`."""

    def __init__(self, path):
        self.starts, self.sections = [], []
        in_code = False
        line_pattern = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(.*)$")
        for line in open(path, errors="replace"):
            match = line_pattern.match(line)
            if not match:
                continue
            address, size, indent, rest = match.groups()
            if len(indent) == 0:  # an output section
                in_code = rest.startswith(".text")
            elif in_code and len(indent) == 8 and rest.endswith(")") and ":(" in rest:
                file, _, section = rest[:-1].rpartition(":(")
                self.starts.append(int(address, 16))
                self.sections.append((int(address, 16) + int(size, 16), file, section))

    def pattern(self, address):
        """The linker-script pattern of the input section holding `address`."""
        index = bisect.bisect_right(self.starts, address) - 1
        if index < 0 or address >= self.sections[index][0]:
            return None
        _, file, section = self.sections[index]
        if section.startswith(".text."):
            return f"*({section})"  # a function of its own: the name is enough
        # A whole object's code (libraries built without function sections).
        archive, _, member = file.partition("(")
        name = f"*{os.path.basename(archive)}:{member[:-1]}" if member else f"*{os.path.basename(file)}"
        return f"{name}({section})"


def patterns_that_ran(profile, binary, link_map):
    return {pattern for pattern in map(link_map.pattern, code_that_ran(profile, binary)) if pattern}


def exercise_viewers(port):
    """One round of what a page, a viewer and an operator ask of the server."""
    base = f"http://127.0.0.1:{port}"
    for path in ("/", "/app.js", "/style.css", "/healthz", "/api/v1/cameras", "/api/v1/cameras/cam",
                 "/cameras/cam/snapshot.jpg", "/api/v1/captures", "/api/v1/events?limit=5", "/metrics"):
        urllib.request.urlopen(base + path, timeout=60).read()
    request = urllib.request.Request(base + "/api/v1/cameras/cam/captures", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()
    stream = urllib.request.urlopen(base + "/cameras/cam/stream.mjpg", timeout=60)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        stream.read(65536)
    stream.close()
    for path in ("/api/v1/live", "/cameras/cam/live", "/api/v1/events"):
        socket = RawWebSocket(port, path, timeout=60)
        socket.drain(3)
        socket.close()


def write_linker_script(path, idle, busy):
    """A script that puts the code that ran at the start of `.text`, in the
    order given; lld appends the rest of `.text` after it (INSERT keeps its
    default layout for everything else). One `.text`, not a section of its
    own: tools such as valgrind read symbols only there."""
    def description(patterns):
        files = {}
        for pattern in sorted(patterns):
            file, _, section = pattern[:-1].partition("(")
            files.setdefault(file, []).append(section)
        return "".join(
            f"    {file}(\n" + "".join(f"      {section}\n" for section in sections) + "    )\n"
            for file, sections in sorted(files.items(), key=lambda item: item[0] != "*"))

    with open(path, "w") as f:
        f.write("/* Written by scripts/code_order.py: the code Vigil runs, idle first. */\n")
        f.write("SECTIONS {\n  .text : {\n")
        f.write(description(idle))
        f.write(description(busy - idle))
        f.write("  }\n}\nINSERT BEFORE .init;\n")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, link_map, out = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20
    root = tempfile.mkdtemp(prefix="vigil-code-order-")
    try:
        # Valgrind cannot read the DWARF Swift writes; it needs none here.
        profiled = os.path.join(root, "vigil")
        subprocess.run(["strip", "--strip-debug", "-o", profiled, binary], check=True)
        config = write_one_camera_config(binary, root)
        log_path = os.path.join(root, "vigil.log")
        profile = os.path.join(root, "callgrind.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--dump-instr=yes", "--compress-pos=no", "--compress-strings=no",
             f"--callgrind-out-file={profile}",
             profiled, "serve", "--config", config, "--port", "0", "--host", "127.0.0.1",
             "--data-dir", os.path.join(root, "data")],
            stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
        try:
            port = listening_port(log_path, server)
            wait_live(port)
            time.sleep(seconds)
            # The idle part ends here: its code goes first.
            subprocess.run(["callgrind_control", "--dump=idle", str(server.pid)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            exercise_viewers(port)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait()
        # The dump asked for is PROFILE.1, the one written at exit PROFILE.
        parts = sorted(glob.glob(profile + ".*"), key=lambda path: int(path.rsplit(".", 1)[1])) + [profile]
        if not all(os.path.exists(part) for part in parts) or len(parts) < 2:
            raise SystemExit(f"callgrind wrote {parts}; see {log_path}")
        sections = LinkMap(link_map)
        idle = patterns_that_ran(parts[0], profiled, sections)
        busy = set()
        for part in parts[1:]:
            busy |= patterns_that_ran(part, profiled, sections)
        if len(idle) < 1000:
            raise SystemExit(f"only {len(idle)} sections of code ran while idle; see {log_path}")
        write_linker_script(out, idle, busy)
        print(f"code order: {len(idle)} sections of code ran while idle, {len(busy - idle)} more for viewers -> {out}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
