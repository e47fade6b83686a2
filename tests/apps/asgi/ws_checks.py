"""ASGI-only WebSocket checks against tests/apps/asgi/ws_app.py with the `websockets`
client: `python3 ws_checks.py HOST:PORT`. Prints `ok` last when every check held."""
import asyncio
import json
import sys

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


async def main(addr):
    base = f"ws://{addr}"
    async with websockets.connect(base + "/scope?x=1", subprotocols=["v2", "v1"]) as ws:
        s = json.loads(await ws.recv())
        expect(s["type"] == "websocket" and s["scheme"] == "ws", s)
        expect(s["path"] == "/scope" and s["subprotocols"] == ["v2", "v1"], s)
        expect(s["asgi"]["version"] == "3.0" and s["http_version"] == "1.1", s)
        expect(isinstance(s["server"][1], int) and isinstance(s["client"][1], int), s)
        expect("websocket.http.response" in s["extensions"], s)
        expect(ws.subprotocol == "v2", ws.subprotocol)
    try:
        async with websockets.connect(base + "/deny-body"):
            raise AssertionError("denied socket opened")
    except InvalidStatus as e:
        expect(e.response.status_code == 401, e.response.status_code)
        expect(e.response.body == b"go away", e.response.body)
    # An exception after accept closes with 1011. So does a close code no endpoint may
    # send (1005: "no code received"), refused at the app's send(), and an ASGI message
    # out of place after accept (a second accept): the app's uncaught error closes the
    # socket, not a normal 1000.
    for says in ["raise", "close 1005 not on the wire", "accept again"]:
        async with websockets.connect(base + "/") as ws:
            await ws.send(says)
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed as e:
                expect(e.rcvd is not None and e.rcvd.code == 1011, f"{says}: close {e.rcvd}")
    # A client that leaves: the app's send() raises.
    ws = await websockets.connect(base + "/flood")
    await ws.recv()
    ws.transport.abort()
    await asyncio.sleep(0.2)
    print("ok")


asyncio.run(main(sys.argv[1]))
