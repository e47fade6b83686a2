#!/usr/bin/env bash
# HTTPS benchmarks: runicorn's examples/hello with TLS (rustls + aws-lc-rs) against nginx
# with the same certificate (certs/server.pem, ECDSA P-256, test-only).
#
# Both servers run one worker pinned to core 0; the load generator runs on core 1.
#  1. keep-alive HTTP/1.1 req/s:  taskset -c 1 wrk -t1 -c64 -dSECS https://...
#  2. handshakes/s:               taskset -c 1 h2load --h1 -H 'Connection: close' -n HS_N -c16
#     (a new TCP connection and TLS 1.3 handshake per request), plus the CPU time per
#     handshake of the server's worker and of h2load, from /proc/PID/stat and `time`: on a
#     shared machine the CPU cost is steadier than the wall-clock rate, and when h2load's
#     CPU per handshake is close to the server's, the rate measures h2load, not the server.
#     Not full handshakes: h2load reuses each client's SSL object (OpenSSL's SSL_clear
#     keeps the session), so after a client's first connection it offers the last ticket
#     and both servers resume (TLS 1.3 PSK with X25519: no certificate signature). Counted
#     for HS_N=2000 with -c16: 16 certificate signatures and 1984 ticket decryptions in
#     runicorn, `$ssl_session_reused` = r on 184 of 200 requests in nginx.
#  3. HTTP/2 req/s:               taskset -c 1 h2load -c16 -m10 -D SECS https://...
# Servers alternate over ROUNDS rounds; medians are reported. The machine is shared and
# noisy: compare the ratios measured in one run, not absolute numbers.
#
# Needs: wrk, h2load (nghttp2-client), nginx (nginx-light), curl. Usage:
#   benches/tls.sh [ROUNDS=3] [SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
HS_N=${HS_N:-4000}
OUT=benches/out
mkdir -p "$OUT"
for tool in wrk h2load nginx curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk nghttp2-client nginx-light curl)"; exit 1; }
done
cargo build --release --example hello >/dev/null 2>&1
TARGET=${CARGO_TARGET_DIR:-target}
HELLO=$TARGET/release/examples/hello
CERT=$PWD/certs/server.pem KEY=$PWD/certs/server.key CA=$PWD/certs/ca.pem
PORT_R=18443 PORT_N=18444

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
    listen 127.0.0.1:$PORT_N ssl http2 reuseport;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    location / { return 200 "Hello, World!"; }
  }
}
CONF

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$NGINX_DIR"; }
trap cleanup EXIT

wait_up() { for _ in $(seq 1 200); do curl -fs --cacert "$CA" "https://localhost:$1/" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start"; exit 1; }
start() {
  case $1 in
    runicorn) taskset -c 0 "$HELLO" -b 127.0.0.1:$PORT_R -w 1 --certfile "$CERT" --keyfile "$KEY" \
                --http-protocols h2,h1 --http2-max-concurrent-streams 100 2>"$OUT/runicorn-tls.log" & PIDS+=($!); wait_up $PORT_R ;;
    nginx)    taskset -c 0 nginx -c "$NGINX_DIR/nginx.conf" 2>/dev/null & PIDS+=($!); wait_up $PORT_N ;;
  esac
}
stop_all() { for p in "${PIDS[@]:-}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=(); }
port_of() { case $1 in runicorn) echo $PORT_R;; nginx) echo $PORT_N;; esac; }
# CPU time (clock ticks) of the server's worker processes (children of the last started pid).
worker_ticks() { local t=0 c; for c in $(cat /proc/"${PIDS[-1]}"/task/"${PIDS[-1]}"/children); do t=$((t + $(awk '{print $14+$15}' /proc/"$c"/stat))); done; echo $t; }
HZ=$(getconf CLK_TCK)

declare -A KA HS H2 US CUS
for round in $(seq 1 "$ROUNDS"); do
  for s in runicorn nginx; do
    start "$s"
    url="https://127.0.0.1:$(port_of "$s")/"
    taskset -c 1 wrk -t1 -c64 -d1s "$url" >/dev/null   # warm-up
    ka=$(taskset -c 1 wrk -t1 -c64 -d"${SECS}s" "$url" | awk '/Requests\/sec/ {print $2}')
    t0=$(worker_ticks)
    # bash's `time` with this format prints h2load's user and system CPU seconds.
    cl=$( { TIMEFORMAT='%3U %3S'; time taskset -c 1 h2load --h1 -H 'Connection: close' -n "$HS_N" -c16 "$url" \
            >"$OUT/h2load-close.txt" 2>/dev/null; } 2>&1 )
    t1=$(worker_ticks)
    hs=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' "$OUT/h2load-close.txt")
    us=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v n="$HS_N" 'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
    cus=$(echo "$cl" | awk -v n="$HS_N" '{printf "%.0f", ($1 + $2) * 1e6 / n}')
    h2=$(taskset -c 1 h2load -c16 -m10 -D "$SECS" "$url" 2>/dev/null | awk '/^finished in/ {gsub(",", "", $4); print $4}')
    KA[$s]+="$ka "; HS[$s]+="$hs "; H2[$s]+="$h2 "; US[$s]+="$us "; CUS[$s]+="$cus "
    echo "round $round  $s  keep-alive $ka req/s  handshakes $hs /s ($us us server CPU, $cus us h2load CPU each)  h2 $h2 req/s"
    stop_all
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a/b : 0)}'; }
{
  echo "| test | runicorn | nginx | runicorn/nginx |"
  echo "|---|---|---|---|"
  for t in KA HS US CUS H2; do
    declare -n arr=$t
    r=$(echo "${arr[runicorn]}" | median); n=$(echo "${arr[nginx]}" | median)
    case $t in KA) name="HTTPS keep-alive req/s (wrk -c64)";; HS) name="TLS handshakes/s, mostly resumed (h2load --h1 -c16, Connection: close)";; US) name="server CPU per handshake, us (lower is better)";; CUS) name="h2load CPU per handshake, us (the load generator's limit)";; H2) name="HTTP/2 req/s (h2load -c16 -m10)";; esac
    echo "| $name | $r | $n | $(ratio "$r" "$n") |"
  done
  echo
  echo "(${ROUNDS} rounds x ${SECS} s per test, one worker on core 0, load on core 1, $(nproc) cores, $(date -u +%F))"
} | tee "$OUT/tls.md"
