#!/usr/bin/env python3
"""Why the gevent 100 ms view row sits where it does (issue 15): runicorn -k gevent and
Gunicorn 27 -k gevent side by side on the field guide's command line, the server on core
0 and wrk (200 connections) on core 1, with benches/apps/flask_gevent_probe.py recording
each sleep's start and length by the app's own clock. Per server and round it prints:

- req/s and wrk's mean latency;
- clump: how many requests, on average, began their sleep in the same millisecond as a
  given request in the same worker (itself included). gevent's timers fire on millisecond
  ticks, so a clump's sleeps end in one turn of the hub, and the requests of a clump wait
  for each other's work at both ends of the sleep;
- sleep: how late `time.sleep(0.1)` returned on average (ms), which both servers share.

Usage: benches/gevent_clump.py [RUNICORN_BINARY] [--rounds N] [--seconds S]
(default target/release/runicorn, 3 rounds of 8 s). Loopback only."""

import argparse
import collections
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# Same directory: starting a server and waiting for its first answer as that bench does.
from gevent_rss import free_port, wait_ready

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "benches" / "apps"
FIELD_GUIDE = ["-w", "3", "-k", "gevent", "--timeout", "300", "--worker-connections", "1000",
               "--max-requests", "1000000", "--limit-request-line", "8190"]


def wrk(port: int, seconds: int) -> tuple[float, float]:
    """req/s and mean latency (ms) of one wrk run at 200 connections on core 1."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c200", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}/sleep"], capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return (float(rps.group(1)) if rps else 0.0,
            float(lat.group(1)) * scale[lat.group(2)] if lat else 0.0)


def probe(directory: Path, since: float, until: float) -> tuple[float, float]:
    """The clump size and the mean sleep lateness (ms) of the sleeps begun in the window."""
    clumps, weights, late = [], [], []
    for f in directory.iterdir():
        began = []
        for line in f.read_text().splitlines():
            b, d = (float(x) for x in line.split())
            if since <= b <= until:
                began.append(b)
                late.append((d - 0.1) * 1000)
        if began:
            per_ms = collections.Counter(int(b * 1000) for b in began)
            clumps.append(sum(n * n for n in per_ms.values()) / len(began))
            weights.append(len(began))
    if not weights:
        return 0.0, 0.0
    clump = sum(c * w for c, w in zip(clumps, weights)) / sum(weights)
    return clump, statistics.mean(late)


def measure(name: str, cmd: list[str], seconds: int, tmp: Path) -> tuple[float, ...]:
    port = free_port()
    out = tmp / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = dict(os.environ, RUNICORN_BENCH_PROBE_DIR=str(out))
    p = subprocess.Popen(["taskset", "-c", "0", *cmd, "--chdir", str(APPS), "-b", f"127.0.0.1:{port}",
                          *FIELD_GUIDE, "flask_gevent_probe:app"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(port)  # exits with "server on PORT did not answer"
        wrk(port, 2)  # warm-up, not counted
        start = time.monotonic()
        rps, latency = wrk(port, seconds)
        end = time.monotonic()
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    # The first and last half second hold wrk's ramp and its stop.
    clump, late = probe(out, start + 0.5, end - 0.5)
    return rps, latency, clump, late


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runicorn", nargs="?", default=str(ROOT / "target" / "release" / "runicorn"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    for tool in ("wrk", "taskset", "gunicorn"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found")
    servers = [("runicorn -k gevent", [args.runicorn]), ("gunicorn -k gevent", ["gunicorn"])]
    results: dict[str, list[tuple[float, ...]]] = {n: [] for n, _ in servers}
    with tempfile.TemporaryDirectory(prefix="runicorn-clump-") as tmp:
        for rnd in range(args.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for name, cmd in order:
                r = measure(name.split()[0], cmd, args.seconds, Path(tmp))
                results[name].append(r)
                print(f"round {rnd + 1} {name:20} {r[0]:8.1f} req/s  latency {r[1]:7.2f} ms  "
                      f"clump {r[2]:5.1f}  sleep +{r[3]:.2f} ms", flush=True)
    print()
    for name, rs in results.items():
        if rs:
            med = [statistics.median(x[i] for x in rs) for i in range(4)]
            print(f"median {name:20} {med[0]:8.1f} req/s  latency {med[1]:7.2f} ms  "
                  f"clump {med[2]:5.1f}  sleep +{med[3]:.2f} ms")
    r, g = results["runicorn -k gevent"], results["gunicorn -k gevent"]
    if r and g:
        print(f"ratio (median req/s): {statistics.median(x[0] for x in r) / statistics.median(x[0] for x in g):.3f}")


if __name__ == "__main__":
    main()
