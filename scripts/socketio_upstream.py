#!/usr/bin/env python3
"""A real Socket.IO v5 server (python-socketio on aiohttp) emitting JPEG
frames, for Vigil's `socketio` source tests. Prints `listening on PORT`,
then `connect SID TIME` and `disconnect SID` for every namespace session.

Lines on stdin change its behaviour while it runs (each acknowledged with
`COMMAND TIME` on stdout, TIME in seconds since the epoch):
  mute      stop emitting frames to the sessions connected now, keeping
            them and their heartbeat (the zombie of a broken client session:
            connected, pinging, silent); later sessions get frames
  unmute    emit to every session again
  no-ping   stop the heartbeat (the server announces a huge ping interval
            from now on; the running wait for the next ping still ends)
  kick      disconnect every namespace session

Usage: socketio_upstream.py --frames-dir DIR [--namespace /cam] [--event frame]
           [--payload binary|data.image] [--fps 10] [--token SECRET]
           [--ping-interval 1] [--ping-timeout 1] [--port 0]
"""

import argparse
import asyncio
import base64
import os
import sys
import time

import socketio
from aiohttp import web


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames-dir", required=True)
    parser.add_argument("--namespace", default="/")
    parser.add_argument("--event", default="frame")
    parser.add_argument("--payload", default="binary")
    parser.add_argument("--fps", type=float, default=10)
    parser.add_argument("--token", default=None)
    parser.add_argument("--ping-interval", type=float, default=1)
    parser.add_argument("--ping-timeout", type=float, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    names = sorted(n for n in os.listdir(args.frames_dir) if n.endswith(".jpg"))
    frames = [open(os.path.join(args.frames_dir, n), "rb").read() for n in names]
    # Any Origin, as servers that stream to programs (not pages) are set up:
    # the WebSocket client sends its own `ws://HOST`.
    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=args.ping_interval,
                               ping_timeout=args.ping_timeout, max_http_buffer_size=16 << 20,
                               cors_allowed_origins="*")
    app = web.Application()
    sio.attach(app)

    async def connect(sid, environ, auth=None):
        if args.token is not None and (auth or {}).get("token") != args.token:
            raise socketio.exceptions.ConnectionRefusedError("bad token")
        print(f"connect {sid} {time.time():.3f}", flush=True)

    async def disconnect(sid, *rest):
        print(f"disconnect {sid}", flush=True)

    sio.on("connect", connect, namespace=args.namespace)
    sio.on("disconnect", disconnect, namespace=args.namespace)

    muted = set()

    async def obey_stdin():
        nonlocal muted
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command = line.strip()
            if command == "mute":
                muted = {sid for sid, _ in sio.manager.get_participants(args.namespace, None)}
            elif command == "unmute":
                muted = set()
            elif command == "no-ping":
                sio.eio.ping_interval = 3600
            elif command == "kick":
                for sid in list(sio.manager.get_participants(args.namespace, None)):
                    await sio.disconnect(sid[0], namespace=args.namespace)
            print(f"{command} {time.time():.3f}", flush=True)

    async def emit_frames():
        index = 0
        while True:
            jpeg = frames[index % len(frames)]
            if args.payload == "binary":
                payload = jpeg
            else:
                payload = base64.b64encode(jpeg).decode()
                for key in reversed(args.payload.split(".")):
                    payload = {key: payload}
            await sio.emit(args.event, payload, namespace=args.namespace, skip_sid=list(muted) or None)
            index += 1
            await asyncio.sleep(1 / args.fps)

    async def serve():
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"listening on {port}", flush=True)
        asyncio.get_running_loop().create_task(obey_stdin())
        await emit_frames()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
