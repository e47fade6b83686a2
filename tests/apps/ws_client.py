"""WebSocket scenarios against examples/ws_echo.rs with the `websockets` client library
(tests/it/websocket.rs runs them): `python3 ws_client.py SCENARIO HOST:PORT`. Prints `ok`
last when every check held; any failed check raises (non-zero exit)."""

import asyncio
import os
import resource
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


async def closed_with(ws):
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as e:
        return e.rcvd


async def basic(url):
    async with websockets.connect(url, subprotocols=["chat", "superchat"], max_size=None) as ws:
        expect(ws.subprotocol == "chat", f"subprotocol {ws.subprotocol}")
        expect(ws.response.headers.get("x-echo") == "1", "extra header")
        ext = ws.response.headers.get("sec-websocket-extensions") or ""
        expect(ext.startswith("permessage-deflate"), f"deflate negotiated: {ext!r}")
        await ws.send("hello")
        expect(await ws.recv() == "hello", "text")
        await ws.send("é" * 5000)
        expect(await ws.recv() == "é" * 5000, "compressible text")
        await ws.send(b"\x00\x01\xff")
        expect(await ws.recv() == b"\x00\x01\xff", "binary")
        big = os.urandom(1 << 20)
        await ws.send(big)
        expect(await ws.recv() == big, "1 MB binary")
        text = "abc" * 400_000
        await ws.send(text)
        expect(await ws.recv() == text, "1.2 MB text")
        await ws.send(["frag", "men", "ted"])
        expect(await ws.recv() == "fragmented", "fragmented")
        await ws.send([b"a", b"b"])
        expect(await ws.recv() == b"ab", "fragmented binary")
        latency = await (await ws.ping(b"probe"))
        expect(latency >= 0, "pong")
        await ws.send("close 4001 bye now")
        rcvd = await closed_with(ws)
        expect(rcvd.code == 4001 and rcvd.reason == "bye now", f"server close {rcvd}")
    async with websockets.connect(url, compression=None) as ws:
        expect(ws.response.headers.get("sec-websocket-extensions") is None, "no deflate")
        expect(ws.subprotocol is None, "no subprotocol offered")
        await ws.send("x")
        expect(await ws.recv() == "x", "uncompressed echo")
        await ws.close(4002, "client done")
        expect(ws.protocol.close_rcvd.code == 4002, f"server echoes the client code {ws.protocol.close_rcvd}")
    try:
        async with websockets.connect(url.rstrip("/") + "/deny"):
            raise AssertionError("denied socket opened")
    except InvalidStatus as e:
        expect(e.response.status_code == 403, f"denial status {e.response.status_code}")


async def too_big(url):
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send(b"x" * 50_000)
        expect(len(await ws.recv()) == 50_000, "under the limit")
        await ws.send(b"x" * 200_000)
        rcvd = await closed_with(ws)
        expect(rcvd.code == 1009, f"over the limit {rcvd}")
    # Compressed: small on the wire, over the limit once inflated.
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(b"\x00" * 500_000)
        rcvd = await closed_with(ws)
        expect(rcvd.code == 1009, f"inflated over the limit {rcvd}")


async def many(url, n=1000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks = []
    for i in range(0, n, 100):
        socks += await asyncio.gather(
            *[websockets.connect(url, compression=None, open_timeout=30) for _ in range(100)]
        )
    expect(len(socks) == n, "all open")

    async def echo(i, ws):
        await ws.send(f"m{i}")
        return await ws.recv() == f"m{i}"

    ok = await asyncio.gather(*[echo(i, ws) for i, ws in enumerate(socks)])
    expect(all(ok), "every socket echoes")
    await asyncio.gather(*[ws.close() for ws in socks])


async def main():
    scenario, addr = sys.argv[1], sys.argv[2]
    url = f"ws://{addr}/"
    await {"basic": basic, "too_big": too_big, "many": many}[scenario](url)
    print("ok")


asyncio.run(main())
