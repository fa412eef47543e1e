#!/usr/bin/env python3
"""A Socket.IO v5 server written by hand on aiohttp (Engine.IO v4, WebSocket
transport only) that sends what python-socketio never would: malformed
traffic, for Vigil's `socketio` source tests. It speaks just enough of the
protocol: the open packet, the namespace connect, a heartbeat every
`--ping-interval`, and frames as binary events on `--namespace` / `frame`.

Each connection plays one scenario; `--script junk,good` gives the first
connections theirs in order, and the last one repeats:
  good            a frame (binary event) every 100 ms
  junk            for 3 s, then a normal close: good frames with, between them: an unknown Engine.IO packet
                  type, an unknown Socket.IO packet type, bad JSON, an event of
                  another name, a binary message outside an event, a non-JPEG
                  attachment, an attachment over --max-frame-bytes, and a
                  binary event announcing two attachments that is followed by
                  a new event after its first (a valid JPEG never to be shown)
  no-attachments  one binary event whose attachment never comes, then only
                  the heartbeat

The good frames are the `*.jpg` files of --frames-dir; the JPEG that must
never be shown is --poison. Prints `listening on PORT` and `connect N SCENARIO`.
"""

import argparse
import asyncio
import json
import os
import sys

from aiohttp import WSMsgType, web


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames-dir", required=True)
    parser.add_argument("--poison", required=True)
    parser.add_argument("--namespace", default="/cam")
    parser.add_argument("--script", default="good")
    parser.add_argument("--ping-interval", type=float, default=0.5)
    parser.add_argument("--max-frame-bytes", type=int, default=65536)
    args = parser.parse_args()

    names = sorted(n for n in os.listdir(args.frames_dir) if n.endswith(".jpg"))
    frames = [open(os.path.join(args.frames_dir, n), "rb").read() for n in names]
    poison = open(args.poison, "rb").read()
    # Starts and ends like a JPEG, larger than the client may take as a frame
    # but within what it reads as one WebSocket message.
    oversize = b"\xff\xd8" + b"\x00" * (args.max_frame_bytes + 1024) + b"\xff\xd9"
    script = args.script.split(",")
    connections = 0
    ns = args.namespace + ","
    event = "451-" + ns + json.dumps(["frame", {"_placeholder": True, "num": 0}])
    interval_ms = int(args.ping_interval * 1000)

    async def heartbeat(ws):
        while not ws.closed:
            await asyncio.sleep(args.ping_interval)
            await ws.send_str("2")

    async def good(ws, index):
        await ws.send_str(event)
        await ws.send_bytes(frames[index % len(frames)])

    async def junk(ws, index):
        await good(ws, index)
        wrong = [
            [("str", "9what")],
            [("str", "47" + ns + "[]")],
            [("str", "42" + ns + '["frame", {"broken"')],
            [("str", "42" + ns + json.dumps(["other", 1]))],
            [("bytes", b"a binary message nobody announced")],
            [("str", event), ("bytes", b"this is not a jpeg")],
            [("str", event), ("bytes", oversize)],
            [("str", "452-" + ns + json.dumps(["frame", {"_placeholder": True, "num": 1}])),
             ("bytes", poison)],
        ]
        for kind, data in wrong[index % len(wrong)]:
            if kind == "str":
                await ws.send_str(data)
            else:
                await ws.send_bytes(data)

    async def no_attachments(ws, index):
        if index == 0:
            await ws.send_str(event)

    scenarios = {"good": good, "junk": junk, "no-attachments": no_attachments}

    async def handle(request):
        nonlocal connections
        ws = web.WebSocketResponse(max_msg_size=1 << 20)
        await ws.prepare(request)
        scenario = script[min(connections, len(script) - 1)]
        connections += 1
        await ws.send_str("0" + json.dumps({"sid": f"s{connections}", "upgrades": [],
                                            "pingInterval": interval_ms, "pingTimeout": interval_ms,
                                            "maxPayload": 1 << 20}))
        message = await ws.receive()
        if message.type != WSMsgType.TEXT or not message.data.startswith("40" + args.namespace):
            await ws.close()
            return ws
        await ws.send_str("40" + ns + json.dumps({"sid": f"n{connections}"}))
        print(f"connect {connections} {scenario}", flush=True)
        beating = asyncio.get_running_loop().create_task(heartbeat(ws))
        reading = asyncio.get_running_loop().create_task(drain(ws))
        index = 0
        started = asyncio.get_running_loop().time()
        try:
            while not ws.closed:
                if scenario == "junk" and asyncio.get_running_loop().time() - started > 3:
                    await ws.close()
                    break
                await scenarios[scenario](ws, index)
                index += 1
                await asyncio.sleep(0.1 if scenario != "junk" else 0.02)
        except ConnectionResetError:
            pass
        finally:
            beating.cancel()
            reading.cancel()
        return ws

    async def drain(ws):
        async for _ in ws:
            pass

    async def serve():
        app = web.Application()
        app.router.add_get("/socket.io/", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"listening on {site._server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
