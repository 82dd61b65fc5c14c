#!/usr/bin/env bash
# Paired A/B of two backend binaries on `GET /api/auth/me`, with pgbench -S in every round, so
# a change is judged against its base under the same host noise (the machine is shared; see
# docs/benchmarks.md, issue 3). Both binaries run at once, on two equal fresh databases of the
# same PostgreSQL; in each round: A and B (order alternating: AB, BA, AB, ...), each a 1 s
# warm-up then `wrk -t2 -c64 -d$DURATION` with a Bearer token, then `pgbench -S -c 64 -j 2`
# for $DURATION. Per run: req/s, p99, CPU µs per request of the server process and of all
# PostgreSQL processes (from /proc, as run.sh counts it), and the CPU steal of the host during
# the run (from /proc/stat). Prints every run and the medians per side.
#
#   bash bench/backend-api/ab.sh BASE_BIN NEW_BIN      # run it under flock /work/bench.lock
#
# Env: PG_URL (default postgres://postgres:postgres@127.0.0.1:5432/postgres), ROUNDS (5),
# DURATION (5s), CONNECTIONS (64), ROUTE (/api/auth/me). Uses ports 43111 and 43112.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 2 ] || { echo "usage: $0 BASE_BIN NEW_BIN" >&2; exit 2; }
BIN_A=$(realpath "$1"); BIN_B=$(realpath "$2")

PG_URL=${PG_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
ROUTE=${ROUTE:-/api/auth/me}
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
OUT=${OUT:-$PWD/bench/results/backend-ab}
mkdir -p "$OUT"
PG_BASE=${PG_URL%/*}
PASSWORD=bench-password-123
SECRET=bench-secret-key-0123456789abcdef0123456789
TICK=$(getconf CLK_TCK)

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for db in runway_ab_a runway_ab_b runway_ab_pgbench; do
    psql "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { # live PostgreSQL processes plus the postmaster's reaped children
  local pm s p
  pm=$(pgrep -o -x postgres) || { echo 0; return; }
  s=$(awk '{print $16+$17}' "/proc/$pm/stat")
  for p in $(pgrep -x postgres); do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}
# "total steal" jiffies of the whole host
stat_cpu() { head -1 /proc/stat | awk '{t=0; for (i=2;i<=NF;i++) t+=$i; print t, $9}'; }
steal_pct() { # "t0 s0" "t1 s1"
  awk -v a="$1" -v b="$2" 'BEGIN { split(a,x," "); split(b,y," "); d=y[1]-x[1]; printf "%.1f", (d>0 ? 100*(y[2]-x[2])/d : 0) }'
}

for db in runway_ab_a runway_ab_b runway_ab_pgbench; do
  psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done

start() { # side bin port → pid
  ADMIN_PASS=$PASSWORD NODE_ENV=dev_stage PORT=$3 SECRET_KEY=$SECRET DATABASE_URL="$PG_BASE/runway_ab_$1" \
    AUTH_RATE_LIMIT_MAX=100000000 RUST_LOG=warn BIND_ADDR=127.0.0.1 \
    "$2" start > "$OUT/$1.log" 2>&1 &
  echo $!
}
PID_A=$(start a "$BIN_A" 43111); PIDS+=("$PID_A")
PID_B=$(start b "$BIN_B" 43112); PIDS+=("$PID_B")
for port in 43111 43112; do
  for _ in $(seq 1 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/api/health" && break; sleep 0.1; done
done
seed_and_token() { # side port → token (100 users, like run.sh)
  local email
  email=$(psql "$PG_BASE/runway_ab_$1" -qAt -c "SELECT email FROM users ORDER BY created_at LIMIT 1")
  psql "$PG_BASE/runway_ab_$1" -q -v ON_ERROR_STOP=1 -c "
    INSERT INTO users (id, email, password_hash, first_name, last_name, role_id, email_verified, disabled, provider, token_version, created_at, updated_at)
    SELECT gen_random_uuid(), 'bench' || g || '@runway.test', u.password_hash, 'First' || g, 'Last' || g, u.role_id, true, false, 'local', 0, now(), now()
    FROM generate_series(1, 100 - (SELECT count(*) FROM users)) g, (SELECT password_hash, role_id FROM users WHERE email = '$email') u" >&2
  curl -fs -X POST -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$PASSWORD\"}" "http://127.0.0.1:$2/api/auth/signin/local" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
TOK_A=$(seed_and_token a 43111); TOK_B=$(seed_and_token b 43112)
"$PGBENCH" -i -q "$PG_BASE/runway_ab_pgbench" > /dev/null 2>&1

# side → "req/s p99_ms server_us pg_us steal%"
run_side() {
  local side=$1 port pid tok s0 p0 s1 p1 c0 c1 f=$OUT/$1-$2.txt
  if [ "$side" = a ]; then port=43111; pid=$PID_A; tok=$TOK_A; else port=43112; pid=$PID_B; tok=$TOK_B; fi
  wrk -t2 -c"$CONNECTIONS" -d1s -H "Authorization: Bearer $tok" "http://127.0.0.1:$port$ROUTE" > /dev/null 2>&1
  c0=$(stat_cpu); s0=$(cpu_ticks "$pid"); p0=$(pg_ticks)
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $tok" "http://127.0.0.1:$port$ROUTE" > "$f" 2>&1
  s1=$(cpu_ticks "$pid"); p1=$(pg_ticks); c1=$(stat_cpu)
  awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v t="$TICK" -v st="$(steal_pct "$c0" "$c1")" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /requests in/ { n=$1 }
    /Requests\/sec/ { rps=$2 }
    $1=="99%" { p99=ms($2) }
    /Non-2xx/ { bad=$4 }
    END { if (bad != "") print "non-2xx: " bad > "/dev/stderr";
          printf "%.0f %.2f %.1f %.1f %s\n", rps, p99, (n>0?s*1e6/t/n:0), (n>0?p*1e6/t/n:0), st }' "$f"
}
run_pgbench() { # → "tps pg_us steal%"
  local p0 c0 c1 f=$OUT/pgbench-$1.txt
  c0=$(stat_cpu); p0=$(pg_ticks)
  PGSSLMODE=disable "$PGBENCH" -S -n -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" "$PG_BASE/runway_ab_pgbench" > "$f" 2>&1
  c1=$(stat_cpu)
  awk -v p=$(( $(pg_ticks) - p0 )) -v t="$TICK" -v st="$(steal_pct "$c0" "$c1")" '
    /^tps/ { tps=$3 } /actually processed/ { n=$NF }
    END { printf "%.0f %.1f %s\n", tps, (n>0 ? p*1e6/t/n : 0), st }' "$f"
}

echo "A = $BIN_A"; echo "B = $BIN_B"; echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round side req/s p99_ms server_us pg_us steal%   | pgbench tps pg_us steal% | ratio A B"
RA=""; RB=""; RP=""; RATIO_A=""; RATIO_B=""
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="a b"; else order="b a"; fi
  for side in $order; do
    r=$(run_side "$side" "$round")
    echo "$round $side $r"
    if [ "$side" = a ]; then RA+="$r"$'\n'; ra=${r%% *}; else RB+="$r"$'\n'; rb=${r%% *}; fi
  done
  p=$(run_pgbench "$round"); RP+="$p"$'\n'
  tps=${p%% *}
  RATIO_A+="$(awk -v a="$ra" -v b="$tps" 'BEGIN{printf "%.1f", 100*a/b}')"$'\n'
  RATIO_B+="$(awk -v a="$rb" -v b="$tps" 'BEGIN{printf "%.1f", 100*a/b}')"$'\n'
  echo "$round pgbench $p | /me as % of pgbench: A $(echo "$RATIO_A" | sed '/^$/d' | tail -1) B $(echo "$RATIO_B" | sed '/^$/d' | tail -1)"
done
med() { printf '%s' "$1" | awk -v c="$2" 'NF {print $c}' | sort -g | awk '{a[NR]=$1} END {printf "%s", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "medians of $ROUNDS rounds ($DURATION each; load at end: $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "| side | req/s | p99 ms | server µs/req | PostgreSQL µs/req | steal % | % of pgbench (paired) |"
echo "|---|---|---|---|---|---|---|"
echo "| A | $(med "$RA" 1) | $(med "$RA" 2) | $(med "$RA" 3) | $(med "$RA" 4) | $(med "$RA" 5) | $(med "$RATIO_A" 1) |"
echo "| B | $(med "$RB" 1) | $(med "$RB" 2) | $(med "$RB" 3) | $(med "$RB" 4) | $(med "$RB" 5) | $(med "$RATIO_B" 1) |"
echo "| pgbench | $(med "$RP" 1) tps | | | $(med "$RP" 2) | $(med "$RP" 3) | |"
echo "RSS after (VmHWM peak) MB: A $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$PID_A/status), B $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$PID_B/status)"
