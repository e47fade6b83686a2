#!/usr/bin/env python3
"""CPU time per request, per thread, of one server under a fixed load: where a request's
cost goes (the edge's thread, the app's loop thread, the kernel) and how it compares with a
peer's. This VM exposes no hardware counters (`perf stat` has no cycles or instructions),
so the measure is the CPU time /proc reports for each thread of the server's processes,
user and system apart, divided by the requests wrk completed in the same window.

    python3 benches/cost.py [--seconds 5] [--rounds 3] WORKLOAD [SERVER ...]

    WORKLOAD: asgi | fastapi | wsgi | flask | plaintext | gevent      SERVER: runicorn granian gunicorn uvicorn
    (plaintext: runicorn, hyper (benches/bare_hyper.rs) or nginx `return 200`)

The server runs one worker on core 0 and wrk on core 1, as in benches/run.py; servers
alternate within a round. CPU time is not wall time, so the numbers hold up better than
req/s on a busy machine, but a preempted thread still pays for cache misses: compare
servers measured in one run.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")

APPS = {"asgi": ("hello_asgi:app", "/"), "fastapi": ("fastapi_app:app", "/json"), "wsgi": ("hello_wsgi:app", "/"),
        "plaintext": ("", "/"), "gevent": ("flask_gevent:app", "/hello"),
        "flask": ("flask_app:app", "/json")}


def command(server: str, workload: str, target: Path, port: int, tmp: Path) -> list[str]:
    app, _ = APPS[workload]
    ctx = harness.Ctx(target=target, tmp=tmp, server_cpu=None, load_cpu=None, seconds=0, connections=0,
                      handshakes=0)
    asgi = workload not in ("wsgi", "plaintext", "gevent", "flask")
    if workload == "gevent":  # the field guide's command line, three workers
        if server == "runicorn":
            return harness.runicorn_wsgi(app, *harness.FIELD_GUIDE)(ctx, port)
        if server == "gunicorn":
            return harness.gunicorn(app, *harness.FIELD_GUIDE)(ctx, port)
        raise SystemExit("gevent: runicorn or gunicorn")
    if workload == "plaintext":
        if server == "runicorn":
            return harness.hello(ctx, port)
        if server == "hyper":
            return [str(target / "examples" / "bare_hyper"), f"127.0.0.1:{port}"]
        if server == "nginx":
            return harness.nginx(ctx, port)
        raise SystemExit("plaintext: runicorn, hyper or nginx")
    if server == "runicorn":
        return harness.runicorn_wsgi(app, *(["-k", "asgi"] if asgi else []))(ctx, port)
    if server == "granian":
        return (harness.granian_asgi(app) if asgi else harness.granian(app))(ctx, port)
    if server == "gunicorn":
        return harness.gunicorn(app, *(["-k", "asgi"] if asgi else []))(ctx, port)
    if server == "uvicorn":
        return harness.uvicorn(app)(ctx, port)
    raise SystemExit(f"unknown server {server}")


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
                todo.extend(int(k) for k in kids)
        except OSError:
            pass
    return out


def threads(pids: list[int]) -> dict[tuple[int, int], tuple[str, int, int]]:
    """(pid, tid) -> (thread name, user ticks, system ticks)."""
    seen = {}
    for p in pids:
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                raw = Path(f"/proc/{p}/task/{t}/stat").read_text()
            except OSError:
                continue
            name = raw[raw.index("(") + 1:raw.rindex(")")]
            f = raw[raw.rindex(")") + 2:].split()
            seen[(p, int(t))] = (name, int(f[11]), int(f[12]))
    return seen


def one(server: str, workload: str, target: Path, seconds: int, tmp: Path, server_cpu, load_cpu) -> dict:
    port = harness.free_port()
    log = tmp / f"{server}.log"
    p = harness.spawn(command(server, workload, target, port, tmp), server_cpu, log,
                      dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    try:
        url = f"http://127.0.0.1:{port}{APPS[workload][1]}"
        harness.wait_ready(p, url, log, 30)
        harness.run(["wrk", "-t1", "-c64", "-d1s", url], 30, load_cpu)
        pids = descendants(p.pid)
        before = threads(pids)
        t0 = time.monotonic()
        r = harness.run(["wrk", "-t1", "-c64", f"-d{seconds}s", url], seconds + 30, load_cpu)
        wall = time.monotonic() - t0
        after = threads(pids)
        reqs = int(harness.re.search(r"(\d+) requests in", r.stdout).group(1))
        per = {}
        for k, (name, u, s) in after.items():
            _, u0, s0 = before.get(k, (name, 0, 0))
            du, ds = (u - u0) / TICK, (s - s0) / TICK
            if du + ds == 0:
                continue
            key = name if k[0] == k[1] else f"{name} (thread)"
            a = per.setdefault(key, [0.0, 0.0])
            a[0] += du
            a[1] += ds
        return {"reqs": reqs, "wall": wall, "threads": {n: (u * 1e6 / reqs, s * 1e6 / reqs) for n, (u, s) in per.items()}}
    finally:
        harness.stop(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workload", choices=list(APPS))
    ap.add_argument("servers", nargs="*", default=["runicorn", "granian"])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--target", type=Path, default=None, help="cargo release dir (default: target/release)")
    a = ap.parse_args()
    target = (a.target or harness.find_target()).resolve()
    server_cpu, load_cpu, pin = harness.pick_cpus()
    print(f"# {pin}; {a.rounds} rounds x {a.seconds} s, wrk -c64; µs of CPU per request", flush=True)
    res: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="runicorn-cost-") as tmp:
        try:
            for rnd in range(a.rounds):
                order = a.servers[rnd % len(a.servers):] + a.servers[:rnd % len(a.servers)]
                for s in order:
                    r = one(s, a.workload, target, a.seconds, Path(tmp), server_cpu, load_cpu)
                    res.setdefault(s, []).append(r)
                    total = sum(u + k for u, k in r["threads"].values())
                    print(f"round {rnd + 1} {s:9} {r['reqs'] / r['wall']:9.0f} req/s  {total:6.2f} µs/req", flush=True)
        finally:
            harness.stop_all()
    for s, runs in res.items():
        print(f"\n{s}: median over {len(runs)} rounds (user + system µs per request)")
        names = sorted({n for r in runs for n in r["threads"]})
        for n in names:
            us = [r["threads"].get(n, (0.0, 0.0)) for r in runs]
            u = statistics.median(x[0] for x in us)
            k = statistics.median(x[1] for x in us)
            print(f"  {n:28} {u:6.2f} + {k:6.2f} = {u + k:6.2f}")
        tot = statistics.median(sum(u + k for u, k in r["threads"].values()) for r in runs)
        print(f"  {'total':28} {tot:22.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
