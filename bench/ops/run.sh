#!/usr/bin/env bash
# runway up / deploy / rollback figures (issue 6). Not a test.
#   bash bench/ops/run.sh                 # BENCH_RUNS (warm ups, default 5), BENCH_DEPLOYS (default 10)
#   BACKEND_BIN=path/to/backend bash bench/ops/run.sh    # reuse a built backend
#   bash bench/ops/run.sh cold            # also: fresh clone -> ready, with a cold cargo build
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p runway -p backend
if [ "${1:-}" = cold ]; then
  # A whole fresh clone, as a new developer runs it: README's first command until the banner.
  tmp=$(mktemp -d)
  git clone -q . "$tmp/app"
  cd "$tmp/app"
  sed -i 's/127.0.0.1:8080/127.0.0.1:45080/; s/127.0.0.1:3000/127.0.0.1:45030/; s/"3000"/"45030"/; s/port = 3000/port = 45030/; s/"3001"/"45031"/; s/port = 3001/port = 45031/' runway.toml
  start=$(date +%s.%N)
  (cargo run --release -- up > up.log 2>&1 &)
  until grep -q "open http://" up.log 2>/dev/null; do sleep 1; done
  end=$(date +%s.%N)
  echo "fresh clone -> ready (cold build): $(echo "$end - $start" | bc) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  target/release/runway down
  cd - >/dev/null
  rm -rf "$tmp"
fi
exec nice python3 bench/ops/bench.py
