#!/usr/bin/env python3
"""Browser test of the web page: a real `vigil serve`, real headless Chromium.

Checks what SPEC failure 4 is about: the page shows what the server says, in
every tab, after API calls and after a server restart, without a reload.

Usage: browser_test.py VIGIL_BINARY [--screenshot PATH]
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CONFIG = """
cameras:
  porch: {source: {kind: testpattern, width: 640, height: 360, fps: 15}}
  garage:
    source: {kind: testpattern, width: 640, height: 360, fps: 10}
    motion: {enabled: true, threshold: 0.5, event_gap: 2s, pre_capture: 1s, post_capture: 1s, max_event_duration: 4s}
  door: {source: {kind: push}, stale_after: 2s}
"""

# After the restart the config also has a fourth camera: the page must show
# it without being reloaded.
CONFIG_AFTER_RESTART = CONFIG + """
  yard: {source: {kind: testpattern, width: 640, height: 360, fps: 5}}
"""

AUTH_CONFIG = """
cameras:
  porch: {source: {kind: testpattern, width: 320, height: 180, fps: 10}}
auth:
  users:
    - {name: vic, role: viewer, password_hash: "VIEWER_HASH"}
    - {name: oscar, role: operator, password_hash: "OPERATOR_HASH"}
"""

# Each change must be on every page within this (the bound).
ONE_SECOND = 1.0

failures = []


def check(condition, message):
    status = "ok  " if condition else "FAIL"
    print(f"  {status} {message}", flush=True)
    if not condition:
        failures.append(message)


class Server:
    """A `vigil serve` child on 127.0.0.1."""

    def __init__(self, binary, workdir, config, port=0):
        self.config_path = os.path.join(workdir, f"vigil-{time.monotonic_ns()}.yml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(workdir, "server.log")
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", self.config_path, "--host", "127.0.0.1",
             "--port", str(port), "--data-dir", os.path.join(workdir, "data")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=workdir)
        self.port = None
        deadline = time.monotonic() + 30
        for line in self.process.stderr:
            self.log.write(line)
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                break
            if time.monotonic() > deadline:
                break
        if self.port is None:
            self.kill()
            raise RuntimeError("vigil did not start; see " + self.log_path)
        # Keep draining stderr so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.process.stderr:
            self.log.write(line)
            self.log.flush()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def api(self, method, path):
        request = urllib.request.Request(self.url(path), method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def api_as(self, method, path, user):
        request = urllib.request.Request(self.url(path), method=method, data=b"" if method == "POST" else None)
        pair = f"{user[0]}:{user[1]}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def kill(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


def browser():
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,900", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def wait_for(description, condition, timeout):
    """Polls `condition` (the page lives in another process) until it holds;
    returns the seconds it took, or None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if condition():
                return time.monotonic() - start
        except Exception:
            pass
        time.sleep(0.02)
    print(f"  ... timed out after {timeout} s waiting for {description}", flush=True)
    return None


def tile(page, camera):
    return page.find_element(By.CSS_SELECTOR, f'section.cam[data-camera="{camera}"]')


def shown(page, camera):
    """What one tile shows: badge text and button states, read in one go."""
    return page.execute_script("""
        const t = document.querySelector(`section.cam[data-camera="${arguments[0]}"]`);
        if (!t) return null;
        return { badge: t.querySelector(".badge").textContent.toLowerCase(),
                 start_enabled: !t.querySelector("button.start").disabled,
                 stop_enabled: !t.querySelector("button.stop").disabled };
    """, camera) or {"badge": None, "start_enabled": None, "stop_enabled": None}


def shown_capture_enabled(page, camera):
    return tile(page, camera).find_element(By.CSS_SELECTOR, "button.capture").is_enabled()


def frame_digest(page, camera):
    """A digest of the pixels the tile's <img> shows now."""
    return page.execute_script("""
        const img = document.querySelector(`section.cam[data-camera="${arguments[0]}"] img.frame`);
        if (!img || !img.complete || img.naturalWidth === 0) return null;
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const ctx = canvas.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let h = 0;
        for (let i = 0; i < data.length; i += 7) h = (h * 31 + data[i]) >>> 0;
        return `${canvas.width}x${canvas.height}:${h}`;
    """, camera)


def consistent_with_api(page, server, camera):
    state = server.api("GET", f"/api/v1/cameras/{camera}")
    s = shown(page, camera)
    return (s["badge"] == state["phase"]
            and s["start_enabled"] == (state["desired"] == "stopped")
            and s["stop_enabled"] == (state["desired"] == "running"))


def hash_password(binary, password):
    result = subprocess.run([binary, "hash-password", "--cost", "10"], input=password, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


def sign_in(page, name, password):
    form = page.find_element(By.ID, "login")
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def commands_shown(page, camera):
    """Whether Start, Stop and Capture are displayed on the tile."""
    return page.execute_script("""
        const t = document.querySelector(`section.cam[data-camera="${arguments[0]}"]`);
        if (!t) return null;
        return ["button.start", "button.stop", "button.capture"].map(
            (s) => getComputedStyle(t.querySelector(s)).display !== "none");
    """, camera)


def logins(binary):
    """The page with auth: a viewer sees no commands and a forged one is
    refused; an operator sees and uses them."""
    print("logins: viewer and operator", flush=True)
    workdir = tempfile.mkdtemp(prefix="vigil-browser-auth-")
    config = AUTH_CONFIG.replace("VIEWER_HASH", hash_password(binary, "viewer pass")).replace(
        "OPERATOR_HASH", hash_password(binary, "operator pass"))
    server = Server(binary, workdir, config)
    page = None
    try:
        page = browser()
        page.get(server.url("/"))
        took = wait_for("the login form", lambda: page.find_element(By.ID, "login").is_displayed(), 10)
        check(took is not None, "without a credential the page asks for a login")
        sign_in(page, "vic", "wrong")
        took = wait_for("the refusal", lambda: "wrong" in page.find_element(By.ID, "login-error").text, 10)
        check(took is not None, "a wrong password is said on the form")
        page.find_element(By.NAME, "name").clear()
        page.find_element(By.NAME, "password").clear()
        sign_in(page, "vic", "viewer pass")
        took = wait_for("porch live for the viewer", lambda: shown(page, "porch")["badge"] == "live", 15)
        check(took is not None, "viewer: signed in, porch live")
        check(commands_shown(page, "porch") == [False, False, False], "viewer: no Start, Stop or Capture shown")
        status = page.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch("/api/v1/cameras/porch/stop", { method: "POST", headers: { "X-Requested-With": "x" } })
                .then((r) => done(r.status));
        """)
        check(status == 403, f"viewer: a forged Stop with the session cookie is refused ({status})")
        check(server.api_as("GET", "/api/v1/cameras/porch", ("oscar", "operator pass"))["desired"] == "running",
              "viewer: porch still running")
        page.find_element(By.ID, "logout").click()
        took = wait_for("the login form again", lambda: page.find_element(By.ID, "login").is_displayed(), 10)
        check(took is not None, "Log out returns to the login form")
        sign_in(page, "oscar", "operator pass")
        took = wait_for("porch for the operator", lambda: commands_shown(page, "porch") == [True, True, True], 15)
        check(took is not None, "operator: Start, Stop and Capture shown")
        tile(page, "porch").find_element(By.CSS_SELECTOR, "button.stop").click()
        took = wait_for("porch stopped", lambda: shown(page, "porch")["badge"] == "stopped", 10)
        check(took is not None, "operator: Stop works")
    finally:
        if page is not None:
            try:
                page.quit()
            except Exception:
                pass
        server.kill()
        if not failures:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--screenshot", default=None)
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    workdir = tempfile.mkdtemp(prefix="vigil-browser-")
    server = Server(args.binary, workdir, CONFIG)
    pages = []
    try:
        pages = [browser(), browser()]
        a, b = pages
        for page in pages:
            page.get(server.url("/"))

        print("the page shows frames that change over time", flush=True)
        for camera in ("porch", "garage"):
            seen = []

            def frame_differs():
                # An <img> between two frames has no pixels to read: skip those moments.
                digest = frame_digest(a, camera)
                if digest is not None and digest not in seen:
                    seen.append(digest)
                return len(seen) >= 2

            took = wait_for(f"{camera} live with a frame", lambda: shown(a, camera)["badge"] == "live"
                            and (frame_differs() or len(seen) >= 1), 20)
            check(took is not None, f"{camera}: live badge and a frame")
            took = wait_for(f"{camera} frame changes", frame_differs, 10)
            check(took is not None, f"{camera}: the picture changes ({' -> '.join(seen[:2])})")
            check(all(d.startswith("640x360:") for d in seen), f"{camera}: frames are 640x360 ({seen[:2]})")
        check(shown(a, "door")["badge"] in ("starting", "stale", "recovering"),
              f"door (a push camera nobody pushes to) is not live: {shown(a, 'door')['badge']}")

        print("Stop clicked in tab A shows in tab B within 1 s", flush=True)
        check(shown(b, "porch")["stop_enabled"], "tab B: porch Stop enabled before")
        clicked = time.monotonic()
        tile(a, "porch").find_element(By.CSS_SELECTOR, "button.stop").click()
        took = wait_for("tab B shows porch stopped", lambda: shown(b, "porch") == {
            "badge": "stopped", "start_enabled": True, "stop_enabled": False}, 5)
        elapsed = None if took is None else time.monotonic() - clicked
        check(elapsed is not None and elapsed < ONE_SECOND,
              f"tab B: porch badge stopped, Stop disabled, Start enabled after {elapsed and round(elapsed, 3)} s")
        check(shown(a, "porch")["badge"] == "stopped" and not shown(a, "porch")["stop_enabled"],
              "tab A agrees")
        check(server.api("GET", "/api/v1/cameras/porch")["desired"] == "stopped", "the API agrees")

        print("stop and start through the API show in both tabs within 1 s", flush=True)
        started = time.monotonic()
        server.api("POST", "/api/v1/cameras/garage/stop")
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} garage stopped", lambda: shown(page, "garage") == {
                "badge": "stopped", "start_enabled": True, "stop_enabled": False}, 5)
            elapsed = None if took is None else time.monotonic() - started
            check(elapsed is not None and elapsed < ONE_SECOND,
                  f"tab {name}: garage stopped after {elapsed and round(elapsed, 3)} s")
        started = time.monotonic()
        server.api("POST", "/api/v1/cameras/garage/start")
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} garage running", lambda: shown(page, "garage")["stop_enabled"]
                            and not shown(page, "garage")["start_enabled"], 5)
            elapsed = None if took is None else time.monotonic() - started
            check(elapsed is not None and elapsed < ONE_SECOND,
                  f"tab {name}: garage Stop enabled after {elapsed and round(elapsed, 3)} s")
            took = wait_for(f"tab {name} garage live", lambda: shown(page, "garage")["badge"] == "live", 10)
            check(took is not None, f"tab {name}: garage live again")

        print("Capture in tab A: the still shows in both tabs", flush=True)
        tile(a, "garage").find_element(By.CSS_SELECTOR, "button.capture").click()
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} shows the capture", lambda: page.execute_script(
                "return document.querySelectorAll('#captures .shot.done').length") >= 1, 10)
            check(took is not None, f"tab {name}: the capture is listed with its image")
        captures = json.loads(urllib.request.urlopen(server.url("/api/v1/captures"), timeout=10).read())
        check(len(captures) == 1 and captures[0]["status"] == "done" and captures[0]["camera"] == "garage",
              f"the API lists the capture: {captures}")
        check(not shown_capture_enabled(a, "porch"), "tab A: Capture disabled on the stopped camera")

        print("Motion events (garage's moving pattern): listed with thumbnails in both tabs", flush=True)
        listed = {}
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} lists a motion event", lambda: page.execute_script(
                "return [...document.querySelectorAll('#events .shot')]"
                ".filter((s) => s.querySelector('.pic').style.backgroundImage.includes('/thumbnail.jpg')).length") >= 1,
                15)
            check(took is not None, f"tab {name}: a motion event is listed with its thumbnail")
            listed[name] = page.execute_script(
                "return [...document.querySelectorAll('#events .shot')].map((s) => s.dataset.event)")
        events = json.loads(urllib.request.urlopen(server.url("/api/v1/events"), timeout=10).read())
        ids = {event["id"] for event in events}
        check(bool(events) and all(event["camera"] == "garage" for event in events), f"the API lists garage's events")
        for name, shown_ids in listed.items():
            check(set(shown_ids) <= ids and shown_ids, f"tab {name}: the events shown are the API's: {shown_ids}")
        with urllib.request.urlopen(server.url(events[0]["thumbnail"]), timeout=10) as response:
            check(response.headers["Content-Type"] == "image/jpeg" and response.read(2) == b"\xff\xd8",
                  "the thumbnail is a JPEG")

        # A picture with every kind of tile: live, stopped, no signal.
        if args.screenshot:
            time.sleep(0.5)  # let both tiles paint a recent frame for the picture
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            a.save_screenshot(args.screenshot)
            print(f"  screenshot saved to {args.screenshot}", flush=True)

        print("fps and viewers on the tiles; the single-camera view", flush=True)
        meta = a.execute_script(
            "return document.querySelector('section.cam[data-camera=\"garage\"] .meta').textContent")
        check(re.match(r"^\d+\.\d fps · \d+ viewers? · 640×360$", meta) is not None, f"garage meta: {meta!r}")
        b.execute_script("location.hash = '#/camera/garage';")
        took = wait_for("tab B single view", lambda: b.execute_script(
            "return document.querySelectorAll('section.cam').length") == 1 and shown(b, "garage")["badge"] == "live",
            5)
        check(took is not None, "tab B: #/camera/garage shows that camera alone")
        details = b.execute_script("return document.querySelector('.details').textContent")
        check(server.url("/cameras/garage/stream.mjpg") in details, f"the MJPEG stream URL is shown: {details!r}")
        snapshot = b.execute_script("return document.querySelector('a.button').getAttribute('href')")
        with urllib.request.urlopen(server.url(snapshot), timeout=10) as response:
            check(response.status == 200 and response.headers["Content-Type"] == "image/jpeg",
                  f"the Snapshot button ({snapshot}) gives a JPEG")
        seen = []

        def single_frames_change():
            digest = frame_digest(b, "garage")
            if digest is not None and digest not in seen:
                seen.append(digest)
            return len(seen) >= 2

        check(wait_for("frames in the single view", single_frames_change, 10) is not None,
              "tab B: frames flow in the single view")
        b.execute_script("location.hash = '#/';")
        took = wait_for("tab B grid again", lambda: b.execute_script(
            "return document.querySelectorAll('section.cam').length") == 3, 5)
        check(took is not None, "tab B: back to the grid of every camera")

        print("killing and restarting the server: pages reconnect and show the true state", flush=True)
        for page in pages:
            page.execute_script("window.__notReloaded = true;")
        old_id = a.find_element(By.TAG_NAME, "body").get_attribute("data-server-id")
        port = server.port
        server.kill()
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} shows the lost connection",
                            lambda: page.find_element(By.ID, "conn").get_attribute("data-state") != "open", 5)
            check(took is not None, f"tab {name}: connection indicator shows the server is gone")
        server = Server(args.binary, workdir, CONFIG_AFTER_RESTART, port=port)
        for name, page in (("A", a), ("B", b)):
            took = wait_for(f"tab {name} reconnected to the new server", lambda: page.find_element(
                By.TAG_NAME, "body").get_attribute("data-server-id") not in (None, "", old_id)
                and page.find_element(By.ID, "conn").get_attribute("data-state") == "open", 20)
            check(took is not None, f"tab {name}: reconnected, new server_id noticed")
            check(page.execute_script("return window.__notReloaded === true;"), f"tab {name}: without a reload")
            took = wait_for(f"tab {name} shows yard", lambda: shown(page, "yard")["badge"] == "live", 20)
            check(took is not None, f"tab {name}: the camera added by the restart is shown, live")
            for camera in ("porch", "garage", "door", "yard"):
                took = wait_for(f"tab {name} {camera} agrees with the API",
                                lambda: consistent_with_api(page, server, camera), 10)
                check(took is not None, f"tab {name}: {camera} shows what the API says ({shown(page, camera)})")
            check(shown(page, "porch")["start_enabled"], f"tab {name}: porch still stopped (persisted)")
            took = wait_for(f"tab {name} garage frames", lambda: frame_digest(page, "garage") is not None, 10)
            check(took is not None, f"tab {name}: frames flow again")
    finally:
        for page in pages:
            try:
                page.quit()
            except Exception:
                pass
        server.kill()
        if failures:
            print(f"server log: {server.log_path}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    logins(args.binary)
    if failures:
        print(f"browser test: {len(failures)} failure(s)", flush=True)
        for failure in failures:
            print(f"  - {failure}")
        sys.exit(1)
    print("browser test: all checks passed", flush=True)


if __name__ == "__main__":
    main()
