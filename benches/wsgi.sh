#!/usr/bin/env bash
# WSGI throughput and memory: runicorn vs Granian vs Gunicorn gthread, one worker each.
#
#   benches/wsgi.sh            # hello world and the Flask JSON endpoint, all three servers
#
# The server is pinned to CPU 0 and wrk to CPU 1 (`taskset`), one worker, 64 keep-alive
# connections for 5 s; each row is the best of RUNS runs (the machine is noisy). RSS is
# the worker's resident set after the warm-up run (idle). Needs: wrk, granian, gunicorn,
# flask (pip), and a release build (built here).
#
# Measured 2026-11-24 on the shared 2-vCPU dev box (noisy: other builds running; best of
# 2-3 runs per row, three sessions; ranges where sessions disagreed):
#   hello     runicorn sync 25-51k, gthread-4 22-40k; granian 6-55k (bimodal);
#             gunicorn gthread-4 6.5-8.7k req/s
#   Flask     runicorn sync 8.6-8.9k, gthread-4 8.9-9.8k; granian 3.6-4.0k;
#             gunicorn gthread-4 3.9-4.3k req/s
#   worker RSS, idle after boot: runicorn 15 MiB (hello) / 32 MiB (Flask); gunicorn 19 MiB;
#             granian 24 MiB. Masters: runicorn 6.6 MiB, gunicorn 26 MiB, granian 28 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
RUNICORN=$CARGO_TARGET_DIR/release/runicorn
APPS=$PWD/tests/apps
RUNS=${RUNS:-3}
PORT=${PORT:-18600}

# Prints the newest child of $1 (the worker), or $1 itself when it has none (granian's
# worker is a child too; for servers that serve in-process this is the server).
worker_of() {
    local kids
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' | tail -1 || true)
    echo "${kids:-$1}"
}

bench() {  # name app path -- command...
    local name=$1 path=$2; shift 2
    taskset -c 0 "$@" >/tmp/wsgi-bench-$name.log 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT$path" >/dev/null && break; sleep 0.1; done
    taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:$PORT$path" >/dev/null  # warm-up
    local w rss best=0
    w=$(worker_of "$pid")
    rss=$(awk '/VmRSS/ {print $2}' /proc/"$w"/status)
    for _ in $(seq "$RUNS"); do
        local r
        r=$(taskset -c 1 wrk -t1 -c64 -d5s "http://127.0.0.1:$PORT$path" | awk '/Requests\/sec/ {print int($2)}')
        (( r > best )) && best=$r
    done
    printf '%-28s %10s req/s   worker RSS %6s KiB\n' "$name" "$best" "$rss"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    sleep 0.5
}

B=127.0.0.1:$PORT
echo "== hello world (tests/apps/hello.py)"
bench runicorn-sync       / "$RUNICORN" --chdir "$APPS" -w 1 -b "$B" hello:app
bench runicorn-gthread-4  / "$RUNICORN" --chdir "$APPS" -w 1 --threads 4 -b "$B" hello:app
bench granian             / granian --interface wsgi --workers 1 --host 127.0.0.1 --port "$PORT" --working-dir "$APPS" hello:app
bench gunicorn-gthread-4  / gunicorn -k gthread --threads 4 -w 1 -b "$B" --chdir "$APPS" hello:app

echo "== Flask JSON endpoint (tests/apps/flask_app.py, GET /json)"
bench runicorn-sync       /json "$RUNICORN" --chdir "$APPS" -w 1 -b "$B" flask_app:app
bench runicorn-gthread-4  /json "$RUNICORN" --chdir "$APPS" -w 1 --threads 4 -b "$B" flask_app:app
bench granian             /json granian --interface wsgi --workers 1 --host 127.0.0.1 --port "$PORT" --working-dir "$APPS" flask_app:app
bench gunicorn-gthread-4  /json gunicorn -k gthread --threads 4 -w 1 -b "$B" --chdir "$APPS" flask_app:app
