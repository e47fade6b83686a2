#!/usr/bin/env bash
# Compare runicorn's examples/hello with a bare hyper server and nginx `return 200`.
#
# Each server runs with one worker pinned to core 0 (`taskset -c 0`); wrk runs on core 1
# (`taskset -c 1 wrk -t1 -c64`). Servers alternate over ROUNDS rounds and the script
# reports the median req/s per server and the ratios, plus runicorn's start-up time to
# the first 200 with 2 workers and the RSS of an idle worker. Absolute numbers on a
# shared machine are noise; the ratios measured in one run are the result.
#
# Needs: wrk, nginx (apt-get install wrk nginx-light), curl. Usage:
#   benches/compare.sh [ROUNDS=5] [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-8}
OUT=benches/out
mkdir -p "$OUT"
for tool in wrk nginx curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nginx-light curl)"; exit 1; }
done
cargo build --release --example hello --example bare_hyper >/dev/null 2>&1
HELLO=target/release/examples/hello
BARE=target/release/examples/bare_hyper
PORT_R=18080 PORT_H=18081 PORT_N=18082

NGINX_DIR=$(mktemp -d)
cat > "$NGINX_DIR/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path $NGINX_DIR;
  server {
    listen 127.0.0.1:$PORT_N reuseport;
    keepalive_requests 1000000;
    location / { return 200 "Hello, World!"; }
  }
}
CONF

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$NGINX_DIR"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$1/" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start"; exit 1; }

start() {
  case $1 in
    runicorn) taskset -c 0 "$HELLO" -b 127.0.0.1:$PORT_R -w 1 2>"$OUT/runicorn.log" & PIDS+=($!); wait_up $PORT_R ;;
    hyper)    taskset -c 0 "$BARE" 127.0.0.1:$PORT_H & PIDS+=($!); wait_up $PORT_H ;;
    nginx)    taskset -c 0 nginx -c "$NGINX_DIR/nginx.conf" & PIDS+=($!); wait_up $PORT_N ;;
  esac
}
stop_all() { for p in "${PIDS[@]:-}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
port_of() { case $1 in runicorn) echo $PORT_R;; hyper) echo $PORT_H;; nginx) echo $PORT_N;; esac; }

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  for s in runicorn hyper nginx; do
    start "$s"
    taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$(port_of "$s")/" >/dev/null   # warm-up
    rps=$(taskset -c 1 wrk -t1 -c64 -d"${SECS}s" "http://127.0.0.1:$(port_of "$s")/" | awk '/Requests\/sec/ {print $2}')
    RESULTS[$s]+="$rps "
    echo "round $round  $s  $rps req/s"
    stop_all
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
R=$(echo "${RESULTS[runicorn]}" | median); H=$(echo "${RESULTS[hyper]}" | median); N=$(echo "${RESULTS[nginx]}" | median)

# Start-up time to the first 200 with 2 workers (median of 5).
STARTS=""
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  "$HELLO" -b 127.0.0.1:$PORT_R -w 2 2>/dev/null & p=$!
  until curl -fs "http://127.0.0.1:$PORT_R/" >/dev/null 2>&1; do sleep 0.002; done
  t1=$(date +%s%N)
  STARTS+="$(( (t1 - t0) / 1000000 )) "
  kill -TERM $p; wait $p 2>/dev/null || true
done
START_MS=$(echo "$STARTS" | median)

# RSS of an idle worker.
"$HELLO" -b 127.0.0.1:$PORT_R -w 2 2>/dev/null & p=$!
wait_up $PORT_R; sleep 1
W=$(cat /proc/$p/task/$p/children | awk '{print $1}')
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$W/status)
kill -TERM $p; wait $p 2>/dev/null || true

{
  echo "| server | median req/s | ratio runicorn/server |"
  echo "|---|---|---|"
  echo "| runicorn examples/hello | $R | 1.00 |"
  echo "| bare hyper | $H | $(awk -v a="$R" -v b="$H" 'BEGIN {printf "%.3f", a/b}') |"
  echo "| nginx return 200 | $N | $(awk -v a="$R" -v b="$N" 'BEGIN {printf "%.3f", a/b}') |"
  echo
  echo "start-up to first 200 (2 workers, median of 5): ${START_MS} ms"
  echo "idle worker RSS: ${RSS_KB} kB"
  echo "(${ROUNDS} rounds x ${SECS} s, wrk -t1 -c64 on core 1, servers on core 0, $(nproc) cores, $(date -u +%F))"
} | tee "$OUT/compare.md"
