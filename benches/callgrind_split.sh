#!/usr/bin/env bash
# Splits a callgrind profile from benches/callgrind_server.sh by who owns the function
# (self cost, inlined code counted in the function it was inlined into), per request.
#   benches/callgrind_split.sh benches/out/callgrind.plaintext 2000
set -euo pipefail
callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" 2>/dev/null | grep -v "PROGRAM TOTALS" |
awk -v n="$2" '/^ *[0-9,]+ \(/ {
  ir = $1; gsub(",", "", ir); line = $0
  sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", line)  # drop the count
  fn = line; sub(/^[^:]*:/, "", fn)              # drop the source file
  k = "other"
  if (fn ~ /^<?runicorn::http::|GateIo|gate::/) k = "runicorn gate (src/http, GateIo)"
  else if (fn ~ /runicorn::access_log/) k = "runicorn access log"
  else if (fn ~ /runicorn::/) k = "runicorn server/service"
  else if (fn ~ /^<?hyper::|hyper::proto/) k = "hyper"
  else if (fn ~ /^<?tokio::|tokio::/) k = "tokio"
  else if (fn ~ /^<?http::/) k = "http crate"
  else if (fn ~ /httparse/) k = "httparse"
  else if (line ~ /memcpy|memmove|memset/) k = "memcpy/memset"
  else if (line ~ /malloc|free|realloc/) k = "malloc/free"
  else if (line ~ /libc.so/) k = "libc other"
  else if (fn ~ /memchr/) k = "memchr"
  s[k] += ir; t += ir
} END { for (k in s) printf "%8d  %5.1f%%  %s\n", s[k] / n, 100 * s[k] / t, k; printf "%8d  total\n", t / n }' | sort -rn
