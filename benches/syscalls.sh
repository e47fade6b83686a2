#!/usr/bin/env bash
# System calls and context switches per request, per thread of a runicorn worker under a
# fixed load: how often the edge and the app's thread wake each other (futex, eventfd
# writes), against the recvfrom and writev every request needs. Counted by `perf stat`
# syscall tracepoints (these work on VMs without hardware counters); needs perf and root.
#
#   benches/syscalls.sh wsgi|flask|asgi|gevent [CONNECTIONS=64] [TARGET=target/release]
#
# The worker runs on core 0, wrk on core 1 (1 s warm-up, then 5 s, of which perf counts
# 4 s); each count is divided by the requests wrk measured over those 4 s.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:?usage: benches/syscalls.sh wsgi|flask|asgi|gevent [CONNECTIONS] [TARGET]}
C=${2:-64}
T=$(realpath "${3:-target/release}")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case $W in
  wsgi) args=(hello_wsgi:app); path=/ ;;
  flask) args=(flask_app:app); path=/json ;;
  asgi) args=(-k asgi hello_asgi:app); path=/ ;;
  gevent) args=(-k gevent --worker-connections 1000 flask_gevent:app); path=/hello ;;
  *) echo "unknown workload $W" >&2; exit 2 ;;
esac
taskset -c 0 "$T/runicorn" -w 1 -b "127.0.0.1:$PORT" --chdir benches/apps "${args[@]}" >"$out/server.log" 2>&1 &
master=$!
trap 'kill $master 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT$path" >/dev/null && break; sleep 0.2; done
worker=$(pgrep -P "$master" | head -1)
taskset -c 1 wrk -t1 -c"$C" -d1 "http://127.0.0.1:$PORT$path" >/dev/null
events=syscalls:sys_enter_futex,syscalls:sys_enter_write,syscalls:sys_enter_read,syscalls:sys_enter_epoll_wait
events=$events,syscalls:sys_enter_recvfrom,syscalls:sys_enter_writev,context-switches
perf stat --per-thread -e "$events" -p "$worker" -o "$out/perf" -- sleep 4 &
perf=$!
taskset -c 1 wrk -t1 -c"$C" -d5 "http://127.0.0.1:$PORT$path" >"$out/wrk"
wait $perf
rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk")
echo "# $W, wrk -c$C: $rps req/s; per request, per thread (threads with none are left out)"
awk -v r="$rps" 'NF >= 3 && $3 ~ /sys|context/ { gsub(",", "", $2); if ($2 > 0) printf "%-24s %-32s %7.3f\n", $1, $3, $2 / (r * 4) }' "$out/perf"
