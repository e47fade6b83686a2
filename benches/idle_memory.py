#!/usr/bin/env python3
"""Memory per idle keep-alive connection (issue 18): one worker each of runicorn (the Rust
hello service, or any runicorn command line) and nginx `return 200`; N clients each make
one request on a keep-alive connection and then stay connected and silent; the worker's
VmRSS before and after, divided by N, is what one idle connection holds. Both readings
are taken after the connections sat idle for 3 s: a runicorn connection idle for 100 ms
gives back hyper's state and buffers ("parks"), and the worker returns freed memory to the
kernel at most every 2 s, so a reading sooner would count memory already given back.

    benches/idle_memory.py [--connections 5000] [--target target/release] [--no-nginx] [--tls]

--tls: the same over TLS 1.3 (certs/server.pem; nginx with `ssl`), one full handshake per
connection, so each server also holds its TLS session state.

Memory, not time: the numbers do not depend on how busy the machine is. Loopback only;
the process needs a file-descriptor limit above N (raised here up to the hard limit).
"""

import argparse
import resource
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402
from gevent_rss import children, free_port, rss_kib  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


IDLE_FOR = 3.0


def settle(pid: int) -> int:
    """VmRSS once the connections have been idle for IDLE_FOR and it stops moving
    (allocators return memory lazily)."""
    time.sleep(IDLE_FOR)
    last, same = rss_kib(pid), 0
    for _ in range(40):
        time.sleep(0.1)
        now = rss_kib(pid)
        same = same + 1 if now == last else 0
        last = now
        if same >= 5:
            break
    return last


def answered(buf: bytes) -> bool:
    """buf holds a whole response (head and Content-Length body)."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = next((int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")[1:])
                   if k.strip().lower() == b"content-length"), 0)
    return len(body) >= length


def open_idle_tls(port: int, n: int) -> list[socket.socket]:
    """open_idle over TLS, one connection at a time (handshakes are the slow part)."""
    ctx = ssl.create_default_context(cafile=str(harness.ROOT / "certs" / "ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    socks = []
    for _ in range(n):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
        s.sendall(REQUEST)
        got = b""
        while not answered(got):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("the server closed a TLS connection before answering")
            got += chunk
        socks.append(s)
    return socks


def open_idle(port: int, n: int) -> list[socket.socket]:
    """n connections, one request each, its whole response read; then left silent."""
    socks, sel = [], selectors.DefaultSelector()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        s.send(REQUEST)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
        if i % 200 == 199:  # stay well inside the listen backlog
            drain(sel, len(sel.get_map()) - 50)
    drain(sel, 0)
    return socks


def drain(sel: selectors.BaseSelector, until: int) -> None:
    end = time.time() + 60
    while len(sel.get_map()) > until and time.time() < end:
        for key, _ in sel.select(timeout=1):
            buf = key.data
            chunk = key.fileobj.recv(4096)
            if not chunk:
                raise SystemExit("the server closed a connection before answering")
            buf += chunk
            if answered(bytes(buf)):
                sel.unregister(key.fileobj)
    if len(sel.get_map()) > until:
        raise SystemExit("responses did not arrive within 60 s")


def measure(name: str, cmd: list[str], port: int, n: int, worker_of, tls: bool = False) -> None:
    p = harness.spawn(cmd, None, None)
    try:
        harness.wait_ready(p, f"{'https' if tls else 'http'}://127.0.0.1:{port}/", None, 30)
        time.sleep(0.5)
        pid = worker_of(p.pid)
        opener = open_idle_tls if tls else open_idle
        # One connection first: lazily made per-worker state is not per-connection cost.
        warm = opener(port, 10)
        before = settle(pid)
        socks = opener(port, n)
        after = settle(pid)
        per = (after - before) * 1024 / n
        print(f"| {name} | {n} | {before / 1024:.1f} MiB | {after / 1024:.1f} MiB | {per / 1024:.2f} KiB |", flush=True)
        for s in socks + warm:
            s.close()
    finally:
        harness.stop(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--target", type=Path, default=None)
    ap.add_argument("--no-nginx", action="store_true")
    ap.add_argument("--tls", action="store_true", help="over TLS 1.3 (certs/server.pem)")
    ap.add_argument("runicorn_args", nargs="*", help="a runicorn command line to measure instead of the hello example "
                    "(after --); its worker is measured")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.connections * 2 + 1000)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    target = (a.target or harness.find_target()).resolve()
    print("| server | idle connections | worker RSS before | after | per connection |\n|---|---:|---:|---:|---:|")
    first_child = lambda pid: children(pid)[0]  # noqa: E731
    port = free_port()
    cmd = a.runicorn_args or [str(target / "examples" / "hello"), "-w", "1", "--worker-connections",
                              str(a.connections + 100), "--keep-alive", "600"]
    if a.tls and not a.runicorn_args:
        cmd += ["--certfile", str(harness.CERT), "--keyfile", str(harness.KEY)]
    measure("runicorn " + ("hello" if not a.runicorn_args else " ".join(a.runicorn_args)) + (" (TLS)" if a.tls else ""),
            cmd + ["-b", f"127.0.0.1:{port}"], port, a.connections, first_child, a.tls)
    if not a.no_nginx:
        with tempfile.TemporaryDirectory(prefix="runicorn-idle-") as tmp:
            port = free_port()
            ctx = harness.Ctx(target=target, tmp=Path(tmp), server_cpu=None, load_cpu=None, seconds=0,
                              connections=0, handshakes=0)
            cmd = harness.nginx(ctx, port, ssl_on=a.tls)
            conf = Path(tmp) / f"nginx-{port}" / "nginx.conf"
            text = conf.read_text()
            text = text.replace("worker_connections 4096", f"worker_connections {a.connections + 100}")
            text = text.replace("keepalive_requests 1000000;", "keepalive_requests 1000000; keepalive_timeout 600;")
            conf.write_text(text)
            measure("nginx" + (" (TLS)" if a.tls else ""), cmd, port, a.connections, first_child, a.tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
