#!/usr/bin/env python3
"""Before/after throughput of two runicorn builds in one run, for changes that must not
move the numbers (a refactor, a dependency bump): the same workloads as benches/run.py,
servers alternating within each round, one worker pinned to one core, wrk on the other.

    python3 benches/ab.py BEFORE_TARGET AFTER_TARGET [--rounds 3] [--seconds 5]
        [--only plaintext https wsgi flaskjson asgi fastapi gevent static]

Each TARGET is a cargo release directory (`target/release`) holding `runicorn` and
`examples/hello`; build the old revision in a git worktree to get one. Prints the median
req/s of each build and the ratio after/before (1.00 = unchanged).
"""
import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as harness  # noqa: E402  (benches/run.py: spawn, measure, wrk parsing)

WORKLOADS = {
    "plaintext": ("Rust service hello", "/", lambda t, p, tmp: [str(t / "examples" / "hello"), "-b", f"127.0.0.1:{p}", "-w", "1"]),
    "wsgi": ("WSGI hello", "/", lambda t, p, tmp: [str(t / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{p}",
                                                   "--chdir", str(harness.APPS), "hello_wsgi:app"]),
    "https": ("Rust service hello over TLS (keep-alive)", "/", lambda t, p, tmp: [
        str(t / "examples" / "hello"), "-b", f"127.0.0.1:{p}", "-w", "1", *harness.tls_args()]),
    "flaskjson": ("Flask JSON, sync", "/json", lambda t, p, tmp: [str(t / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{p}",
                                                                 "--chdir", str(harness.APPS), "flask_app:app"]),
    "asgi": ("raw ASGI hello", "/", lambda t, p, tmp: [str(t / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{p}",
                                                        "--chdir", str(harness.APPS), "-k", "asgi", "hello_asgi:app"]),
    "fastapi": ("FastAPI JSON", "/json", lambda t, p, tmp: [str(t / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{p}",
                                                           "--chdir", str(harness.APPS), "-k", "asgi", "fastapi_app:app"]),
    "gevent": ("gevent Flask hello (the field guide's line, 3 workers)", "/hello", lambda t, p, tmp: [
        str(t / "runicorn"), "-b", f"127.0.0.1:{p}", "--chdir", str(harness.APPS), *harness.FIELD_GUIDE,
        "flask_gevent:app"]),
    "static": ("static 4 KB file", "/4k.bin", lambda t, p, tmp: [str(t / "runicorn"), "-w", "1", "-b", f"127.0.0.1:{p}",
                                                                "--static-map", f"/={tmp}/static"]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    a = ap.parse_args()
    server_cpu, load_cpu, pin = harness.pick_cpus()
    print(f"# {pin}; {a.rounds} rounds x {a.seconds} s, wrk -c{a.connections}", flush=True)
    with tempfile.TemporaryDirectory(prefix="runicorn-ab-") as tmp:
        tmp = Path(tmp)
        (tmp / "static").mkdir(mode=0o755)
        (tmp / "static" / "4k.bin").write_bytes(os.urandom(4096))
        results = {}
        try:
            for key in a.only:
                title, path, cmd = WORKLOADS[key]
                for rnd in range(a.rounds):
                    for label, target in (("before", a.before), ("after", a.after)):
                        ctx = harness.Ctx(target=target.resolve(), tmp=tmp, server_cpu=server_cpu, load_cpu=load_cpu,
                                          seconds=a.seconds, connections=a.connections, handshakes=0)
                        w = harness.Workload(key, title, "", "wrk", path, [], [])
                        s = harness.Server(label, "runicorn", lambda c, p, t=target.resolve(): cmd(t, p, tmp),
                                           scheme="https" if key == "https" else "http", ready_timeout=30)
                        sample = harness.measure(ctx, w, s, f"{key}-{label}-{rnd}")
                        results.setdefault((key, label), []).append(sample.rps)
                        print(f"{key:10} round {rnd + 1} {label:6} {sample.rps:10.0f} req/s", flush=True)
        finally:
            harness.stop_all()
    print("\n| workload | before req/s | after req/s | after/before |\n|---|---:|---:|---:|")
    for key in a.only:
        b = statistics.median(results[(key, "before")])
        f = statistics.median(results[(key, "after")])
        print(f"| {WORKLOADS[key][0]} | {b:.0f} | {f:.0f} | {f / b:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
