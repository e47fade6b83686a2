#!/usr/bin/env bash
# One command for the comparison harness (issue 9): builds runicorn in release mode, runs
# it against bare hyper, nginx, gunicorn and granian, and writes docs/benchmarks.md,
# docs/bench-rps.svg and docs/bench-p99.svg. All options go to benches/run.py (--help).
#   benches/run.sh            3 rounds x 5 s (about 10 minutes)
#   benches/run.sh --quick    1 round x 2 s, a smoke test: the numbers are noise
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "benches/run.py needs Python 3.11 or newer (set PYTHON=...)"; exit 1; }
exec "$PY" benches/run.py "$@"
