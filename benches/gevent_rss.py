#!/usr/bin/env python3
"""Worker memory under 1,000 concurrent slow requests (issue 15): one worker each of
runicorn -k gevent, Gunicorn 27 -k gevent and runicorn --threads 1000, all serving
benches/apps/flask_gevent.py; 1,000 clients each hold a /sleep request (100 ms view, so
they are re-sent back to back for the whole measurement) and the worker's peak VmRSS is
read from /proc. Usage: benches/gevent_rss.py [RUNICORN_BINARY]  (default
target/release/runicorn). Run it under `flock /tmp/runicorn-load.lock`."""

import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "benches" / "apps"
CLIENTS = 1000
SECONDS = 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_ready(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on {port} did not answer")


def hold(port: int):
    """Opens CLIENTS keep-alive connections, each with a /sleep request sent; returns the
    selector (each key's data buffers its response), the sockets and the request."""
    sel = selectors.DefaultSelector()
    req = b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n"
    conns = []
    for _ in range(CLIENTS):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        s.send(req)
        sel.register(s, selectors.EVENT_READ, bytearray())
        conns.append(s)
    return sel, conns, req


def measure(name: str, cmd: list[str], port: int) -> None:
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=APPS)
    try:
        wait_ready(port)
        workers = children(p.pid)
        idle = sum(rss_kib(w) for w in workers)
        sel, conns, req = hold(port)
        ok = failed = 0
        peak = 0
        end = time.time() + SECONDS
        while time.time() < end:
            for key, _ in sel.select(timeout=0.2):
                buf = key.data
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    failed += 1
                    sel.unregister(key.fileobj)
                    continue
                buf += data
                # One small response per request: count complete ones, re-send.
                while b"\r\n\r\n" in buf and buf.endswith(b"slept"):
                    ok += 1
                    buf.clear()
                    key.fileobj.send(req)
            peak = max(peak, sum(rss_kib(w) for w in children(p.pid)))
        for s in conns:
            s.close()
        print(f"{name:34} workers {len(workers)}  idle {idle / 1024:6.1f} MiB  "
              f"peak {peak / 1024:6.1f} MiB  ({ok} responses, {failed} failed, {ok / SECONDS:,.0f} req/s)",
              flush=True)
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> None:
    runicorn = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "runicorn")
    common = ["-w", "1", "--timeout", "300", "--worker-connections", "2000", "--log-level", "warning"]
    rows = [
        ("runicorn -k gevent", [runicorn, *common, "-k", "gevent"]),
        ("gunicorn -k gevent", [sys.executable, "-m", "gunicorn", *common, "-k", "gevent"]),
        ("runicorn --threads 1000", [runicorn, *common, "--threads", "1000"]),
    ]
    for name, cmd in rows:
        port = free_port()
        measure(name, [*cmd, "-b", f"127.0.0.1:{port}", "flask_gevent:app"], port)


if __name__ == "__main__":
    main()
