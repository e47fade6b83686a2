#!/usr/bin/env python3
"""Reproducible comparison harness (issue 9): runicorn against its peers, one command.

    benches/run.sh [--quick] [--rounds N] [--seconds S] [--only WORKLOAD ...]

Writes docs/benchmarks.md (table + the machine it ran on) and the bar charts
docs/bench-rps.svg and docs/bench-p99.svg; re-running regenerates them.

Method (the same as benches/compare.sh and benches/tls.sh): every server runs ONE worker
pinned to core 0 (`taskset -c 0`) and the load generator runs on core 1, so a run compares
one core of server work against one core of server work. Servers alternate within each
round (the order rotates every round), so slow drift of a shared machine hits all of them
alike; the table reports medians over rounds and ratios "runicorn / peer" taken from the
same run. Absolute numbers depend on the machine; the ratios are the result.

Python 3.11 standard library only (the charts are hand-written SVG). Loopback only. Every
subprocess has a timeout; servers run in their own process groups and are killed on exit,
including Ctrl-C, SIGTERM and errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import html
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "benches" / "apps"
CERT = ROOT / "certs" / "server.pem"
KEY = ROOT / "certs" / "server.key"
DOCS = ROOT / "docs"

GUNICORN_VERSION = "27.0.1"

# ---------------------------------------------------------------------------------------
# Processes: everything we start is tracked so that no server outlives the run.


class StartFailed(Exception):
    """A server did not come up; the message says why (shown in the table)."""


_PROCS: list[subprocess.Popen] = []


def spawn(cmd: list[str], cpu: int | None, log: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = open(log, "wb") if log else subprocess.DEVNULL
    # A new session makes the server the leader of its own process group: stop() can then
    # reach its workers too (gunicorn, granian, nginx and runicorn all fork), and a Ctrl-C
    # in the terminal reaches only this script, which then stops the servers in order.
    p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, env=env)
    if log:
        out.close()
    _PROCS.append(p)
    return p


def stop(p: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM to the process group (graceful shutdown), SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            break
        try:
            p.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; a worker it left behind would still hold the port.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
    if p.poll() is None:
        p.wait(timeout=5)
    if p in _PROCS:
        _PROCS.remove(p)


def stop_all() -> None:
    for p in list(_PROCS):
        stop(p, grace=2.0)


def run(cmd: list[str], timeout: float, cpu: int | None = None, **kw) -> subprocess.CompletedProcess:
    """A bounded child: subprocess.run kills it on timeout and on any exception (Ctrl-C)."""
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    return subprocess.run(cmd, cwd=ROOT, timeout=timeout, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Readiness probes go straight to loopback: an http_proxy in the environment must not
# intercept them, and the test certificate is not in the system store.
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}),
    urllib.request.HTTPSHandler(context=ssl._create_unverified_context()),
)


def wait_ready(p: subprocess.Popen, url: str, log: Path | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise StartFailed(f"exited with status {p.returncode}: {tail(log)}")
        try:
            with _OPENER.open(url, timeout=1) as r:
                if r.status == 200:
                    return
        except http.client.BadStatusLine:
            # An HTTP/2-only listener (nginx's plaintext `http2`) answers an HTTP/1 probe
            # with its SETTINGS frame: it is up.
            return
        except OSError:
            pass
        time.sleep(0.05)
    raise StartFailed(f"no 200 from {url} within {timeout:.0f} s: {tail(log)}")


def tail(log: Path | None, n: int = 2) -> str:
    if not log or not log.exists():
        return "(no output)"
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return " / ".join(lines[-n:]) or "(no output)"


# ---------------------------------------------------------------------------------------
# Load generators and their output.


@dataclasses.dataclass
class Sample:
    rps: float
    p99_ms: float | None
    note: str = ""


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_ws(out: str) -> Sample:
    m = re.search(r"([\d.]+) messages/s", out)
    if not m:
        raise StartFailed("ws_load printed no messages/s: " + out.strip()[-200:])
    return Sample(float(m.group(1)), None, "")


def parse_wrk(out: str) -> Sample:
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise StartFailed("wrk printed no Requests/sec: " + out.strip()[-200:])
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    notes = []
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        notes.append(f"{bad.group(1)} non-2xx responses")
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock and any(int(x) for x in sock.groups()):
        notes.append("socket errors c/r/w/t " + "/".join(sock.groups()))
    return Sample(float(m.group(1)), float(p99.group(1)) * _UNIT_MS[p99.group(2)] if p99 else None, "; ".join(notes))


def parse_h2load(out: str, log: Path) -> Sample:
    m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    req = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if not m or not req:
        raise StartFailed("h2load printed no summary: " + out.strip()[-200:])
    if int(req.group(2)) == 0:
        raise StartFailed("h2load: no request succeeded: " + out.strip()[-200:])
    # h2load prints min/max/mean/sd only; its --log-file has one line per request with the
    # duration in microseconds (3rd column), from which the p99 is exact.
    durs = []
    if log.exists():
        for line in log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[2].isdigit():
                durs.append(int(parts[2]))
    p99 = None
    if durs:
        durs.sort()
        p99 = durs[min(len(durs) - 1, int(len(durs) * 0.99))] / 1000.0
    note = f"{req.group(3)} failed, {req.group(4)} errored" if int(req.group(3)) or int(req.group(4)) else ""
    return Sample(float(m.group(1)), p99, note)


# ---------------------------------------------------------------------------------------
# What is measured.


@dataclasses.dataclass(eq=False)  # identity: used as dict keys
class Server:
    name: str
    family: str  # colour in the charts: runicorn, hyper, nginx, gunicorn, granian
    cmd: Callable[["Ctx", int], list[str]] | None  # None: not measurable (see skip)
    scheme: str = "http"
    needs: tuple[str, ...] = ()  # tools/peers that must be present
    skip: str = ""  # a fixed reason not to run (e.g. not implemented in runicorn)
    ready_timeout: float = 15.0
    slow_clients: int = 0  # start this many slow clients before measuring


@dataclasses.dataclass(eq=False)  # identity: used as dict keys
class Workload:
    key: str
    title: str
    what: str  # one line for the docs
    load: str  # wrk | h2load-close | h2load-h2
    path: str
    servers: list[Server]
    ratios: list[tuple[str, str]]  # (numerator, denominator): shown on the denominator's row
    connections: int | None = None  # wrk connections when not --connections


@dataclasses.dataclass
class Ctx:
    target: Path
    tmp: Path
    server_cpu: int | None
    load_cpu: int | None
    seconds: int
    connections: int
    handshakes: int
    wsgi_skip: str = ""
    runicorn: Path | None = None  # --runicorn: the binary for the WSGI rows
    missing: dict = dataclasses.field(default_factory=dict)  # need -> reason


def nginx(ctx: Ctx, port: int, *, ssl_on: bool = False, access_log: bool = False, static: bool = False,
          h2c: bool = False) -> list[str]:
    d = ctx.tmp / f"nginx-{port}"
    d.mkdir(exist_ok=True)
    # h2c: `http2` on a plaintext listener is HTTP/2 with prior knowledge.
    listen = f"127.0.0.1:{port}" + (" ssl http2" if ssl_on else " http2" if h2c else "")
    tls = f"ssl_certificate {CERT}; ssl_certificate_key {KEY}; ssl_protocols TLSv1.2 TLSv1.3;" if ssl_on else ""
    log = f"access_log {ctx.tmp}/nginx-access.log;" if access_log else "access_log off;"
    # Static: nginx as deployed (Debian's nginx.conf turns sendfile on; its built-in
    # default is off, which would flatter runicorn on large files).
    where = f"root {ctx.tmp}/static; sendfile on; tcp_nopush on;" if static else 'return 200 "Hello, World!";'
    (d / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
  {log}
  default_type text/plain;
  client_body_temp_path {d};
  server {{
    listen {listen};
    {tls}
    keepalive_requests 1000000;
    location / {{ {where} }}
  }}
}}
""")
    # -e: nginx opens its default error log before reading the config; keep it in tmp.
    return ["nginx", "-p", str(d), "-e", str(d / "error.log"), "-c", str(d / "nginx.conf")]


def hello(ctx: Ctx, port: int, *extra: str) -> list[str]:
    return [str(ctx.target / "examples" / "hello"), "-b", f"127.0.0.1:{port}", "-w", "1", *extra]


def runicorn_static(ctx: Ctx, port: int) -> list[str]:
    # The same directory nginx serves; no app, static files only.
    return [str(ctx.runicorn or ctx.target / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
            "--static-map", f"/={ctx.tmp}/static"]


def tls_args() -> list[str]:
    return ["--certfile", str(CERT), "--keyfile", str(KEY), "--http-protocols", "h2,h1"]


def runicorn_wsgi(app: str, *extra: str) -> Callable[[Ctx, int], list[str]]:
    return lambda ctx, port: [str(ctx.runicorn or ctx.target / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{port}",
                              "--chdir", str(APPS), *extra, app]


def gunicorn(app: str, *extra: str) -> Callable[[Ctx, int], list[str]]:
    return lambda ctx, port: [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                              "--chdir", str(APPS), "--log-level", "warning", *extra, app]


def granian(app: str) -> Callable[[Ctx, int], list[str]]:
    return lambda ctx, port: [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1",
                              "--host", "127.0.0.1", "--port", str(port), "--working-dir", str(APPS),
                              "--log-level", "warning", "--no-access-log", app]


def granian_asgi(app: str) -> Callable[[Ctx, int], list[str]]:
    return lambda ctx, port: [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1",
                              "--host", "127.0.0.1", "--port", str(port), "--working-dir", str(APPS),
                              "--log-level", "warning", "--no-access-log", app]


def uvicorn(app: str) -> Callable[[Ctx, int], list[str]]:
    return lambda ctx, port: [sys.executable, "-m", "uvicorn", "--workers", "1", "--host", "127.0.0.1",
                              "--port", str(port), "--app-dir", str(APPS), "--log-level", "warning",
                              "--no-access-log", app]


def asgi_servers(app: str, needs: tuple[str, ...] = ()) -> list[Server]:
    """One worker each; every peer on uvloop (the default of each when it is installed)."""
    return [
        Server("runicorn -k asgi", "runicorn", runicorn_wsgi(app, "-k", "asgi"), needs=("wsgi", *needs), ready_timeout=30),
        Server("granian asgi", "granian", granian_asgi(app), needs=("granian", *needs), ready_timeout=30),
        Server("gunicorn -k asgi", "gunicorn", gunicorn(app, "-k", "asgi"), needs=("gunicorn", *needs), ready_timeout=30),
        Server("uvicorn", "uvicorn", uvicorn(app), needs=("uvicorn", *needs), ready_timeout=30),
    ]


ASGI_RATIOS = [("runicorn -k asgi", "granian asgi"), ("runicorn -k asgi", "gunicorn -k asgi"),
               ("runicorn -k asgi", "uvicorn")]


def wsgi_servers(app: str) -> list[Server]:
    return [
        Server("runicorn (sync)", "runicorn", runicorn_wsgi(app), needs=("wsgi",), ready_timeout=30),
        Server("runicorn (--threads 4)", "runicorn", runicorn_wsgi(app, "--threads", "4"), needs=("wsgi",), ready_timeout=30),
        Server("gunicorn sync", "gunicorn", gunicorn(app, "-k", "sync"), needs=("gunicorn",), ready_timeout=30),
        Server("gunicorn gthread --threads 4", "gunicorn", gunicorn(app, "-k", "gthread", "--threads", "4"),
               needs=("gunicorn",), ready_timeout=30),
        Server("granian wsgi", "granian", granian(app), needs=("granian",), ready_timeout=30),
    ]


# The Gunicorn field guide's gevent command line (its -w 3 overrides the rows' -w 1).
FIELD_GUIDE = ("-w", "3", "-k", "gevent", "--timeout", "300", "--worker-connections", "1000",
               "--max-requests", "1000000", "--limit-request-line", "8190")


def gevent_servers(app: str) -> list[Server]:
    return [
        Server("runicorn -k gevent", "runicorn", runicorn_wsgi(app, *FIELD_GUIDE), needs=("wsgi", "gevent"),
               ready_timeout=30),
        Server("gunicorn -k gevent", "gunicorn", gunicorn(app, *FIELD_GUIDE), needs=("gunicorn", "gevent", "packaging"),
               ready_timeout=30),
    ]


GEVENT_RATIOS = [("runicorn -k gevent", "gunicorn -k gevent")]

WSGI_RATIOS = [("runicorn (sync)", "gunicorn sync"), ("runicorn (--threads 4)", "gunicorn gthread --threads 4"),
               ("runicorn (sync)", "granian wsgi")]
NOT_YET = "not implemented in runicorn yet"


def workloads() -> list[Workload]:
    return [
        Workload("plaintext", "Plaintext hello (Rust service)",
                 "GET / → 13-byte text/plain; runicorn's examples/hello vs a bare hyper server and nginx `return 200`",
                 "wrk", "/", [
                     Server("runicorn examples/hello", "runicorn", hello),
                     Server("bare hyper", "hyper", lambda c, p: [str(c.target / "examples" / "bare_hyper"), f"127.0.0.1:{p}"]),
                     Server("nginx return 200", "nginx", nginx, needs=("nginx",)),
                 ], [("runicorn examples/hello", "bare hyper"), ("runicorn examples/hello", "nginx return 200")]),
        Workload("accesslog", "Hello with access log",
                 "as plaintext, with the access log written to a file (runicorn `--access-logfile`, nginx `access_log`)",
                 "wrk", "/", [
                     Server("runicorn + access log", "runicorn",
                            lambda c, p: hello(c, p, "--access-logfile", str(c.tmp / "runicorn-access.log"))),
                     Server("runicorn, no log", "runicorn", hello),
                     Server("nginx + access_log", "nginx", lambda c, p: nginx(c, p, access_log=True), needs=("nginx",)),
                 ], [("runicorn + access log", "runicorn, no log"), ("runicorn + access log", "nginx + access_log")]),
        Workload("wsgi", "WSGI hello (Python)",
                 "GET / → benches/apps/hello_wsgi.py (returns b\"Hello, World!\")",
                 "wrk", "/", wsgi_servers("hello_wsgi:app"), WSGI_RATIOS),
        Workload("flask", "Flask JSON endpoint",
                 "GET /json → benches/apps/flask_app.py (`jsonify` of a 3-key dict)",
                 "wrk", "/json", wsgi_servers("flask_app:app"), WSGI_RATIOS),
        Workload("asgi", "ASGI hello (Python)",
                 "GET / → benches/apps/hello_asgi.py (raw ASGI, 13-byte body)",
                 "wrk", "/", asgi_servers("hello_asgi:app"), ASGI_RATIOS),
        Workload("fastapi", "FastAPI JSON endpoint",
                 "GET /json → benches/apps/fastapi_app.py (an `async def` returning a 3-key dict)",
                 "wrk", "/json", asgi_servers("fastapi_app:app", ("fastapi",)), ASGI_RATIOS),
        Workload("fastapi-sleep", "FastAPI, 100 ms await, 200 connections",
                 "GET /sleep → `await asyncio.sleep(0.1)`, wrk -c200: the ceiling is 2,000 req/s",
                 "wrk", "/sleep", asgi_servers("fastapi_app:app", ("fastapi",)), ASGI_RATIOS, connections=200),
        Workload("ws-echo", "WebSocket echo (ASGI)",
                 "benches/ws_load.rs: 32 sockets, each sends a 64-byte binary message and waits for its echo "
                 "from benches/apps/ws_echo_asgi.py (req/s = echoes/s)",
                 "ws", "/", asgi_servers("ws_echo_asgi:app", ("websockets",)), ASGI_RATIOS),
        Workload("gevent", "gevent: Flask view sleeping 100 ms",
                 "GET /sleep → benches/apps/flask_gevent.py (`time.sleep(0.1)`), the field guide's "
                 "`-w 3 -k gevent --worker-connections 1000 ...`, wrk at 200 connections",
                 "wrk", "/sleep", gevent_servers("flask_gevent:app"), GEVENT_RATIOS, connections=200),
        Workload("geventhello", "gevent: Flask hello",
                 "GET /hello → benches/apps/flask_gevent.py, the same gevent command line, wrk at 200 connections",
                 "wrk", "/hello", gevent_servers("flask_gevent:app"), GEVENT_RATIOS, connections=200),
        Workload("https", "HTTPS keep-alive",
                 "hello over TLS 1.3 (certs/server.pem, ECDSA P-256), keep-alive, wrk",
                 "wrk", "/", [
                     Server("runicorn examples/hello", "runicorn", lambda c, p: hello(c, p, *tls_args()), scheme="https"),
                     Server("nginx ssl", "nginx", lambda c, p: nginx(c, p, ssl_on=True), scheme="https", needs=("nginx",)),
                 ], [("runicorn examples/hello", "nginx ssl")]),
        Workload("handshake", "TLS handshakes",
                 "h2load --h1 -H 'Connection: close' -c16: every request is a new connection and TLS 1.3 handshake "
                 "(req/s = handshakes/s); after each client's first connection h2load resumes its session, so nearly "
                 "all are ticket resumptions with X25519 (no certificate signature), for both servers",
                 "h2load-close", "/", [
                     Server("runicorn examples/hello", "runicorn", lambda c, p: hello(c, p, *tls_args()), scheme="https", needs=("h2load",)),
                     Server("nginx ssl", "nginx", lambda c, p: nginx(c, p, ssl_on=True), scheme="https", needs=("nginx", "h2load")),
                 ], [("runicorn examples/hello", "nginx ssl")]),
        Workload("h2", "HTTP/2 over TLS",
                 "h2load -c16 -m10 (16 connections × 10 concurrent streams), runicorn `--http-protocols h2,h1` vs nginx http2",
                 "h2load-h2", "/", [
                     Server("runicorn examples/hello", "runicorn", lambda c, p: hello(c, p, *tls_args()), scheme="https", needs=("h2load",)),
                     Server("nginx http2", "nginx", lambda c, p: nginx(c, p, ssl_on=True), scheme="https", needs=("nginx", "h2load")),
                 ], [("runicorn examples/hello", "nginx http2")]),
        Workload("h2c", "HTTP/2 over cleartext (h2c)",
                 "h2load -c16 -m10 with prior knowledge, runicorn `--http-protocols h2,h1 --http2-cleartext both` "
                 "vs nginx `listen ... http2` without TLS",
                 "h2load-h2", "/", [
                     Server("runicorn examples/hello h2c", "runicorn",
                            lambda c, p: hello(c, p, "--http-protocols", "h2,h1", "--http2-cleartext", "both"),
                            needs=("h2load",)),
                     Server("nginx h2c", "nginx", lambda c, p: nginx(c, p, h2c=True), needs=("nginx", "h2load")),
                 ], [("runicorn examples/hello h2c", "nginx h2c")]),
        Workload("slow", "Hello under 200 slow clients",
                 "plaintext hello while 200 slow clients (half trickling headers, half bodies, 1 byte/s; "
                 "benches/slow_clients.rs, on the load core) hold connections open",
                 "wrk", "/", [
                     Server("runicorn + 200 slow clients", "runicorn", hello, slow_clients=200),
                     Server("runicorn alone", "runicorn", hello),
                 ], [("runicorn + 200 slow clients", "runicorn alone")]),
        Workload("static4k", "Static file, 4 KB", "GET of a 4 KB file from disk", "wrk", "/4k.bin", [
            Server("runicorn --static-map", "runicorn", runicorn_static),
            Server("nginx", "nginx", lambda c, p: nginx(c, p, static=True), needs=("nginx",)),
        ], [("runicorn --static-map", "nginx")]),
        Workload("static1m", "Static file, 1 MB", "GET of a 1 MB file from disk", "wrk", "/1m.bin", [
            Server("runicorn --static-map", "runicorn", runicorn_static),
            Server("nginx", "nginx", lambda c, p: nginx(c, p, static=True), needs=("nginx",)),
        ], [("runicorn --static-map", "nginx")]),
    ]


def load_cmd(ctx: Ctx, w: Workload, url: str, seconds: int, log: Path) -> tuple[list[str], float]:
    """The load-generator command and its timeout."""
    if w.load == "wrk":
        conns = w.connections or ctx.connections
        return ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", url], seconds + 30
    if w.load == "ws":
        hostport = url.split("//", 1)[1].split("/", 1)[0]
        return [str(ctx.target / "examples" / "ws_load"), hostport, "32", str(seconds), "64"], seconds + 30
    if w.load == "h2load-close":
        # A new connection and handshake per request. Not full handshakes: h2load reuses each
        # client's SSL object, which keeps the session, so it resumes (see benches/tls.sh).
        n = max(100, ctx.handshakes * seconds // 5)
        return ["h2load", "--h1", "-H", "Connection: close", "-n", str(n), "-c16", f"--log-file={log}", url], 60 + seconds * 12
    if w.load == "h2load-h2":
        return ["h2load", "-c16", "-m10", "-D", str(seconds), f"--log-file={log}", url], seconds + 30
    raise ValueError(w.load)


def measure(ctx: Ctx, w: Workload, s: Server, tag: str) -> Sample:
    port = free_port()
    log = ctx.tmp / f"{tag}.log"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    try:
        p = spawn(s.cmd(ctx, port), ctx.server_cpu, log, env)
    except OSError as e:  # e.g. a binary that --no-build did not find
        raise StartFailed(f"cannot start: {e}")
    slow = None
    try:
        url = f"{s.scheme}://127.0.0.1:{port}{w.path}"
        wait_ready(p, url, log, s.ready_timeout)
        # Warm-up: connections, caches, lazily initialised state; not counted.
        cmd, to = load_cmd(ctx, w, url, 1, ctx.tmp / "warmup.h2log")
        try:
            run(cmd, to, ctx.load_cpu)
        except subprocess.TimeoutExpired:
            raise StartFailed(f"warm-up {cmd[0]} did not finish within {to:.0f} s")
        if s.slow_clients:
            slow = spawn([str(ctx.target / "examples" / "slow_clients"), f"127.0.0.1:{port}", str(s.slow_clients),
                          str(ctx.seconds + 60)], ctx.load_cpu)
            time.sleep(2)  # as benches/slow_clients.sh: let all of them connect first
        h2log = ctx.tmp / f"{tag}.h2log"
        cmd, to = load_cmd(ctx, w, url, ctx.seconds, h2log)
        try:
            r = run(cmd, to, ctx.load_cpu)
        except subprocess.TimeoutExpired:
            raise StartFailed(f"{cmd[0]} did not finish within {to:.0f} s")
        if p.poll() is not None:
            raise StartFailed(f"server exited during the run: {tail(log)}")
        if slow and slow.poll() is not None:
            # Without them the number would be a second "alone" measurement.
            raise StartFailed(f"the slow clients exited early (status {slow.returncode})")
        if w.load == "ws":
            return parse_ws(r.stdout)
        return parse_wrk(r.stdout) if w.load.startswith("wrk") else parse_h2load(r.stdout, h2log)
    finally:
        if slow:
            stop(slow, grace=1)
        stop(p)
        # Access logs grow by tens of MB per run; nothing reads them afterwards.
        for f in ("runicorn-access.log", "nginx-access.log", f"{tag}.h2log", "warmup.h2log"):
            (ctx.tmp / f).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------
# Environment: tools, peers, build, machine.


def find_target() -> Path:
    r = run(["cargo", "metadata", "--format-version", "1", "--no-deps"], 120)
    if r.returncode != 0:
        sys.exit("cargo metadata failed:\n" + r.stderr)
    return Path(json.loads(r.stdout)["target_directory"]) / "release"


def build(target: Path) -> None:
    print("building (cargo build --release) ...", flush=True)
    try:
        r = run(["cargo", "build", "--release", "--bin", "runicorn", "--example", "hello", "--example", "bare_hyper",
                 "--example", "slow_clients", "--example", "ws_load"], 3600)
    except subprocess.TimeoutExpired:
        sys.exit("cargo build --release took more than an hour; build it yourself and pass --no-build")
    if r.returncode != 0:
        sys.exit("cargo build --release failed:\n" + r.stderr[-4000:])
    for exe in ("runicorn", "examples/hello", "examples/bare_hyper", "examples/slow_clients"):
        if not (target / exe).exists():
            sys.exit(f"missing {target / exe} after the build")


def check_tools(ctx: Ctx, install: bool) -> None:
    apt = {"wrk": "wrk", "h2load": "nghttp2-client", "nginx": "nginx-light"}
    wanted = [pkg for tool, pkg in apt.items() if not shutil.which(tool)]
    if wanted and install and shutil.which("apt-get") and os.geteuid() == 0:
        # A fresh machine: fetch the load generators and nginx (Debian/Ubuntu as root).
        print(f"installing {', '.join(wanted)} with apt-get ...", flush=True)
        try:
            up = run(["apt-get", "update", "-qq"], 900)
            r = run(["apt-get", "install", "-y", "-qq", *wanted], 900) if up.returncode == 0 else up
            if r.returncode != 0:
                print(r.stderr[-2000:])
        except subprocess.TimeoutExpired:
            print("apt-get timed out")
    for tool, pkg in apt.items():
        if not shutil.which(tool):
            ctx.missing[tool] = f"skipped: {tool} not installed (apt-get install {pkg})"
    if not shutil.which("wrk"):
        # Every workload but two needs wrk; without it there is nothing to compare.
        print("wrk is missing: apt-get install wrk (and nghttp2-client nginx-light for the TLS workloads)")
    # gevent: both gevent rows; packaging: Gunicorn 27's gevent worker imports it.
    peers = {"gunicorn": f"gunicorn=={GUNICORN_VERSION}", "granian": "granian", "flask": "flask",
             "gevent": "gevent", "packaging": "packaging", "uvicorn": "uvicorn", "fastapi": "fastapi",
             "uvloop": "uvloop", "websockets": "websockets"}
    absent = [name for name in peers if importlib.util.find_spec(name) is None]
    if absent and install:
        print(f"installing {', '.join(peers[a] for a in absent)} with pip ...", flush=True)
        try:
            r = run([sys.executable, "-m", "pip", "install", *(peers[a] for a in absent)], 900)
            if r.returncode != 0:
                print(r.stderr[-2000:])
        except subprocess.TimeoutExpired:
            print("pip install timed out")
        importlib.invalidate_caches()
        absent = [name for name in absent if importlib.util.find_spec(name) is None]
    for name in absent:
        ctx.missing[name] = f"skipped: {name} not installed (pip install {peers[name]})"


def probe_wsgi(ctx: Ctx) -> None:
    """Does this runicorn host WSGI apps? `--check-config` cannot tell: a build without
    the `python` feature validates the configuration and exits 0 without importing the
    app. Starting it on the hello app and asking for a 200 tells for sure."""
    tag = "wsgi-probe"
    port = free_port()
    log = ctx.tmp / f"{tag}.log"
    try:
        p = spawn(runicorn_wsgi("hello_wsgi:app")(ctx, port), ctx.server_cpu, log,
                  dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    except OSError as e:
        ctx.wsgi_skip = f"skipped: cannot start runicorn ({e})"
        return
    try:
        wait_ready(p, f"http://127.0.0.1:{port}/", log, 30)
    except StartFailed as e:
        text = log.read_text(errors="replace") if log.exists() else ""
        if "without the `python` feature" in text or "serves no Python WSGI apps" in text:
            ctx.wsgi_skip = "skipped: runicorn built without WSGI support"
        else:
            ctx.wsgi_skip = f"skipped: runicorn's WSGI host did not start ({e})"
    finally:
        stop(p)


def first_line(cmd: list[str]) -> str:
    try:
        r = run(cmd, 30)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else "n/a"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(mod: str) -> str:
        try:
            from importlib.metadata import version as v
            return v(mod)
        except Exception:
            return "not installed"

    return {
        "nproc": first_line(["nproc"]),
        "CPU": cpu,
        "kernel": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": Path("/proc/loadavg").read_text().split(" ")[0:3] if Path("/proc/loadavg").exists() else "n/a",
        "rustc": first_line(["rustc", "--version"]),
        "runicorn commit": first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "wrk": first_line(["wrk", "--version"]) if shutil.which("wrk") else "not installed",
        "h2load": first_line(["h2load", "--version"]) if shutil.which("h2load") else "not installed",
        "nginx": first_line(["nginx", "-v"]) if shutil.which("nginx") else "not installed",
        "python": sys.version.split()[0],
        "gunicorn": version("gunicorn"),
        "granian": version("granian"),
        "flask": version("flask"),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "uvloop": version("uvloop"),
    }


def pick_cpus() -> tuple[int | None, int | None, str]:
    cpus = sorted(os.sched_getaffinity(0))
    if not shutil.which("taskset"):
        return None, None, "taskset not found (util-linux): processes are NOT pinned"
    if len(cpus) < 2:
        return None, None, "fewer than 2 CPUs available: server and load share them, NOT pinned"
    if cpus[:2] == [0, 1]:
        return 0, 1, "server on core 0, load generator on core 1"
    return cpus[0], cpus[1], f"server on core {cpus[0]}, load generator on core {cpus[1]}"


# ---------------------------------------------------------------------------------------
# Reports.


def fmt_rps(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


@dataclasses.dataclass
class Row:
    workload: Workload
    server: Server
    samples: list[Sample]
    status: str  # "" when measured, else why not

    @property
    def rps(self) -> float | None:
        return statistics.median(s.rps for s in self.samples) if self.samples and not self.status else None

    @property
    def p99(self) -> float | None:
        vals = [s.p99_ms for s in self.samples if s.p99_ms is not None]
        return statistics.median(vals) if vals and not self.status else None


def ratio_cells(rows: list[Row], r: Row) -> tuple[str, str]:
    by = {x.server.name: x for x in rows if x.workload is r.workload}
    for num, den in r.workload.ratios:
        if den == r.server.name:
            a, b = by[num].rps, r.rps
            return (f"{a / b:.2f}" if a and b else "n/a"), num
    return "", ""


def write_markdown(path: Path, rows: list[Row], info: dict, args, pin: str, quick: bool) -> None:
    out = ["# Benchmarks", "",
           "Generated by `benches/run.sh` (benches/run.py); re-run it to regenerate this page and the charts.", ""]
    if quick:
        out += [f"> **Quick run ({args.rounds} round(s) × {args.seconds} s): NOT representative.** A smoke test proving the "
                "harness works end to end; rounds this short (on a machine that may be busy, see the load average below) "
                "are noise. Rerun `benches/run.sh` (3 × 5 s) on a quiet machine for numbers to quote.", ""]
    out += [f"Method: one worker per server, {pin}; servers alternate within each of {args.rounds} round(s) of "
            f"{args.seconds} s (1 s warm-up each, not counted); median over rounds. wrk `-t1 -c{args.connections} --latency`; "
            "h2load p99 comes from its per-request `--log-file`. **Ratio** = the named runicorn row's median req/s ÷ this row's "
            "(above 1: runicorn is faster).", "",
            "![median req/s](bench-rps.svg)", "", "![p99 latency](bench-p99.svg)", "",
            "| workload | server | median req/s | p99 | ratio | runicorn row (numerator) | per round req/s | notes |",
            "|---|---|---:|---:|---:|---|---|---|"]
    for r in rows:
        ratio, num = ratio_cells(rows, r)
        per = " / ".join(fmt_rps(s.rps) for s in r.samples)
        notes = r.status or "; ".join(sorted({s.note for s in r.samples if s.note}))
        out.append(f"| {r.workload.title} | {r.server.name} | {fmt_rps(r.rps)} | {fmt_ms(r.p99)} | {ratio} | {num} | {per} | {notes} |")
    out += ["", "## Workloads", ""]
    for w in dict.fromkeys(r.workload for r in rows):
        out.append(f"- **{w.title}**: {w.what}.")
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    for k, v in info.items():
        out.append(f"| {k} | {' '.join(v) if isinstance(v, list) else v} |")
    out.append("")
    path.write_text("\n".join(out))


COLOURS = {"runicorn": "#d9480f", "hyper": "#1971c2", "nginx": "#2f9e44", "gunicorn": "#7048e8", "granian": "#0c8599",
           "uvicorn": "#e67700"}


def write_svg(path: Path, rows: list[Row], metric: str, quick: bool) -> None:
    """Horizontal grouped bars: one group per workload, one bar per server, each group
    scaled to its own maximum (WSGI and Rust numbers differ by 10-100×, a shared axis would
    flatten the WSGI bars), with the value printed next to every bar."""
    label_w, bar_w, value_w, bar_h, gap = 250, 470, 160, 18, 5
    width = label_w + bar_w + value_w + 20
    title = ("Median requests/s (higher is better)" if metric == "rps" else "p99 latency (lower is better)")
    y = 30
    parts = [f'<text x="10" y="{y}" font-size="17" font-weight="bold">{html.escape(title)}</text>']
    y += 18
    parts.append(f'<text x="10" y="{y}" font-size="12" fill="#555">one worker per server, server and load generator '
                 f'on separate cores; bars scaled per workload</text>')
    if quick:
        y += 18
        parts.append(f'<text x="10" y="{y}" font-size="12" font-weight="bold" fill="#c92a2a">Quick run (smoke test): '
                     f'NOT representative</text>')
    y += 14
    x = 10
    for fam, col in COLOURS.items():
        parts.append(f'<rect x="{x}" y="{y}" width="11" height="11" fill="{col}"/>'
                     f'<text x="{x + 15}" y="{y + 10}" font-size="12">{fam}</text>')
        x += 105
    y += 20
    for w in dict.fromkeys(r.workload for r in rows):
        group = [r for r in rows if r.workload is w]
        vals = [(r.rps if metric == "rps" else r.p99) for r in group]
        top = max((v for v in vals if v), default=0)
        y += 22
        parts.append(f'<text x="10" y="{y}" font-size="14" font-weight="bold">{html.escape(w.title)}</text>')
        y += 6
        for r, v in zip(group, vals):
            cy = y + bar_h - 5
            parts.append(f'<text x="{label_w - 8}" y="{cy}" font-size="12" text-anchor="end">{html.escape(r.server.name)}</text>')
            if v:
                wpx = max(1.0, bar_w * v / top)
                parts.append(f'<rect x="{label_w}" y="{y}" width="{wpx:.1f}" height="{bar_h}" '
                             f'fill="{COLOURS.get(r.server.family, "#868e96")}"/>')
                text = f"{fmt_rps(v)} req/s" if metric == "rps" else fmt_ms(v)
                parts.append(f'<text x="{label_w + wpx + 5:.1f}" y="{cy}" font-size="12">{text}</text>')
            else:
                why = r.status or ("p99 n/a" if metric == "p99" else "n/a")
                why = why if len(why) <= 95 else why[:92] + "..."
                parts.append(f'<text x="{label_w}" y="{cy}" font-size="11" fill="#868e96">{html.escape(why)}</text>')
            y += bar_h + gap
    height = y + 15
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">\n'
           # An opaque background keeps the black text readable in GitHub's dark mode.
           f'<rect width="100%" height="100%" fill="#ffffff"/>\n' + "\n".join(parts) + "\n</svg>\n")
    path.write_text(svg)


# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round × 2 s: proves the harness, numbers are noise")
    ap.add_argument("--rounds", type=int, help="rounds (default 3)")
    ap.add_argument("--seconds", type=int, help="seconds per measurement (default 5)")
    ap.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    ap.add_argument("--handshakes", type=int, default=4000,
                    help="TLS handshakes (new connections) per measurement at --seconds 5, scaled with --seconds (default 4000)")
    ap.add_argument("--only", nargs="+", metavar="WORKLOAD", help="run only these: " + ", ".join(w.key for w in workloads()))
    ap.add_argument("--no-build", action="store_true", help="use the existing release binaries")
    ap.add_argument("--no-install", action="store_true", help="do not install missing peers or tools (pip; apt-get when root): skip those workloads")
    ap.add_argument("--runicorn", type=Path, metavar="PATH",
                    help="runicorn binary for the WSGI workloads (default: the one built here), e.g. one built "
                         "from another branch")
    ap.add_argument("--out", type=Path, default=DOCS, help="output directory (default docs/)")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 5)
    if args.rounds < 1 or args.seconds < 1:
        ap.error("--rounds and --seconds must be at least 1")
    # Anything shorter than the default is a smoke test, and the output says so.
    quick = args.quick or args.rounds < 3 or args.seconds < 5

    # SIGTERM/SIGHUP become an exception so the finally below stops the servers.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, f: sys.exit(128 + n))

    chosen = workloads()
    if args.only:
        unknown = set(args.only) - {w.key for w in chosen}
        if unknown:
            ap.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
        chosen = [w for w in chosen if w.key in args.only]

    target = find_target()
    if not args.no_build:
        build(target)
    server_cpu, load_cpu, pin = pick_cpus()
    print(pin)
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="runicorn-bench-"))
    # nginx workers drop to `nobody` when started as root; they must read the static files.
    tmp.chmod(0o755)
    ctx = Ctx(target, tmp, server_cpu, load_cpu, args.seconds, args.connections, args.handshakes,
              runicorn=args.runicorn.resolve() if args.runicorn else None)
    rows: list[Row] = []
    try:
        check_tools(ctx, install=not args.no_install)
        if any(w.key in ("static4k", "static1m") for w in chosen):
            (tmp / "static").mkdir(mode=0o755)
            (tmp / "static" / "4k.bin").write_bytes(os.urandom(4096))
            (tmp / "static" / "1m.bin").write_bytes(os.urandom(1 << 20))
        if any("wsgi" in s.needs for w in chosen for s in w.servers):
            print("probing runicorn's WSGI support ...", flush=True)
            probe_wsgi(ctx)
            if ctx.wsgi_skip:
                print(ctx.wsgi_skip)
        for w in chosen:
            for s in w.servers:
                status = s.skip
                for need in s.needs:
                    status = status or (ctx.wsgi_skip if need == "wsgi" else ctx.missing.get(need, ""))
                if w.load.startswith("wrk") and "wrk" in ctx.missing:
                    status = status or ctx.missing["wrk"]
                if s.cmd is None and not status:
                    status = "not measured"
                rows.append(Row(w, s, [], status))
        for rnd in range(args.rounds):
            for w in chosen:
                group = [r for r in rows if r.workload is w and not r.status]
                k = rnd % max(1, len(group))
                for r in group[k:] + group[:k]:  # rotate the order every round
                    if r.status:
                        continue  # failed in an earlier round
                    tag = f"{w.key}-{r.server.family}-{rnd}-{group.index(r)}"
                    try:
                        smp = measure(ctx, w, r.server, tag)
                    except StartFailed as e:
                        r.status = f"failed: {e}"
                        print(f"round {rnd + 1}  {w.key:10} {r.server.name:30} {r.status}", flush=True)
                        continue
                    r.samples.append(smp)
                    print(f"round {rnd + 1}  {w.key:10} {r.server.name:30} {fmt_rps(smp.rps):>10} req/s  "
                          f"p99 {fmt_ms(smp.p99_ms):>10}  {smp.note}", flush=True)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    args.out.mkdir(parents=True, exist_ok=True)
    write_markdown(args.out / "benchmarks.md", rows, info, args, pin, quick)
    write_svg(args.out / "bench-rps.svg", rows, "rps", quick)
    write_svg(args.out / "bench-p99.svg", rows, "p99", quick)
    print()
    print(f"{'workload':30} {'server':30} {'median req/s':>12} {'p99':>10} {'ratio':>6}  status")
    for r in rows:
        ratio, num = ratio_cells(rows, r)
        print(f"{r.workload.title[:30]:30} {r.server.name[:30]:30} {fmt_rps(r.rps):>12} {fmt_ms(r.p99):>10} {ratio:>6}  {r.status}")
    print(f"\nwrote {args.out / 'benchmarks.md'}, {args.out / 'bench-rps.svg'}, {args.out / 'bench-p99.svg'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # main()'s finally has already stopped the servers.
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)
