#!/usr/bin/env python3
"""Instructions per access-log render, counted by callgrind: deterministic where criterion's
nanoseconds wobble with the machine (this VM exposes no hardware counters).

    cargo bench --bench access_log --no-run
    python3 benches/access_log_instr.py [BENCH ...]        # default: every render/request bench
    python3 benches/access_log_instr.py --annotate render/default   # + function-level profile

Each bench is run twice under `valgrind --tool=callgrind` through the bench binary's
`--instr <bench> <n>` mode (no criterion in the process), with a small and a large `n`; the
difference of the two totals divided by the difference of `n` is the cost of one iteration,
setup and teardown cancelled out. `--annotate` keeps the large run's profile and prints
`callgrind_annotate --inclusive=yes` of it (function-level, inlined code counted in its
caller).
"""
import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHES = [f"{kind}/{name}" for name in ("default", "heavy", "json") for kind in ("render", "request")]
SMALL, LARGE = 1_000, 21_000


def bench_binary() -> Path:
    """The newest `access_log-<hash>` criterion binary (built by `cargo bench --no-run`)."""
    found = [p for p in (ROOT / "target" / "release" / "deps").glob("access_log-*")
             if p.is_file() and p.suffix == "" and p.stat().st_mode & 0o111]
    if not found:
        sys.exit("no bench binary: run `cargo bench --bench access_log --no-run` first")
    return max(found, key=lambda p: p.stat().st_mtime)


def collected(binary: Path, bench: str, n: int, out_file: str) -> int:
    """Instructions callgrind counted for the whole process running `n` iterations."""
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
                        str(binary), "--instr", bench, str(n)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if not m:
        sys.exit(f"no 'Collected' line in callgrind's output:\n{r.stderr}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("benches", nargs="*", default=BENCHES, help="render/<name> or request/<name>")
    ap.add_argument("--annotate", action="store_true", help="print the function-level profile too")
    args = ap.parse_args()
    binary = bench_binary()
    print(f"# {binary.name}, (Ir({LARGE}) - Ir({SMALL})) / {LARGE - SMALL}")
    with tempfile.TemporaryDirectory() as tmp:
        for bench in args.benches:
            small = collected(binary, bench, SMALL, f"{tmp}/small.out")
            large = collected(binary, bench, LARGE, f"{tmp}/large.out")
            print(f"{bench:18} {(large - small) / (LARGE - SMALL):8.1f} instructions per iteration", flush=True)
            if args.annotate:
                subprocess.run(["callgrind_annotate", "--inclusive=yes", f"{tmp}/large.out"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
