"use strict";
// Everything shown comes from the server: `cameras` is replaced by each
// `hello` and updated by each `state` event; the DOM is rendered from it.
const page = { serverId: null, version: 0, cameras: new Map(), order: [], role: null };
// A `?token=` in the page's URL (an embedded wall, the generated admin
// token) rides along on every request and socket; otherwise the login
// cookie does.
const token = new URLSearchParams(location.search).get("token");
function authed(url) {
  return token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url;
}
// The page's own requests say so: the server then answers a missing login
// with 401 alone, without the challenge that opens the browser's dialog.
function api(url, options = {}) {
  return fetch(authed(url), { ...options, headers: { ...(options.headers || {}), "X-Requested-With": "vigil-page" } });
}
const grid = document.getElementById("grid");
const tiles = new Map();

function route() {
  const match = location.hash.match(/^#\/camera\/([A-Za-z0-9_-]{1,64})$/);
  return match ? match[1] : null;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function fmtPhase(phase) {
  return { stale: "no signal", recovering: "reconnecting", starting: "starting", stopped: "stopped",
           capturing: "capturing" }[phase] || phase;
}

function buildTile(id, single) {
  const img = el("img", { class: "frame", alt: `camera ${id}` });
  const overlayText = el("span", { class: "overlay-text" });
  const overlayWhy = el("small", { class: "overlay-why" });
  const overlay = el("div", { class: "overlay" }, overlayText, overlayWhy);
  const name = el("a", { class: "name", href: `#/camera/${id}` }, id);
  const badge = el("span", { class: "badge" });
  const meta = el("span", { class: "meta" });
  const capture = el("button", { class: "capture", type: "button", title: "take a still" }, "Capture");
  capture.onclick = () => command(id, "captures");
  const start = el("button", { class: "start", type: "button" }, "Start");
  const stop = el("button", { class: "stop", type: "button" }, "Stop");
  start.onclick = () => command(id, "start");
  stop.onclick = () => command(id, "stop");
  const actions = el("span", { class: "actions" }, capture, start, stop);
  const err = el("div", { class: "err" });
  const root = el("section", { class: "cam", "data-camera": id },
                  el("div", { class: "view" }, img, overlay), el("div", { class: "bar" }, name, badge, actions), meta, err);
  const tile = { root, img, overlayText, overlayWhy, badge, meta, start, stop, capture, err, url: null, pending: null,
                 loading: false };
  if (single) {
    const snapshot = el("a", { class: "button", href: authed(`/cameras/${id}/snapshot.jpg`), target: "_blank",
                               download: `${id}.jpg` }, "Snapshot");
    const mjpeg = `${location.origin}/cameras/${id}/stream.mjpg`;
    actions.prepend(snapshot);
    tile.details = el("div", { class: "details" });
    tile.mjpeg = mjpeg;
    root.append(tile.details);
  }
  img.onload = img.onerror = () => { tile.loading = false; showNext(tile); };
  return tile;
}

function render() {
  const single = route();
  const ids = single ? page.order.filter((id) => id === single) : page.order;
  grid.className = single ? "single" : "";
  const key = (single ? "1:" : "n:") + ids.join(",");
  if (grid.dataset.key !== key) {
    for (const tile of tiles.values()) if (tile.url) URL.revokeObjectURL(tile.url);
    tiles.clear();
    grid.replaceChildren();
    for (const id of ids) {
      const tile = buildTile(id, !!single);
      tiles.set(id, tile);
      grid.append(tile.root);
    }
    if (ids.length === 0) {
      grid.append(el("div", { class: "empty" }, single ? `No camera named ${single}.` : "No cameras configured."));
    }
    grid.dataset.key = key;
  }
  for (const id of ids) renderCamera(id);
  const live = page.order.filter((id) => page.cameras.get(id)?.phase === "live").length;
  const summary = document.getElementById("summary");
  if (single) {
    summary.replaceChildren(el("a", { href: "#/" }, "← all cameras"));
  } else {
    summary.textContent = page.order.length ? `${live} of ${page.order.length} live` : "";
  }
  document.title = single ? `${single} · Vigil` : "Vigil";
}

function renderCamera(id) {
  const tile = tiles.get(id);
  const state = page.cameras.get(id);
  if (!tile || !state) return;
  tile.root.dataset.phase = state.phase;
  tile.root.dataset.desired = state.desired;
  tile.root.dataset.version = state.version;
  tile.badge.className = `badge ${state.phase}`;
  tile.badge.textContent = state.phase;
  const viewers = `${state.clients} viewer${state.clients === 1 ? "" : "s"}`;
  const size = state.width ? ` · ${state.width}×${state.height}` : "";
  const fps = state.phase === "live" ? `${state.fps.toFixed(1)} fps` : "no frames";
  // In a cluster: the node running the camera.
  const owner = state.owner ? ` · on ${state.owner}` : "";
  tile.meta.textContent = `${fps} · ${viewers}${size}${owner}`;
  // The buttons follow `desired` and nothing else.
  tile.start.disabled = state.desired !== "stopped";
  tile.stop.disabled = state.desired !== "running";
  tile.capture.disabled = state.desired !== "running";
  tile.overlayText.textContent = fmtPhase(state.phase);
  tile.overlayWhy.textContent = state.phase === "stopped" ? "" : (state.last_error || "");
  tile.err.textContent = state.phase !== "live" && state.last_error && !tile.details
    ? `last error: ${state.last_error}` : "";
  if (tile.details) {
    const rows = [["stream (MJPEG)", tile.mjpeg], ["phase since", state.since], ["kind", state.kind],
                  ["restarts", String(state.restarts)], ["last error", state.last_error || "none"],
                  ["last frame", state.last_frame_seq != null ? `#${state.last_frame_seq}` : "none"]];
    tile.details.replaceChildren(...rows.flatMap(([k, v]) => [el("span", {}, k), el("b", {}, v)]));
  }
}

async function command(id, action) {
  const tile = tiles.get(id);
  try {
    const response = await api(`/api/v1/cameras/${id}/${action}`, { method: "POST" });
    if (response.ok && tile) tile.err.textContent = "";
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      if (tile) tile.err.textContent = `${action} failed: ${body.message || response.status}`;
    }
  } catch (error) {
    if (tile) tile.err.textContent = `${action} failed: server unreachable`;
  }
}

// The last captures, from the API at every hello, then from events.
const captures = new Map();
// A list from the API (at every hello): replaces `map`, then renders.
async function loadList(url, map, render) {
  try {
    const response = await api(url);
    if (!response.ok) return;
    map.clear();
    for (const item of await response.json()) map.set(item.id, item);
    render();
  } catch (error) { /* the events socket will bring them */ }
}
const loadCaptures = () => loadList("/api/v1/captures?limit=12", captures, renderCaptures);

function renderCaptures() {
  const section = document.getElementById("captures");
  const list = [...captures.values()].sort((a, b) => (b.requested_at || "").localeCompare(a.requested_at || ""))
    .slice(0, 12);
  if (!list.length) { section.replaceChildren(); return; }
  const shots = list.map((c) => {
    const time = new Date(c.requested_at).toLocaleTimeString();
    const pic = el("div", { class: "pic" }, c.status === "done" ? "" : (c.status === "failed" ? c.error || "failed" : `${c.status}…`));
    if (c.status === "done") pic.style.backgroundImage = `url("${authed(c.image)}")`;
    const attrs = { class: `shot ${c.status}`, "data-capture": c.id, title: c.error || c.id };
    if (c.status === "done") { attrs.href = authed(c.image); attrs.target = "_blank"; }
    return el(c.status === "done" ? "a" : "div", attrs, pic, el("div", { class: "cap" }, el("b", {}, c.camera), el("span", {}, time)));
  });
  section.replaceChildren(el("h2", {}, "Captures"), el("div", { class: "shots" }, ...shots));
}

// The last motion events, from the API at every hello, then from
// motion_start / motion_end; each links to its clip.
const motionEvents = new Map();
const loadEvents = () => loadList("/api/v1/events?limit=12", motionEvents, renderEvents);

function renderEvents() {
  const section = document.getElementById("events");
  const list = [...motionEvents.values()].sort((a, b) => (b.started_at || "").localeCompare(a.started_at || ""))
    .slice(0, 12);
  if (!list.length) { section.replaceChildren(); return; }
  const shots = list.map((e) => {
    const time = new Date(e.started_at).toLocaleTimeString();
    const length = e.duration_ms != null ? `${(e.duration_ms / 1000).toFixed(1)} s` : "recording…";
    const pic = el("div", { class: "pic" }, e.thumbnail ? "" : (e.status === "recording" ? "recording…" : "no frame"));
    if (e.thumbnail) pic.style.backgroundImage = `url("${authed(e.thumbnail)}")`;
    const attrs = { class: `shot ${e.status}`, "data-event": e.id,
                    title: `${e.frames} frames, peak ${e.peak_percent}% changed${e.no_fresh_frame ? ", no fresh frame at the start" : ""}` };
    if (e.clip) { attrs.href = authed(e.clip); attrs.target = "_blank"; }
    return el(e.clip ? "a" : "div", attrs, pic,
              el("div", { class: "cap" }, el("b", {}, e.camera), el("span", {}, `${time} · ${length}`)));
  });
  section.replaceChildren(el("h2", {}, "Motion events"), el("div", { class: "shots" }, ...shots));
}

// Frames: newest wins per camera, also in the browser.
function showFrame(id, blob) {
  const tile = tiles.get(id);
  if (!tile) return;
  tile.pending = blob;
  if (!tile.loading) showNext(tile);
}

function showNext(tile) {
  if (!tile.pending) return;
  const url = URL.createObjectURL(tile.pending);
  tile.pending = null;
  tile.loading = true;
  if (tile.url) URL.revokeObjectURL(tile.url);
  tile.url = url;
  tile.img.src = url;
}

// A socket that reconnects forever: backoff from 250 ms doubling to
// 5 s with full jitter, reset once a connection has lasted 10 s; a
// socket silent for 40 s (the server pings every 15 s) is replaced.
function keepConnected(name, url, handlers) {
  let delay = 250, socket = null, silence = null, openedAt = 0;
  const connect = () => {
    socket = new WebSocket(authed(url()));
    socket.binaryType = "arraybuffer";
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(() => socket.close(), 40000);
    };
    socket.onopen = () => { openedAt = Date.now(); alive(); handlers.open && handlers.open(); };
    socket.onmessage = (event) => { alive(); handlers.message(event.data); };
    socket.onclose = (event) => {
      clearTimeout(silence);
      // 4401: the login expired or was revoked; ask again instead of retrying.
      if (event.code === 4401) { showLogin("Your sign-in has expired."); return; }
      if (Date.now() - openedAt > 10000) delay = 250;
      const wait = Math.random() * delay;
      delay = Math.min(delay * 2, 5000);
      handlers.close && handlers.close(event, wait);
      setTimeout(connect, wait);
    };
  };
  connect();
  return { restart: () => socket && socket.close() };
}

const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
const conn = document.getElementById("conn");
const connText = document.getElementById("conn-text");
const notice = document.getElementById("notice");

// The two sockets, once the page knows who it is.
let live = null;
function connectSockets() {
  keepConnected("events", () => `${wsBase}/api/v1/events`, {
    message(data) {
      if (typeof data !== "string") return;
      const message = JSON.parse(data);
      if (message.type === "hello") {
        if (page.serverId && page.serverId !== message.server_id) {
          notice.textContent = `The server restarted at ${new Date(message.started_at).toLocaleTimeString()}; the page shows its current state.`;
          notice.classList.add("show");
          setTimeout(() => notice.classList.remove("show"), 8000);
        }
        const restarted = page.serverId !== null && page.serverId !== message.server_id;
        page.serverId = message.server_id;
        page.version = message.version;
        page.cameras = new Map(message.cameras.map((c) => [c.id, c]));
        page.order = message.cameras.map((c) => c.id);
        document.body.dataset.serverId = message.server_id;
        conn.dataset.state = "open";
        connText.textContent = "live";
        grid.dataset.key = "";
        render();
        loadCaptures();
        loadEvents();
        if (restarted) live.restart();
      } else if (message.type === "state") {
        if (message.version <= page.version) return;
        page.version = message.version;
        page.cameras.set(message.camera.id, message.camera);
        if (!page.order.includes(message.camera.id)) page.order.push(message.camera.id);
        render();
      } else if (message.type.startsWith("capture_") && message.capture) {
        if (message.version > page.version) page.version = message.version;
        captures.set(message.capture.id, message.capture);
        renderCaptures();
      } else if (message.type.startsWith("motion_") && message.event) {
        if (message.version > page.version) page.version = message.version;
        motionEvents.set(message.event.id, message.event);
        renderEvents();
      }
    },
    close(event, wait) {
      conn.dataset.state = "closed";
      connText.textContent = `reconnecting in ${(wait / 1000).toFixed(1)} s`;
    },
  });

  live = keepConnected("live", () => {
    const single = route();
    return `${wsBase}/api/v1/live${single ? `?cameras=${encodeURIComponent(single)}` : ""}`;
  }, {
    message(data) {
      if (typeof data === "string") return;  // state comes from the events socket
      const bytes = new Uint8Array(data);
      const length = bytes[0];
      const id = new TextDecoder().decode(bytes.subarray(1, 1 + length));
      showFrame(id, new Blob([bytes.subarray(1 + length)], { type: "image/jpeg" }));
    },
  });

}

window.addEventListener("hashchange", () => { grid.dataset.key = ""; render(); if (live) live.restart(); });

// Who the page's credential is decides what it shows: a viewer sees no
// Start, Stop or Capture (the server would refuse them anyway).
const loginForm = document.getElementById("login");
const logoutButton = document.getElementById("logout");

function showLogin(message) {
  document.getElementById("login-error").textContent = message || "";
  loginForm.hidden = false;
  grid.replaceChildren();
}

async function begin() {
  let response;
  try {
    response = await api("/api/v1/me");
  } catch (error) {
    setTimeout(begin, 1000);
    return;
  }
  if (response.status === 401) { showLogin(token ? "This link's token is not valid." : ""); return; }
  if (!response.ok) { setTimeout(begin, 1000); return; }
  const me = await response.json();
  page.role = me.role;
  document.body.dataset.role = me.role;
  logoutButton.hidden = token !== null || me.name === "anonymous";
  loginForm.hidden = true;
  connectSockets();
}

loginForm.onsubmit = async (event) => {
  event.preventDefault();
  const body = JSON.stringify({ name: loginForm.elements.name.value, password: loginForm.elements.password.value });
  const response = await api("/api/v1/login", { method: "POST", headers: { "Content-Type": "application/json" }, body })
    .catch(() => null);
  if (response && response.ok) { loginForm.elements.password.value = ""; begin(); return; }
  const answer = response ? await response.json().catch(() => ({})) : {};
  document.getElementById("login-error").textContent = answer.message || "The server cannot be reached.";
};

logoutButton.onclick = async () => {
  await api("/api/v1/logout", { method: "POST" }).catch(() => null);
  location.reload();
};

begin();
