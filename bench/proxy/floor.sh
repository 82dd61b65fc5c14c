#!/usr/bin/env bash
# nginx, runway and the floor (bench/proxy/floor.c: a proxy/static server with no user-space work
# beyond relaying bytes) side by side on run.sh's setup, in rounds whose order rotates: req/s, and
# the CPU per request of the server, the upstream and wrk (user + system, from /proc). Shows how
# far the bench lets any server get past nginx: with the two cores shared by wrk and the upstream,
# req/s ≈ 2 cores / (server + upstream + wrk per request).
# Ports 21500-21503.
#
#   bash bench/proxy/floor.sh target/release/proxy-bench           # CASE=api, ROUNDS=6, DUR=5s
#   CASE=js200k bash bench/proxy/floor.sh BIN                      # the 200 KB static file
set -uo pipefail
BIN=$1; CASE=${CASE:-api}; ROUNDS=${ROUNDS:-6}; DUR=${DUR:-5s}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 1; }
command -v cc >/dev/null || { echo "a C compiler is needed for floor.c (apt-get install gcc)" >&2; exit 1; }
. "$HERE/servers.sh"
W=$(mktemp -d /tmp/runway-floor.XXXXXX); mkdir -p $W/logs $W/tmp $W/dist/assets; chmod 755 $W
cc -O2 -pthread -o $W/floor "$HERE/floor.c" || exit 1
python3 "$HERE/static_files.py" "$W/dist"
case $CASE in
  api) URL=/api/health; FLOOR_ARGS="proxy 21503 21500 2" ;;
  js200k) URL=/assets/app-3f9a1c.js; FLOOR_ARGS="static 21503 $W/dist/assets/app-3f9a1c.js 2" ;;
  *) echo "CASE is api or js200k" >&2; exit 2 ;;
esac
trap "kill \$UP \$PX \$FL 2>/dev/null; kill \$(cat \$W/nginx.pid 2>/dev/null) 2>/dev/null; rm -rf \$W" EXIT
runway_toml $W/rw.toml 21502 21500
nginx_conf $W 21501 21500
WORKERS=1 $BIN upstream 127.0.0.1:21500 > $W/logs/up.log 2>&1 & UP=$!
(cd $W && exec $BIN proxy $W/rw.toml > $W/logs/p.log 2>&1) & PX=$!
$W/floor $FLOOR_ARGS > $W/logs/floor.log 2>&1 & FL=$!
nginx -p $W -c $W/nginx.conf -g "daemon on;"
sleep 1
NG="$(cat $W/nginx.pid) $(pgrep -P "$(cat $W/nginx.pid)" | tr '\n' ' ')"
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
HZ=$(getconf CLK_TCK)
NAMES=(nginx runway floor); PORTS=(21501 21502 21503)
# A server that exits mid-run would leave a meaningless row: stop there, keeping the logs.
alive_or_stop() {
  local pid
  for pid in "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$who or the upstream exited (logs in $W/logs)" >&2
      kill $UP $PX $FL 2>/dev/null; kill "$(cat $W/nginx.pid 2>/dev/null)" 2>/dev/null
      trap - EXIT; exit 1
    fi
  done
}
echo "round server req/s server_us upstream_us wrk_us sum_us"
for r in $(seq 1 "$ROUNDS"); do
  for k in 0 1 2; do
    j=$(( (k + r) % 3 )); who=${NAMES[$j]}; port=${PORTS[$j]}
    case $who in nginx) pids=$NG ;; runway) pids=$PX ;; floor) pids=$FL ;; esac
    alive_or_stop $pids $UP
    p0=$(ticks $pids); u0=$(ticks $UP)
    out=$( { /usr/bin/time -f "WRKTIME %U %S" wrk -t2 -c64 -d$DUR http://127.0.0.1:$port$URL; } 2>&1 )
    alive_or_stop $pids $UP
    p1=$(ticks $pids); u1=$(ticks $UP)
    n=$(awk '/requests in/ {print $1}' <<<"$out"); rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    wrk_us=$(awk '/WRKTIME/ {print ($2 + $3) * 1e6}' <<<"$out")
    awk -v r=$r -v who=$who -v rps="$rps" -v n="$n" -v p=$((p1 - p0)) -v u=$((u1 - u0)) -v w="$wrk_us" -v hz="$HZ" 'BEGIN {
      printf "%d %s %.0f %.1f %.1f %.1f %.1f\n", r, who, rps, p / hz * 1e6 / n, u / hz * 1e6 / n, w / n,
        (p + u) / hz * 1e6 / n + w / n }' | tee -a $W/rounds
  done
done
python3 - $W/rounds <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
by = {}
for r, who, rps, s, u, w, total in rows:
    by.setdefault(int(r), {})[who] = (float(rps), float(s), float(total))
print("\nmedians (per round: req/s ratio to nginx's in the same round)")
for who in ("nginx", "runway", "floor"):
    rounds = [by[r] for r in sorted(by) if who in by[r] and "nginx" in by[r]]
    ratios = [x[who][0] / x["nginx"][0] for x in rounds]
    print(f"{who:7s} {st.median(x[who][0] for x in rounds):9,.0f} req/s  server {st.median(x[who][1] for x in rounds):5.1f} us/req"
          f"  all processes {st.median(x[who][2] for x in rounds):5.1f} us/req  vs nginx {st.median(ratios):.2f}x"
          f" (rounds {' / '.join(f'{q:.2f}' for q in ratios)})")
PY
