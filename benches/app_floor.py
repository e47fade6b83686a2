#!/usr/bin/env python3
"""The app's own CPU per request, with no server at all: the floor under any server's cost
per request, and so the ceiling of any ratio between two servers running that app.

    python3 benches/app_floor.py flask-hello|flask-gevent-hello|fastapi-json|fastapi-sleep0 [--n 20000]

flask-hello calls benches/apps/flask_gevent.py's /hello as a WSGI server would (a fresh
environ, start_response, iterate, close); flask-gevent-hello does the same after
gevent.monkey.patch_all(), as under -k gevent. fastapi-json and fastapi-sleep0 drive
benches/apps/fastapi_app.py through ASGI on a uvloop loop (fastapi-sleep0: /sleep with
asyncio.sleep patched to sleep(0), the view's work without the wait). Pin it with
`taskset -c 0` to compare with benches/cost.py's numbers from the same run.
"""
import argparse
import asyncio
import io
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps"))


def environ(path):
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000", "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


def wsgi(patch):
    if patch:
        from gevent import monkey
        monkey.patch_all()
    from flask_gevent import app

    def start_response(status, headers, exc_info=None):
        return None

    def one():
        body = app(environ("/hello"), start_response)
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()

    return one


def asgi(path, sleep0):
    import uvloop
    import fastapi_app
    if sleep0:
        real = asyncio.sleep
        fastapi_app.asyncio = type("A", (), {"sleep": staticmethod(lambda _s: real(0))})
    app = fastapi_app.app
    loop = uvloop.new_event_loop()
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk")],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000), "state": {}}
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive():
        return request

    async def send(_msg):
        return None

    def batch(k):
        async def run():
            for _ in range(k):
                await app(dict(scope), receive, send)
        loop.run_until_complete(run())

    return batch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("app", choices=["flask-hello", "flask-gevent-hello", "fastapi-json", "fastapi-sleep0"])
    ap.add_argument("--n", type=int, default=20000)
    a = ap.parse_args()
    if a.app.startswith("flask"):
        one = wsgi(a.app == "flask-gevent-hello")
        for _ in range(2000):
            one()
        t0 = time.process_time()
        for _ in range(a.n):
            one()
    else:
        batch = asgi("/json" if a.app == "fastapi-json" else "/sleep", a.app == "fastapi-sleep0")
        batch(2000)
        t0 = time.process_time()
        batch(a.n)
    us = (time.process_time() - t0) / a.n * 1e6
    print(f"{a.app}: {us:.1f} µs of CPU per request in-process (no server)")


if __name__ == "__main__":
    main()
