"""ASGI WebSocket echo (and a plain-HTTP 200 for readiness checks), for the WebSocket
echo benchmark: every peer runs this same app."""


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        m = await receive()
        if m["type"] == "websocket.disconnect":
            return
        if m.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": m["bytes"]})
        else:
            await send({"type": "websocket.send", "text": m["text"]})
