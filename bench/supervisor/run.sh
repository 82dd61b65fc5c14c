#!/usr/bin/env bash
# Supervisor benchmark (issue 4): PM2 vs runway, same machine, same run. Not a test.
#   bash bench/supervisor/run.sh          # BENCH_RUNS=N to change the number of runs (default 10)
set -euo pipefail
cd "$(dirname "$0")"
[ -x node_modules/.bin/pm2 ] || npm ci --no-audit --no-fund
(cd ../.. && cargo build --release -p runway)
exec python3 bench.py
