"""A raw ASGI 3 app for the ASGI host's tests: every route exercises one part of the
protocol (scope, request bodies, streaming, disconnects, errors, lifespan)."""
import asyncio
import hashlib
import json
import os
import sys
import time

STARTUP = os.environ.get("ASGI_TEST_STARTUP", "ok")  # ok | fail | raise | hang


def log(msg):
    # One write: lines from several workers on one pipe must not interleave.
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


async def lifespan(scope, receive, send):
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            if STARTUP == "fail":
                await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
                return
            if STARTUP == "raise":
                raise RuntimeError("lifespan not spoken here")
            if STARTUP == "hang":
                await asyncio.Event().wait()
            scope["state"]["boot"] = "ready"
            await send({"type": "lifespan.startup.complete"})
        elif m["type"] == "lifespan.shutdown":
            log("LIFESPAN SHUTDOWN pid=%d" % os.getpid())
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive):
    total, chunks, digest = 0, 0, hashlib.sha256()
    while True:
        m = await receive()
        assert m["type"] == "http.request", m
        total += len(m["body"])
        chunks += 1
        digest.update(m["body"])
        if not m.get("more_body", False):
            return total, chunks, digest.hexdigest()


async def respond(send, status, body, ctype=b"text/plain", extra=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), *extra]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    path = scope["path"]
    if path.endswith("/scope"):
        shown = {}
        for k, v in scope.items():
            if k == "headers":
                v = [[a.decode("latin-1"), b.decode("latin-1")] for a, b in v]
            elif isinstance(v, bytes):
                v = v.decode("latin-1")
            elif isinstance(v, tuple):
                v = list(v)
            shown[k] = v
        return await respond(send, 200, json.dumps(shown).encode(), b"application/json")
    if path == "/upload":
        total, chunks, digest = await read_body(receive)
        return await respond(send, 200, json.dumps(
            {"bytes": total, "chunks": chunks, "sha256": digest}).encode(), b"application/json")
    if path == "/stream":
        n = int(scope["query_string"] or b"5")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(n):
            await send({"type": "http.response.body", "body": b"chunk %d\n" % i, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/forever":
        # Streams until the client leaves: send() must raise (ASGI 2.4), not go on.
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        sent = 0
        try:
            while True:
                await send({"type": "http.response.body", "body": b"data: %d\n\n" % sent,
                            "more_body": True})
                sent += 1
                await asyncio.sleep(0.01)
        except OSError as e:
            log("SEND RAISED %s after %d events" % (type(e).__name__, sent))
        return
    if path == "/wait-disconnect":
        await read_body(receive)
        started = time.monotonic()
        m = await receive()
        log("RECEIVED %s after %.1fs" % (m["type"], time.monotonic() - started))
        return
    if path == "/big":
        n = int(scope["query_string"] or b"1000000")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(n).encode())]})
        block = b"x" * 65536
        left = n
        while left > 0:
            part = block[:min(left, len(block))]
            left -= len(part)
            await send({"type": "http.response.body", "body": part, "more_body": left > 0})
        return
    if path == "/pathsend":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/x-python")]})
        await send({"type": "http.response.pathsend", "path": os.path.abspath(__file__)})
        return
    if path == "/block":
        time.sleep(float(scope["query_string"] or b"30"))  # sync code in async def: blocks the loop
        return await respond(send, 200, b"woke\n")
    if path == "/sleep":
        log("SLEEP START")
        await asyncio.sleep(float(scope["query_string"] or b"0.1"))
        return await respond(send, 200, b"slept\n")
    if path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"trailer", b"x-checksum, x-count")]})
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")],
                    "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-count", b"2")]})
        return
    if path == "/cancellable":
        started = time.monotonic()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            log("CANCELLED after %.1fs" % (time.monotonic() - started))
            raise
        return await respond(send, 200, b"not cancelled\n")
    if path == "/error":
        raise ValueError("boom before the response")
    if path == "/error-after":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom after the head")
    if path == "/drain":
        # Reads the body; a client that leaves first gets no answer (nothing to answer).
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                log("DRAIN DISCONNECT")
                return
            if not msg.get("more_body"):
                return await respond(send, 200, b"drained")
    if path == "/silent":
        return
    if path == "/stop-loop":
        # An app bug: it stops the server's event loop, then waits for an answer that
        # can never come.
        asyncio.get_running_loop().stop()
        await asyncio.sleep(3600)
    if path == "/status":
        # A sloppy app: a body whatever the status (?204, ?304), which the server drops.
        return await respond(send, int(scope["query_string"] or b"200"), b"body")
    if path == "/length":
        # A sloppy app: a Content-Length (?10, ?abc) that is not its body's (5 bytes).
        return await respond(send, 200, b"12345",
                             extra=[(b"content-length", scope["query_string"])])
    if path == "/padded":
        return await respond(send, 200, b"padded", extra=[(b"x-padded", b"  v \t")])
    if path == "/pid":
        return await respond(send, 200, str(os.getpid()).encode())
    return await respond(send, 200, b"Hello, ASGI!\n")
