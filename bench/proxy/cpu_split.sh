#!/usr/bin/env bash
# Where the 2 cores go per proxied request: the proxy's CPU, the upstream's and wrk's (each user +
# system, per request served), and how idle the machine was, for nginx and runway in turn on
# /api/health (run.sh's servers, from servers.sh: 2 nginx workers, runway `workers = 2`, one
# fixed upstream; wrk -t2 -c64). With the cores saturated, req/s ≈ 2 cores / (sum of the three),
# so this shows how much of a req/s ratio comes from the proxy itself and how much from what it
# costs the others.
# Ports 21400-21402.
#
#   bash bench/proxy/cpu_split.sh target/release/proxy-bench          # ROUNDS=3, DUR=5s
#   RUNWAY_WORKERS=1 bash bench/proxy/cpu_split.sh BIN                 # runway's thread count
#   UPSTREAM_WORKERS=2 bash bench/proxy/cpu_split.sh BIN               # the upstream on 2 threads
set -uo pipefail
BIN=$1; ROUNDS=${ROUNDS:-3}; DUR=${DUR:-5s}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
. "$(dirname "$0")/servers.sh"
W=$(mktemp -d /tmp/runway-cpu-split.XXXXXX); mkdir -p $W/logs $W/tmp $W/dist/assets; chmod 755 $W
python3 "$(dirname "$0")/static_files.py" "$W/dist"
trap "kill \$UP \$PX 2>/dev/null; kill \$(cat \$W/nginx.pid 2>/dev/null) 2>/dev/null; rm -rf \$W" EXIT
runway_toml $W/rw.toml 21402 21400 "${RUNWAY_WORKERS:-2}"
nginx_conf $W 21401 21400
WORKERS=${UPSTREAM_WORKERS:-1} $BIN upstream 127.0.0.1:21400 > $W/logs/up.log 2>&1 & UP=$!
(cd $W && exec $BIN proxy $W/rw.toml > $W/logs/p.log 2>&1) & PX=$!
nginx -p $W -c $W/nginx.conf -g "daemon on;"
sleep 1
NG="$(cat $W/nginx.pid) $(pgrep -P "$(cat $W/nginx.pid)" | tr '\n' ' ')"
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
HZ=$(getconf CLK_TCK)
echo "server req/s proxy_us upstream_us wrk_us sum_us idle steal"
for _ in $(seq 1 "$ROUNDS"); do
  for who in nginx runway; do
    if [ $who = runway ]; then port=21402; pids=$PX; else port=21401; pids=$NG; fi
    p0=$(ticks $pids); u0=$(ticks $UP); read -r _ _ _ _ i1 w1 _ _ st1 _ < /proc/stat
    out=$( { /usr/bin/time -f "WRKTIME %U %S" wrk -t2 -c64 -d$DUR http://127.0.0.1:$port/api/health; } 2>&1 )
    p1=$(ticks $pids); u1=$(ticks $UP); read -r _ _ _ _ i2 w2 _ _ st2 _ < /proc/stat
    n=$(awk '/requests in/ {print $1}' <<<"$out"); rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    wrk_us=$(awk '/WRKTIME/ {print ($2 + $3) * 1e6}' <<<"$out")
    awk -v who=$who -v rps="$rps" -v n="$n" -v p=$((p1 - p0)) -v u=$((u1 - u0)) -v w="$wrk_us" -v hz="$HZ" \
      -v idle=$(( (i2 - i1) + (w2 - w1) )) -v steal=$((st2 - st1)) -v secs="${DUR%s}" 'BEGIN {
        all = 2 * secs * hz
        printf "%s %.0f %.1f %.1f %.1f %.1f %.1f%% %.1f%%\n", who, rps, p / hz * 1e6 / n, u / hz * 1e6 / n, w / n,
          (p + u) / hz * 1e6 / n + w / n, idle / all * 100, steal / all * 100 }'
  done
done
