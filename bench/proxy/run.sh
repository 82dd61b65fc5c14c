#!/usr/bin/env bash
# runway's proxy vs nginx (Debian's nginx-light, 2 workers) on loopback, same machine, same run.
# Load: wrk, 64 connections, 2 threads. Targets: /api proxied to a fast fixed upstream (and the
# upstream directly, for reference), a static 1 KB index.html and a static 200 KB JS file.
# Each case runs RUNS times, alternating nginx and runway; medians, ratios and the servers' RSS
# under load (nginx: master + workers) are printed as a Markdown table.
#
#   bash bench/proxy/run.sh            # RUNS=5 DURATION=10s by default
#   RUNS=3 DURATION=5s bash bench/proxy/run.sh
#   CASES="api" BIN=path/to/proxy-bench bash bench/proxy/run.sh   # one case, a prebuilt binary
#   UPSTREAM_WORKERS=2 bash bench/proxy/run.sh   # the upstream on 2 threads (default 1, as
#                                                # every figure in docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/proxy/servers.sh

RUNS=${RUNS:-5}
CASES=${CASES:-api index js200k}
DURATION=${DURATION:-10s}
CONNS=64
THREADS=2
UP_PORT=42000
NGINX_PORT=42001
RUNWAY_PORT=42002

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  echo "==> cargo build --release -p proxy-bench" >&2
  cargo build --release -p proxy-bench >&2
  BIN=$PWD/target/release/proxy-bench
fi

WORK=$(mktemp -d /tmp/runway-proxy-bench.XXXXXX)
chmod 755 "$WORK" # nginx's workers run as an unprivileged user
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Static files: a 1 KB index.html and a 200 KB hashed asset.
mkdir -p "$WORK/dist/assets" "$WORK/tmp" "$WORK/logs"
python3 bench/proxy/static_files.py "$WORK/dist"

nginx_conf "$WORK" $NGINX_PORT $UP_PORT

runway_toml "$WORK/runway.toml" $RUNWAY_PORT $UP_PORT

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on :$1" >&2; exit 1
}

WORKERS=${UPSTREAM_WORKERS:-1} "$BIN" upstream 127.0.0.1:$UP_PORT >"$WORK/logs/upstream.log" 2>&1 &
UPSTREAM_PID=$!
PIDS+=($UPSTREAM_PID)
nginx -p "$WORK" -c "$WORK/nginx.conf" -g "daemon on;"
"$BIN" proxy "$WORK/runway.toml" >"$WORK/logs/runway.log" 2>&1 &
RUNWAY_PID=$!
PIDS+=($RUNWAY_PID)
wait_port $UP_PORT; wait_port $NGINX_PORT; wait_port $RUNWAY_PORT

# Sanity: both serve the same bytes.
for port in $NGINX_PORT $RUNWAY_PORT; do
  curl -sf "http://127.0.0.1:$port/api/health" >/dev/null
  [ "$(curl -sf "http://127.0.0.1:$port/" | wc -c)" = 1024 ]
  [ "$(curl -sf "http://127.0.0.1:$port/assets/app-3f9a1c.js" | wc -c)" = 204800 ]
done

rss_kib() { # sum of VmRSS over the given pids
  local total=0 pid kb
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
cpu_ticks() { # utime + stime of the given pids, in clock ticks
  local total=0 pid
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
nginx_pids() {
  local master; master=$(cat "$WORK/nginx.pid")
  echo "$master" $(pgrep -P "$master")
}

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
half=$(( ${DURATION%s} / 2 ))
run() { # name server url  (uses the loop's run number $i)
  local name=$1 server=$2 url=$3 out rss
  local pids
  case $server in
    nginx) pids=$(nginx_pids) ;;
    runway) pids=$RUNWAY_PID ;;
    *) pids=$UPSTREAM_PID ;;
  esac
  ( sleep "$half"; rss_kib $pids >"$WORK/rss" ) &
  local cpu_before; cpu_before=$(cpu_ticks $pids)
  out=$(wrk -t$THREADS -c$CONNS -d"$DURATION" --latency "$url")
  local cpu=$(( $(cpu_ticks $pids) - cpu_before ))
  wait $!
  rss=$(cat "$WORK/rss")
  local rps p50 p99 requests us_per_req
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  # CPU the server spent per request (user + system), robust to other load on the machine.
  us_per_req=$(awk -v t="$cpu" -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors; errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$name" "$server" "$rps" "$p50" "$p99" "$rss" "$us_per_req" "$errors" >>"$RESULTS"
  printf '  %-8s %-7s %10s req/s  p50 %-8s p99 %-8s rss %6s KiB  cpu %6s us/req  load %s %s\n' "$name" "$server" "$rps" "$p50" "$p99" "$rss" "$us_per_req" "$(cut -d' ' -f1 /proc/loadavg)" "$errors" >&2
}

echo "==> load before: $(cat /proc/loadavg)" >&2
for i in $(seq 1 "$RUNS"); do
  echo "==> run $i/$RUNS" >&2
  run api direct "http://127.0.0.1:$UP_PORT/api/health"
  # Interleaved case by case; who goes first alternates between runs.
  order="nginx runway"; [ $((i % 2)) = 0 ] && order="runway nginx"
  for case in $CASES; do
    case $case in
      api) set -- api /api/health ;;
      index) set -- index / ;;
      js200k) set -- js200k /assets/app-3f9a1c.js ;;
      *) echo "unknown case $case (api, index, js200k)" >&2; exit 1 ;;
    esac
    for server in $order; do
      port=$NGINX_PORT; [ $server = runway ] && port=$RUNWAY_PORT
      run "$1" $server "http://127.0.0.1:$port$2"
    done
  done
done
echo "==> load after: $(cat /proc/loadavg)" >&2

python3 - "$RESULTS" "$RUNS" "$DURATION" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def ms(text):
    text = text.strip()
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("nan")
data = {}
for run, name, server, rps, p50, p99, rss, cpu, errors in rows:
    d = data.setdefault((name, server), {"run": [], "rps": [], "p50": [], "p99": [], "rss": [], "cpu": [], "errors": []})
    d["run"].append(run); d["rps"].append(float(rps)); d["p50"].append(ms(p50)); d["p99"].append(ms(p99)); d["rss"].append(int(rss))
    d["cpu"].append(float(cpu))
    if errors.strip(): d["errors"].append(errors.strip())
med = lambda xs: statistics.median(xs)
print(f"runs: {sys.argv[2]} x {sys.argv[3]} per case, wrk -t2 -c64, medians\n")
print("| case | nginx req/s | runway req/s | ratio | nginx p50 | runway p50 | nginx p99 | runway p99 | nginx RSS | runway RSS | nginx CPU/req | runway CPU/req |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, label in (("api", "/api proxied"), ("index", "static 1 KB index.html"), ("js200k", "static 200 KB JS")):
    if (name, "nginx") not in data:
        continue
    n, r = data[(name, "nginx")], data[(name, "runway")]
    print(f"| {label} | {med(n['rps']):,.0f} | {med(r['rps']):,.0f} | {med(r['rps'])/med(n['rps']):.2f}x "
          f"| {med(n['p50']):.2f} ms | {med(r['p50']):.2f} ms "
          f"| {med(n['p99']):.2f} ms | {med(r['p99']):.2f} ms | {med(n['rss'])/1024:.1f} MB | {med(r['rss'])/1024:.1f} MB "
          f"| {med(n['cpu']):.1f} us | {med(r['cpu']):.1f} us |")
# The same ratio run by run: nginx and runway ran back to back in each run, so each pair shared the
# host's state; the spread says how far one run can be trusted.
print("\n| case | runway/nginx per run | median | min | max |")
print("|---|---|---|---|---|")
for name in ("api", "index", "js200k"):
    if (name, "nginx") not in data:
        continue
    n, r = data[(name, "nginx")], data[(name, "runway")]
    nginx_by_run = dict(zip(n["run"], n["rps"]))
    ratios = [rps / nginx_by_run[run] for run, rps in zip(r["run"], r["rps"]) if run in nginx_by_run]
    print(f"| {name} | {' / '.join(f'{x:.2f}' for x in ratios)} | {med(ratios):.2f}x | {min(ratios):.2f}x | {max(ratios):.2f}x |")
d = data[("api", "direct")]
print(f"\nupstream direct (no proxy): {med(d['rps']):,.0f} req/s, p50 {med(d['p50']):.2f} ms, p99 {med(d['p99']):.2f} ms, "
      f"upstream CPU {med(d['cpu']):.1f} us/req")
errs = {k: v["errors"] for k, v in data.items() if v["errors"]}
if errs:
    print(f"\nerrors reported by wrk: {errs}")
PY
