#!/usr/bin/env bash
# Cold and warm create → first exec (BENCHMARKS.md), against a release build in .build/release; run as root.
set -uo pipefail
cd "$(dirname "$0")/.."
H=.build/release/hearth
L=${BENCH_LOG_DIR:-/tmp}   # where the servers' logs go
serve() { local d=$1 p=$2; shift 2
  $H serve --data $d --listen 127.0.0.1:$p "$@" > $L/serve-$p.log 2>&1 & SP=$!
  for i in $(seq 1 600); do curl -sf http://127.0.0.1:$p/v1/health >/dev/null && break; sleep 0.5; done
  for i in $(seq 1 600); do ls -d $d/images/sha256-*/rootfs/bin >/dev/null 2>&1 && break; sleep 0.5; done
}
stop() { kill -INT $SP; wait $SP; }
echo "== gvisor cold $(date -u +%T) $(git rev-parse --short HEAD)"
serve /tmp/hb 7180
python3 bench/bench.py --url http://127.0.0.1:7180 --data /tmp/hb --n 50 --only create
python3 bench/bench.py --url http://127.0.0.1:7180 --data /tmp/hb --n 50 --only create
stop
echo "== gvisor warm $(date -u +%T)"
serve /tmp/hb 7180 --warm-pool 4
python3 bench/bench.py --url http://127.0.0.1:7180 --data /tmp/hb --n 50 --only create --label warm
stop
echo "== done $(date -u +%T)"
