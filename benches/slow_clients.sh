#!/usr/bin/env bash
# Hello throughput with and without 200 slow clients (half trickling headers, half
# trickling bodies at 1 byte/s) against ONE runicorn worker pinned to core 0; wrk and the
# slow clients run on core 1. Reports the throughput ratio and how many slow clients were
# cut off within 25 s. Usage: benches/slow_clients.sh [SECONDS=10]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
PORT=18090
cargo build --release --example hello --example slow_clients >/dev/null 2>&1
taskset -c 0 target/release/examples/hello -b 127.0.0.1:$PORT -w 1 2>/dev/null & PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:$PORT/ >/dev/null 2>&1 && break; sleep 0.05; done
taskset -c 1 wrk -t1 -c64 -d2s http://127.0.0.1:$PORT/ >/dev/null
BASE=$(taskset -c 1 wrk -t1 -c64 -d${SECS}s http://127.0.0.1:$PORT/ | awk '/Requests\/sec/ {print $2}')
taskset -c 1 target/release/examples/slow_clients 127.0.0.1:$PORT 200 30 > /tmp/slow_clients.out & SC=$!
sleep 2
LOADED=$(taskset -c 1 wrk -t1 -c64 -d${SECS}s http://127.0.0.1:$PORT/ | awk '/Requests\/sec/ {print $2}')
wait $SC
echo "hello req/s without slow clients: $BASE"
echo "hello req/s with 200 slow clients: $LOADED"
echo "ratio: $(awk -v a="$LOADED" -v b="$BASE" 'BEGIN {printf "%.3f", a/b}')"
cat /tmp/slow_clients.out
