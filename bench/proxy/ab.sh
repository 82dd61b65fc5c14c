#!/usr/bin/env bash
# Paired A/B of two proxy-bench builds and nginx on /api (proxied to a fixed upstream), the three
# interleaved round by round so they share the machine's load: req/s, CPU per request (user +
# system of the server, from /proc/PID/stat), p99, load average. Ports 21100-21103 (outside the
# kernel's ephemeral range, so no outgoing connection holds them).
#
#   bash bench/proxy/ab.sh OLD/proxy-bench NEW/proxy-bench        # ROUNDS=4 DUR=5s
#   WA=2 WB=1 bash bench/proxy/ab.sh BIN BIN                      # same build, 2 vs 1 workers
#   URL=/assets/app-3f9a1c.js bash bench/proxy/ab.sh OLD NEW       # run.sh's 200 KB static file
#                                                                 # (URL=/ for its 1 KB index)
# CPU/req is also split into user and system time (the last two columns). Who runs first rotates
# each round; the summary gives medians and the B/A, A/nginx, B/nginx ratios round by round.
set -uo pipefail
trap "kill \$UP \$PA \$PB 2>/dev/null; kill \$(cat \$W/nginx.pid) 2>/dev/null; rm -rf \$W" EXIT
A=$1; B=$2; ROUNDS=${ROUNDS:-4}; DUR=${DUR:-5s}
. "$(dirname "$0")/servers.sh"
W=$(mktemp -d /tmp/runway-proxy-ab.XXXXXX); mkdir -p $W/dist $W/logs $W/tmp; chmod 755 $W
URL=${URL:-/api/health}
# run.sh's static files: a 1 KB index.html and a 200 KB hashed asset.
mkdir -p $W/dist/assets
python3 "$(dirname "$0")/static_files.py" "$W/dist"
runway_toml $W/rw21102.toml 21102 21100 "${WA:-2}"
runway_toml $W/rw21103.toml 21103 21100 "${WB:-2}"
nginx_conf $W 21101 21100
WORKERS=1 $A upstream 127.0.0.1:21100 > $W/logs/up.log 2>&1 & UP=$!
(cd $W && exec $A proxy $W/rw21102.toml > $W/logs/a.log 2>&1) & PA=$!
(cd $W && exec $B proxy $W/rw21103.toml > $W/logs/b.log 2>&1) & PB=$!
nginx -p $W -c $W/nginx.conf -g "daemon on;"
sleep 1
NG="$(cat $W/nginx.pid) $(pgrep -P $(cat $W/nginx.pid) | tr '\n' ' ')"
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
uticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14}' /proc/$p/stat))); done; echo $t; }
one() { # name port pids...
  local name=$1 port=$2; shift 2
  local before=$(ticks "$@") ubefore=$(uticks "$@")
  out=$(wrk -t2 -c64 -d$DUR --latency http://127.0.0.1:$port$URL)
  local t=$(( $(ticks "$@") - before )) u=$(( $(uticks "$@") - ubefore ))
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%s %s %.2f %s %s %.2f %.2f\n' "$name" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk -v t=$t -v n=$n 'BEGIN{print t/100*1e6/n}')" "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(cut -d' ' -f1 /proc/loadavg)" "$(awk -v t=$u -v n=$n 'BEGIN{print t/100*1e6/n}')" "$(awk -v t=$((t - u)) -v n=$n 'BEGIN{print t/100*1e6/n}')"
}
echo "name rps cpu_us_per_req p99 load user_us sys_us"
for i in $(seq 1 $ROUNDS); do
  # Who goes first rotates from round to round, so no one always runs on the heels of another.
  case $((i % 3)) in
    1) order="A B nginx" ;;
    2) order="B nginx A" ;;
    0) order="nginx A B" ;;
  esac
  for name in $order; do
    case $name in
      A) one A 21102 $PA ;;
      B) one B 21103 $PB ;;
      nginx) one nginx 21101 $NG ;;
    esac
  done | tee -a $W/rounds
done
# Medians, and the ratios round by round (each round's three ran back to back on the same host
# state, so their ratio is steadier than a ratio of medians).
python3 - $W/rounds $ROUNDS <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rounds = int(sys.argv[2])
by = {}
for name, rps, cpu, *_ in rows:
    by.setdefault(name, []).append((float(rps), float(cpu)))
print(f"\nmedians of {rounds} rounds:")
for name in ("A", "B", "nginx"):
    xs = by.get(name, [])
    if xs:
        print(f"  {name:6s} {st.median(r for r, _ in xs):9.0f} req/s  {st.median(c for _, c in xs):6.2f} us CPU/req")
def ratios(a, b):
    return [x[0] / y[0] for x, y in zip(by[a], by[b])]
for a, b in (("B", "A"), ("A", "nginx"), ("B", "nginx")):
    rs = ratios(a, b)
    print(f"  {a}/{b} req/s by round: median {st.median(rs):.3f}  ({' '.join(f'{r:.2f}' for r in rs)})")
PY
