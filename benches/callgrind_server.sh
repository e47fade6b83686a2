#!/usr/bin/env bash
# Instructions per request of a server worker, counted by callgrind (deterministic: the
# count does not depend on how busy this shared machine is). The worker runs under
# valgrind with instrumentation off while it boots; it is switched on for a fixed
# number of requests (a small Python client sends exactly N on one keep-alive
# connection, after 50 uncounted ones), then off. Kernel time is not counted.
#
#   benches/callgrind_server.sh plaintext|wsgi|accesslog|asgi|gevent [N=2000]
#
# Prints instructions per request and leaves the profile in benches/out/callgrind.<workload>
# for callgrind_annotate. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOAD=${1:?plaintext|wsgi|accesslog|asgi|gevent}
URL=/
N=${2:-2000}
TARGET=${CARGO_TARGET_DIR:-target}/release
PORT=${PORT:-8490}
OUT=benches/out
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp/pid" 2>/dev/null) 2>/dev/null; rm -rf "$tmp"' EXIT
case "$WORKLOAD" in
  plaintext) cmd=("$TARGET/examples/hello" -b "127.0.0.1:$PORT" -w 1) ;;
  accesslog) cmd=("$TARGET/examples/hello" -b "127.0.0.1:$PORT" -w 1 --access-logfile "$tmp/access.log") ;;
  wsgi) cmd=("$TARGET/runicorn" --chdir benches/apps hello_wsgi:app -b "127.0.0.1:$PORT" -w 1) ;;
  asgi) cmd=("$TARGET/runicorn" --chdir benches/apps hello_asgi:app -b "127.0.0.1:$PORT" -w 1 -k asgi) ;;
  # The gevent row's Flask hello, one worker: the hub thread and the edge together.
  gevent) cmd=("$TARGET/runicorn" --chdir benches/apps flask_gevent:app -b "127.0.0.1:$PORT" -w 1 -k gevent)
    URL=/hello ;;
  *) echo "unknown workload $WORKLOAD"; exit 2 ;;
esac
# The master forks the worker; valgrind follows children and only the worker's file
# matters (the one with the most instructions).
valgrind --tool=callgrind --trace-children=yes --instr-atstart=no \
  --callgrind-out-file="$tmp/cg.%p" "${cmd[@]}" >"$tmp/server.log" 2>&1 &
echo $! >"$tmp/pid"
python3 - "$PORT" "$N" "$tmp" "$URL" <<'PY'
import socket, subprocess, sys, time, glob
port, n, tmp, url = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
req = b"GET " + url.encode() + b" HTTP/1.1\r\nHost: bench\r\nUser-Agent: callgrind\r\nAccept: */*\r\n\r\n"
def connect():
    for _ in range(600):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            time.sleep(0.1)
    sys.exit("server did not start")
def one(s, buf):
    s.sendall(req)
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length"))
            while len(rest) < length:
                rest += s.recv(65536)
            return rest[length:]
        buf += s.recv(65536)
s = connect()
buf = b""
for _ in range(50):  # warm up: caches, lazily built tables
    buf = one(s, buf)
subprocess.run(["callgrind_control", "-i", "on"], check=True, capture_output=True)
for _ in range(n):
    buf = one(s, buf)
subprocess.run(["callgrind_control", "-i", "off"], check=True, capture_output=True)
subprocess.run(["callgrind_control", "-d"], check=True, capture_output=True)
time.sleep(1)
PY
best="" max=0
for f in "$tmp"/cg.*; do
  ir=$(grep -m1 '^totals:' "$f" | awk '{print $2}' || true)
  if [ -n "$ir" ] && [ "$ir" -gt "$max" ]; then max=$ir; best=$f; fi
done
cp "$best" "$OUT/callgrind.$WORKLOAD"
echo "$WORKLOAD: $(( max / N )) instructions per request ($max over $N requests; profile in $OUT/callgrind.$WORKLOAD)"
