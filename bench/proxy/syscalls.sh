#!/usr/bin/env bash
# System calls, epoll waits, context switches and CPU per proxied request of each process on the
# /api path — wrk, the upstream and the proxy (nginx's workers, then runway) — with `perf stat`
# attached to each process in turn under the same load. Shows whether any of them does more
# kernel round trips than one recv and one send per message (run.sh's servers, from
# servers.sh). Needs perf (apt-get install linux-perf) and root. Ports 21600-21602.
# The syscall tracepoints slow every traced process (req/s about half of run.sh's, CPU per
# request inflated alike): read the counts per request, and compare times only within a run.
#
#   bash bench/proxy/syscalls.sh target/release/proxy-bench        # ROUNDS=2, DUR=5 (seconds)
set -uo pipefail
BIN=$1; ROUNDS=${ROUNDS:-2}; DUR=${DUR:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
for tool in wrk nginx perf; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
. "$HERE/servers.sh"
W=$(mktemp -d /tmp/runway-syscalls.XXXXXX); mkdir -p $W/logs $W/tmp $W/dist/assets; chmod 755 $W
python3 "$HERE/static_files.py" "$W/dist"
trap "kill \$UP \$PX 2>/dev/null; kill \$(cat \$W/nginx.pid 2>/dev/null) 2>/dev/null; rm -rf \$W" EXIT
nginx_conf $W 21601 21600; runway_toml $W/rw.toml 21602 21600
WORKERS=1 $BIN upstream 127.0.0.1:21600 > $W/logs/up.log 2>&1 & UP=$!
(cd $W && exec $BIN proxy $W/rw.toml > $W/logs/p.log 2>&1) & PX=$!
nginx -p $W -c $W/nginx.conf -g "daemon on;"
sleep 1
NG=$(pgrep -P "$(cat $W/nginx.pid)" | paste -sd,)
EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_epoll_wait,context-switches,task-clock
echo "server process req/s syscalls/req epoll_wait/req switches/req cpu_us/req"
for _ in $(seq 1 "$ROUNDS"); do
  for server in nginx runway; do
    if [ $server = nginx ]; then port=21601 proxy=$NG; else port=21602 proxy=$PX; fi
    wrk -t2 -c64 -d$((DUR + 1))s http://127.0.0.1:$port/api/health > $W/wrk.out & WRK=$!
    sleep 0.5
    for who in wrk:$(pgrep -x wrk | head -1) upstream:$UP proxy:$proxy; do
      perf stat -x, -e $EVENTS -p "${who#*:}" -- sleep $((DUR - 1)) 2> $W/perf-${who%%:*} &
    done
    wait $WRK; sleep 0.3
    rps=$(awk '/Requests\/sec/ {print $2}' $W/wrk.out)
    for who in wrk upstream proxy; do
      awk -F, -v server=$server -v who=$who -v rps="$rps" -v secs=$((DUR - 1)) '
        /,/ { per[$3] = $1 / (rps * secs) }
        END { printf "%s %s %.0f %.2f %.2f %.2f %.1f\n", server, who, rps,
          per["raw_syscalls:sys_enter"], per["syscalls:sys_enter_epoll_wait"],
          per["context-switches"], per["task-clock"] * 1e3 }' $W/perf-$who
    done
  done
done
