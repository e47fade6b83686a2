#!/usr/bin/env bash
# Cost of the observability outputs on the hot path: examples/hello req/s with
# --statsd-host (3 datagrams per request) and --metrics-bind (shared-memory counters)
# on vs off, measured in the same run.
#
# One worker pinned to core 0 (`taskset -c 0`), wrk on core 1 (`taskset -c 1 wrk -t1
# -c64`). The StatsD target is a bound UDP socket nobody reads (a collector that keeps
# up costs the server the same sendto; a full buffer only drops on the receiving side).
# Configurations alternate over ROUNDS rounds; the script prints every round, the median
# req/s per configuration, the ratio to "off" and the spread (min..max ratio of the
# per-round pairs), since a shared machine is noisy. It also reports the worker's CPU
# time per request (utime+stime from /proc over the measured run / requests served),
# which other load on the machine disturbs much less than req/s.
#
# Usage: benches/observe.sh [ROUNDS=5] [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-8}
OUT=benches/out
mkdir -p "$OUT"
for tool in wrk curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
cargo build --release --example hello >/dev/null 2>&1
HELLO=${CARGO_TARGET_DIR:-target}/release/examples/hello
PORT=18090 STATSD_PORT=18125 METRICS_PORT=18091

PIDS=()
SINK=""
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true
}
trap cleanup EXIT

python3 -c "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $STATSD_PORT)); time.sleep(100000)" &
SINK=$!

wait_up() { for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server did not start"; exit 1; }

args_of() {
  case $1 in
    off)     echo "" ;;
    statsd)  echo "--statsd-host 127.0.0.1:$STATSD_PORT" ;;
    metrics) echo "--metrics-bind 127.0.0.1:$METRICS_PORT" ;;
    both)    echo "--statsd-host 127.0.0.1:$STATSD_PORT --metrics-bind 127.0.0.1:$METRICS_PORT" ;;
  esac
}

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

CONFIGS="off statsd metrics both"
declare -A CPU
declare -A RESULTS
declare -A RATIOS
for round in $(seq 1 "$ROUNDS"); do
  declare -A THIS
  for c in $CONFIGS; do
    # shellcheck disable=SC2046
    taskset -c 0 "$HELLO" -b 127.0.0.1:$PORT -w 1 $(args_of "$c") 2>"$OUT/observe-$c.log" & PIDS=($!)
    wait_up
    taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:$PORT/" >/dev/null   # warm-up
    W=$(awk '{print $1}' "/proc/${PIDS[0]}/task/${PIDS[0]}/children")
    t0=$(cpu_ticks "$W")
    out=$(taskset -c 1 wrk -t1 -c64 -d"${SECS}s" "http://127.0.0.1:$PORT/")
    t1=$(cpu_ticks "$W")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    us=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
    CPU[$c]+="$us "
    if [ "$c" = metrics ] || [ "$c" = both ]; then
      total=$(curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" | awk '$1 == "runicorn_requests_total" {print $2}')
      echo "round $round  $c  $rps req/s  $us us CPU/req  (scraped runicorn_requests_total=$total)"
    else
      echo "round $round  $c  $rps req/s  $us us CPU/req"
    fi
    THIS[$c]=$rps
    RESULTS[$c]+="$rps "
    kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()
  done
  for c in $CONFIGS; do
    RATIOS[$c]+="$(awk -v a="${THIS[$c]}" -v b="${THIS[off]}" 'BEGIN {printf "%.3f", a/b}') "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minmax() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {print lo ".." hi}'; }
OFF=$(echo "${RESULTS[off]}" | median)
{
  CPU_OFF=$(echo "${CPU[off]}" | median)
  echo "| configuration | median req/s | median/off | per-round ratio min..max | worker CPU us/req (median) | CPU/off |"
  echo "|---|---|---|---|---|---|"
  for c in $CONFIGS; do
    m=$(echo "${RESULTS[$c]}" | median)
    cm=$(echo "${CPU[$c]}" | median)
    echo "| $c | $m | $(awk -v a="$m" -v b="$OFF" 'BEGIN {printf "%.3f", a/b}') | $(echo "${RATIOS[$c]}" | minmax) | $cm | $(awk -v a="$cm" -v b="$CPU_OFF" 'BEGIN {printf "%.2f", a/b}') |"
  done
  echo
  echo "(${ROUNDS} rounds x ${SECS} s, wrk -t1 -c64 on core 1, hello -w 1 on core 0, $(nproc) cores, $(date -u +%F))"
} | tee "$OUT/observe.md"
