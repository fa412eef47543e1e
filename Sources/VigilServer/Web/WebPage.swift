/// The web page served at `/`: one tile per camera with its live MJPEG
/// stream, phase badge and Start/Stop buttons rendered from server state.
enum WebPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vigil</title>
        <style>
          :root { color-scheme: dark; --bg:#0e1014; --card:#171a21; --line:#262b36; --text:#e6e8ee; --dim:#8a93a6;
                  --live:#2ecc71; --warn:#f1c40f; --bad:#e74c3c; --off:#7f8c8d; }
          * { box-sizing: border-box; }
          body { margin:0; background:var(--bg); color:var(--text); font:15px/1.4 system-ui, sans-serif; }
          header { display:flex; align-items:center; gap:12px; padding:12px 18px; border-bottom:1px solid var(--line); }
          header h1 { font-size:18px; margin:0; letter-spacing:.08em; }
          #conn { margin-left:auto; color:var(--dim); font-size:13px; }
          main { display:grid; gap:14px; padding:14px; grid-template-columns:repeat(auto-fill, minmax(min(100%, 420px), 1fr)); }
          .cam { background:var(--card); border:1px solid var(--line); border-radius:10px; overflow:hidden; }
          .cam img { display:block; width:100%; aspect-ratio:16/9; object-fit:contain; background:#000; }
          .bar { display:flex; align-items:center; gap:10px; padding:8px 12px; }
          .name { font-weight:600; }
          .badge { font-size:12px; padding:2px 8px; border-radius:99px; background:var(--off); color:#000; text-transform:uppercase; }
          .badge.live { background:var(--live); } .badge.stale, .badge.recovering, .badge.starting { background:var(--warn); }
          .badge.capturing { background:#3498db; }
          .meta { color:var(--dim); font-size:13px; margin-left:auto; }
          button { background:#222835; color:var(--text); border:1px solid var(--line); border-radius:6px; padding:4px 12px; cursor:pointer; }
          button:disabled { opacity:.35; cursor:default; }
          .err { color:var(--bad); font-size:12px; padding:0 12px 8px; min-height:1em; }
        </style>
        </head>
        <body>
        <header><h1>VIGIL</h1><span id="conn">connecting…</span></header>
        <main id="grid"></main>
        <script>
        const grid = document.getElementById('grid');
        const conn = document.getElementById('conn');
        const tiles = new Map();
        function tile(cam) {
          let t = tiles.get(cam.id);
          if (t) return t;
          const el = document.createElement('section');
          el.className = 'cam';
          el.innerHTML = `<img alt=""><div class="bar"><span class="name"></span><span class="badge"></span>
            <span class="meta"></span><button data-a="start">Start</button><button data-a="stop">Stop</button></div><div class="err"></div>`;
          el.querySelector('img').src = `/cameras/${encodeURIComponent(cam.id)}/stream.mjpg`;
          el.querySelector('.name').textContent = cam.id;
          for (const b of el.querySelectorAll('button')) {
            b.onclick = async () => {
              b.disabled = true;
              try { render(await (await fetch(`/api/v1/cameras/${encodeURIComponent(cam.id)}/${b.dataset.a}`, {method:'POST'})).json()); }
              catch (e) { conn.textContent = 'request failed'; }
            };
          }
          grid.appendChild(el);
          t = { el }; tiles.set(cam.id, t);
          return t;
        }
        function render(cam) {
          const t = tile(cam);
          const badge = t.el.querySelector('.badge');
          badge.className = 'badge ' + cam.phase; badge.textContent = cam.phase;
          t.el.querySelector('.meta').textContent = `${cam.fps} fps · ${cam.clients} viewing`;
          t.el.querySelector('[data-a=start]').disabled = cam.desired === 'running';
          t.el.querySelector('[data-a=stop]').disabled = cam.desired === 'stopped';
          t.el.querySelector('.err').textContent = cam.phase === 'live' ? '' : (cam.last_error || '');
        }
        async function refresh() {
          try {
            const cams = await (await fetch('/api/v1/cameras')).json();
            cams.forEach(render);
            conn.textContent = 'connected';
          } catch (e) { conn.textContent = 'reconnecting…'; }
          setTimeout(refresh, 1000);
        }
        refresh();
        </script>
        </body>
        </html>
        """#
}
