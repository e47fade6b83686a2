#!/usr/bin/env python3
"""Connection-slot exhaustion, runicorn beside nginx in one run: one worker each with
1,000 connection slots; an attacker opens 1,000 connections that send nothing (re-opening
any the server closes) while a legitimate client makes a fresh connection and one request
every 50 ms, each given 2 s. Reports the legitimate client's successes and the worker's
RSS before and during the attack.

    python3 benches/abuse_slots.py [--target target/release] [--seconds 10] [--tls]

Loopback only; the server runs on core 0, attacker and client on core 1.
"""
import argparse
import os
import select
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def worker_pid(leader: int) -> int:
    """The server's one worker: the leader's child (runicorn and nginx both fork one)."""
    for _ in range(100):
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    stat = open(f"/proc/{p}/stat").read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == leader:
                    return int(p)
        time.sleep(0.05)
    return leader


def attacker(port: int, n: int, stop: threading.Event, held: list) -> None:
    conns = []
    while not stop.is_set():
        alive = []
        for c in conns:
            try:
                r, _, _ = select.select([c], [], [], 0)
                if r and not c.recv(4096):
                    c.close()
                    held[1] += 1
                    continue
            except OSError:
                c.close()
                held[1] += 1
                continue
            alive.append(c)
        conns = alive
        while len(conns) < n and not stop.is_set():
            s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect(("127.0.0.1", port))
            except OSError:
                s.close()
                break
            conns.append(s)
        held[0] = len(conns)
        time.sleep(0.02)
    for c in conns:
        c.close()


def legit(port: int, tls: bool, seconds: float, path: str = "/", connect=None) -> tuple[int, int]:
    """The legitimate client: a fresh connection (`connect(port)` when given, else plain or
    TLS) and one GET of `path` every 50 ms for `seconds`; (ok, failed)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    ok = failed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if connect is not None:
                s = connect(port)
            else:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                if tls:
                    s = ctx.wrap_socket(s, server_hostname="localhost")
            s.settimeout(2)
            s.sendall(request)
            data = s.recv(4096)
            s.close()
            if data.startswith(b"HTTP/1.1 200"):
                ok += 1
            else:
                failed += 1
        except OSError:
            failed += 1
        time.sleep(0.05)
    return ok, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", type=Path, default=harness.ROOT / "target" / "release")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--tls", action="store_true")
    a = ap.parse_args()
    server_cpu, load_cpu, pin = harness.pick_cpus()
    if load_cpu is not None:
        os.sched_setaffinity(0, {load_cpu})
    print(f"# {pin}; 1,000 idle attacker connections, {a.seconds:.0f} s, {'TLS' if a.tls else 'plaintext'}")
    print("| server | legitimate ok | failed | attacker connections closed | worker RSS before → during |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="runicorn-abuse-") as tmp:
        ctx = harness.Ctx(target=a.target.resolve(), tmp=Path(tmp), server_cpu=server_cpu, load_cpu=load_cpu,
                          seconds=0, connections=0, handshakes=0)
        servers = [
            ("runicorn", lambda port: harness.hello(ctx, port, *(harness.tls_args() if a.tls else []))),
            ("nginx (worker_connections 1000)", lambda port: harness.nginx(ctx, port, ssl_on=a.tls)),
        ]
        for name, cmd in servers:
            port = harness.free_port()
            argv = cmd(port)
            if argv[0] == "nginx":
                conf = Path(argv[-1])
                conf.write_text(conf.read_text().replace("worker_connections 4096", "worker_connections 1000"))
            p = harness.spawn(argv, server_cpu, Path(tmp) / f"{name.split()[0]}.log")
            try:
                scheme = "https" if a.tls else "http"
                harness.wait_ready(p, f"{scheme}://127.0.0.1:{port}/", Path(tmp) / f"{name.split()[0]}.log", 30)
                w = worker_pid(p.pid)
                before = rss_kb(w)
                stop, held = threading.Event(), [0, 0]
                t = threading.Thread(target=attacker, args=(port, 1000, stop, held))
                t.start()
                deadline = time.monotonic() + 15
                while held[0] < 990 and time.monotonic() < deadline:
                    time.sleep(0.1)
                ok, failed = legit(port, a.tls, a.seconds)
                during = rss_kb(w)
                stop.set()
                t.join()
                print(f"| {name} | {ok} | {failed} | {held[1]} | {before / 1024:.1f} → {during / 1024:.1f} MB |", flush=True)
            finally:
                harness.stop(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
