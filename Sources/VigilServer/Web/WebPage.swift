/// The web page served at `/`: plain HTML, CSS and JavaScript, no build step.
///
/// It renders only what the server says. `/api/v1/events` gives a `hello`
/// (every camera's state) on each connect and a versioned `state` event on
/// every change; `/api/v1/live` carries the frames of every camera on one
/// socket (browsers allow six connections per host, a wall of cameras needs
/// more). Both sockets reconnect forever with capped, jittered backoff; after
/// every reconnect the page is rebuilt from `hello`, so a restart of the
/// server, another tab or the API can never leave a stale button behind.
/// Start/Stop are enabled from `desired` alone; clicking one sends the
/// request and waits for the server's event to change the page.
enum WebPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vigil</title>
        <style>
          :root { color-scheme: dark; --bg:#0b0d11; --card:#151922; --line:#242a36; --text:#e7eaf0; --dim:#8b94a7;
                  --live:#32d27a; --warn:#f2c94c; --bad:#ff6b5e; --off:#6c7689; --cap:#58a6ff; }
          * { box-sizing:border-box; }
          html, body { height:100%; }
          body { margin:0; background:var(--bg); color:var(--text);
                 font:15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
          header { display:flex; align-items:center; gap:14px; padding:10px 18px; border-bottom:1px solid var(--line);
                   position:sticky; top:0; background:rgba(11,13,17,.92); backdrop-filter:blur(6px); z-index:2; }
          header h1 { font-size:17px; margin:0; letter-spacing:.14em; font-weight:700; }
          header a { color:inherit; text-decoration:none; }
          #summary { color:var(--dim); font-size:13px; }
          #conn { margin-left:auto; display:flex; align-items:center; gap:8px; font-size:13px; color:var(--dim); }
          #conn .dot { width:9px; height:9px; border-radius:50%; background:var(--bad); box-shadow:0 0 0 3px rgba(255,107,94,.15); }
          #conn[data-state="open"] .dot { background:var(--live); box-shadow:0 0 0 3px rgba(50,210,122,.15); }
          #conn[data-state="connecting"] .dot { background:var(--warn); }
          #notice { display:none; margin:12px 18px 0; padding:8px 12px; border-radius:8px; background:#1d2533;
                    border:1px solid #2e3a50; color:#cfe0ff; font-size:13px; }
          #notice.show { display:block; }
          main { display:grid; gap:14px; padding:14px 18px 24px;
                 grid-template-columns:repeat(auto-fill, minmax(min(100%, 400px), 1fr)); }
          main.single { grid-template-columns:1fr; max-width:1280px; margin:0 auto; }
          main.single .view { aspect-ratio:auto; height:min(68vh, 52vw); }
          #summary a { color:var(--dim); }
          .cam { background:var(--card); border:1px solid var(--line); border-radius:12px; overflow:hidden;
                 display:flex; flex-direction:column; }
          .view { position:relative; aspect-ratio:16/9; background:#000; }
          .view img { position:absolute; inset:0; width:100%; height:100%; object-fit:contain; }
          .view img:not([src]) { visibility:hidden; }
          .view .overlay { position:absolute; inset:0; display:flex; align-items:center; justify-content:center;
                           flex-direction:column; gap:6px; background:rgba(0,0,0,.55); color:#fff; font-weight:700;
                           letter-spacing:.2em; font-size:clamp(14px, 2.4vw, 22px); text-transform:uppercase; }
          .view .overlay small { font-weight:400; letter-spacing:0; font-size:12px; color:var(--dim);
                                 text-transform:none; max-width:90%; text-align:center; }
          .cam[data-phase="live"] .overlay { display:none; }
          .bar { display:flex; align-items:center; gap:10px; padding:9px 12px; flex-wrap:wrap; }
          .name { font-weight:650; color:var(--text); text-decoration:none; }
          .name:hover { text-decoration:underline; }
          .badge { font-size:11px; font-weight:700; padding:2px 9px; border-radius:99px; background:var(--off); color:#0b0d11;
                   text-transform:uppercase; letter-spacing:.06em; }
          .badge.live { background:var(--live); }
          .badge.stale, .badge.recovering, .badge.starting { background:var(--warn); }
          .badge.capturing { background:var(--cap); }
          .meta { color:var(--dim); font-size:13px; font-variant-numeric:tabular-nums; padding:0 12px 10px; margin-top:-4px; }
          .actions { margin-left:auto; display:flex; gap:6px; }
          button, .button { font:inherit; font-size:13px; background:#20283a; color:var(--text); border:1px solid #2f3a50;
                   border-radius:7px; padding:4px 12px; cursor:pointer; text-decoration:none; }
          button:hover:not(:disabled), .button:hover { background:#2a3550; }
          button:disabled { opacity:.35; cursor:default; }
          .err { color:var(--bad); font-size:12px; padding:0 12px 9px; min-height:0; }
          .err:empty { display:none; }
          .details { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; padding:4px 12px 14px;
                     font-size:13px; color:var(--dim); }
          .details b { color:var(--text); font-weight:500; word-break:break-all; }
          .empty { color:var(--dim); padding:40px; text-align:center; grid-column:1/-1; }
          #captures, #events { padding:0 18px 24px; }
          #captures:empty, #events:empty { display:none; }
          #captures h2, #events h2 { font-size:13px; font-weight:600; color:var(--dim); letter-spacing:.1em; text-transform:uppercase; margin:6px 0 10px; }
          .shots { display:flex; gap:10px; overflow-x:auto; padding-bottom:6px; }
          .shot { flex:0 0 auto; width:168px; background:var(--card); border:1px solid var(--line); border-radius:9px; overflow:hidden;
                  color:var(--text); text-decoration:none; font-size:12px; }
          .shot .pic { height:94px; background:#000 center/cover no-repeat; display:flex; align-items:center; justify-content:center;
                       color:var(--dim); font-size:11px; text-align:center; padding:6px; }
          .shot .cap { padding:5px 8px; display:flex; justify-content:space-between; gap:6px; }
          .shot.failed .pic { color:var(--bad); }
          .shot.pending .pic, .shot.running .pic, .shot.recording .pic { color:var(--cap); }
        </style>
        </head>
        <body>
        <header>
          <h1><a href="#/">VIGIL</a></h1>
          <span id="summary"></span>
          <div id="conn" data-state="connecting" title="connection to the server"><span class="dot"></span><span id="conn-text">connecting…</span></div>
        </header>
        <div id="notice"></div>
        <main id="grid"><div class="empty">Connecting to the server…</div></main>
        <section id="events"></section>
        <section id="captures"></section>
        <script>
        "use strict";
        // Everything shown comes from the server: `cameras` is replaced by each
        // `hello` and updated by each `state` event; the DOM is rendered from it.
        const page = { serverId: null, version: 0, cameras: new Map(), order: [] };
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
            const snapshot = el("a", { class: "button", href: `/cameras/${id}/snapshot.jpg`, target: "_blank",
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
          tile.meta.textContent = `${fps} · ${viewers}${size}`;
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
            const response = await fetch(`/api/v1/cameras/${id}/${action}`, { method: "POST" });
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
            const response = await fetch(url);
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
            if (c.status === "done") pic.style.backgroundImage = `url("${c.image}")`;
            const attrs = { class: `shot ${c.status}`, "data-capture": c.id, title: c.error || c.id };
            if (c.status === "done") { attrs.href = c.image; attrs.target = "_blank"; }
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
            if (e.thumbnail) pic.style.backgroundImage = `url("${e.thumbnail}")`;
            const attrs = { class: `shot ${e.status}`, "data-event": e.id,
                            title: `${e.frames} frames, peak ${e.peak_percent}% changed${e.no_fresh_frame ? ", no fresh frame at the start" : ""}` };
            if (e.clip) { attrs.href = e.clip; attrs.target = "_blank"; }
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
            socket = new WebSocket(url());
            socket.binaryType = "arraybuffer";
            const alive = () => {
              clearTimeout(silence);
              silence = setTimeout(() => socket.close(), 40000);
            };
            socket.onopen = () => { openedAt = Date.now(); alive(); handlers.open && handlers.open(); };
            socket.onmessage = (event) => { alive(); handlers.message(event.data); };
            socket.onclose = (event) => {
              clearTimeout(silence);
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

        const live = keepConnected("live", () => {
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

        window.addEventListener("hashchange", () => { grid.dataset.key = ""; render(); live.restart(); });
        </script>
        </body>
        </html>
        """#
}
