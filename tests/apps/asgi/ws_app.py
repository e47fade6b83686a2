"""An ASGI WebSocket app that behaves as examples/ws_echo.rs (so tests/apps/ws_client.py's
scenarios run against the ASGI host too), plus what only ASGI has: the scope, a denial
response with a body, and send() after the client left."""
import asyncio
import json
import sys


def log(msg):
    # One write: lines from several workers on one pipe must not interleave.
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            if m["type"] == "lifespan.shutdown":
                log("LIFESPAN SHUTDOWN")
            await send({"type": m["type"] + ".complete"})
            if m["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain http\n"})
        return
    assert scope["type"] == "websocket", scope["type"]
    first = await receive()
    assert first["type"] == "websocket.connect", first
    path = scope["path"]
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/deny-body":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})
        return
    sub = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": sub, "headers": [(b"x-echo", b"1")]})
    if path == "/scope":
        shown = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string")}
        shown["client"] = list(shown["client"])
        shown["server"] = list(shown["server"])
        await send({"type": "websocket.send", "text": json.dumps(shown)})
    if path == "/flood":
        # Sends until the client leaves: send() must raise then (an OSError).
        n = 0
        try:
            while True:
                await send({"type": "websocket.send", "text": "tick %d" % n})
                n += 1
                await asyncio.sleep(0.005)
        except OSError as e:
            log("WS SEND RAISED %s" % type(e).__name__)
        return
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            log("WS DISCONNECT code=%s reason=%r" % (m.get("code"), m.get("reason")))
            return
        text = m.get("text")
        if text is not None:
            if text.startswith("close "):
                _, code, reason = text.split(" ", 2)
                await send({"type": "websocket.close", "code": int(code), "reason": reason})
                continue
            if text == "accept again":
                await send({"type": "websocket.accept"})
                continue
            if text == "raise":
                raise RuntimeError("app failed mid-socket")
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": m["bytes"]})
