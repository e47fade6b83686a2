"""A Flask app for the gevent worker (tests/it/gevent.rs): time.sleep, raw sockets and
`requests` to a local upstream, threading.local, a CPU loop, and whether gevent had
patched the standard library when this module was imported."""
import os
import socket
import threading
import time

import gevent
import gevent.monkey
import requests
from flask import Flask, request

PATCHED_AT_IMPORT = gevent.monkey.is_module_patched("socket") and gevent.monkey.is_module_patched("threading")

app = Flask(__name__)
local = threading.local()


@app.route("/sleep")
def sleep():
    time.sleep(float(request.args.get("s", "0.1")))
    return "slept"


@app.route("/hello")
def hello():
    return "Hello, World!"


@app.route("/local")
def greenlet_local():
    # Another request on the same hub thread must not see or change this value.
    mine = os.urandom(8).hex()
    local.value = mine
    time.sleep(0.05)
    return "same" if local.value == mine else "changed"


@app.route("/upstream")
def upstream():
    r = requests.get("http://127.0.0.1:%s/" % request.args["port"], timeout=30)
    return r.text


@app.route("/socket")
def raw_socket():
    s = socket.create_connection(("127.0.0.1", int(request.args["port"])), timeout=30)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.split(b"\r\n\r\n", 1)[-1]


@app.route("/leave-timeout")
def leave_timeout():
    # A bug apps have: a timeout started and never cancelled. It fires into this greenlet
    # after the request ended; the worker must keep serving.
    gevent.Timeout.start_new(0.2)
    return "left"


@app.route("/busy")
def busy():
    # Holds the hub for s seconds without yielding (a CPU-bound stretch), so requests
    # that come meanwhile queue and reach the hub together.
    end = time.monotonic() + float(request.args.get("s", "0.5"))
    while time.monotonic() < end:
        pass
    return "busy"


@app.route("/break-loop")
def break_loop():
    # Raises in the hub thread's main greenlet, where the server's dispatcher loop waits:
    # the loop ends while the worker serves (a bug in the server or in a C extension).
    gevent.get_hub().parent.throw(RuntimeError("the dispatcher loop was broken on purpose"))
    return "unreachable"


@app.route("/spin")
def spin():
    while True:
        pass


@app.route("/env")
def env():
    e = request.environ
    return "multithread=%s multiprocess=%s import_patched=%s" % (
        e["wsgi.multithread"],
        e["wsgi.multiprocess"],
        PATCHED_AT_IMPORT,
    )


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "64"))

    def chunks():
        for _ in range(n):
            yield b"x" * 65536

    return app.response_class(chunks(), mimetype="application/octet-stream")


@app.route("/first-then-wait")
def first_then_wait():
    # The head and a first chunk, then a long cooperative wait before the rest: the client
    # must see the first part while this greenlet waits (heads are handed to the edge in
    # batches per hub turn, and this turn ends when the greenlet waits).
    wait = float(request.args.get("s", "5"))

    def chunks():
        yield b"first;"
        time.sleep(wait)
        yield b"last"

    return app.response_class(chunks(), mimetype="text/plain")

