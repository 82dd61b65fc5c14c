#!/usr/bin/env bash
# Backend API benchmark: the Rust backend and the Express + Sequelize peer (bench/peers/express)
# side by side, in one run, on the same PostgreSQL, with wrk (64 connections, loopback), plus
# pgbench -S at the same connection count as the one-query ceiling. All three reach PostgreSQL
# over plain TCP on loopback (no TLS), so the ceiling is like for like. Prints a markdown table,
# with CPU time per request of the server and of PostgreSQL (from /proc) next to the rates.
#
#   bash bench/backend-api/run.sh            # needs PostgreSQL (PG_URL), wrk, node, pgbench
#
# Env: PG_URL (default postgres://postgres:postgres@127.0.0.1:5432/postgres), DURATION (10s), RUNS (3),
# CONNECTIONS (64), RUST_PORT (43101), EXPRESS_PORT (43180), BACKEND_BIN (a prebuilt backend
# binary to measure, e.g. a copy of an earlier build; default: build target/release/backend).
# Uses ports 43100-43199 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PG_URL=${PG_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
DURATION=${DURATION:-10s}
RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-64}
RUST_PORT=${RUST_PORT:-43101}
EXPRESS_PORT=${EXPRESS_PORT:-43180}
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
OUT=${OUT:-$ROOT/bench/results/backend-api}
mkdir -p "$OUT"

PG_BASE=${PG_URL%/*}
RUST_DB=runway_bench_rust
EXPRESS_DB=runway_bench_express
PGBENCH_DB=runway_bench_pgbench
PASSWORD=bench-password-123
SECRET=bench-secret-key-0123456789abcdef0123456789

say() { printf '\n==> %s\n' "$*" >&2; }
psql_admin() { psql "$PG_URL" -qAt -v ON_ERROR_STOP=1 "$@"; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 200); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "server at $1 did not come up" >&2; return 1
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
hwm_mb() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

# CPU time (clock ticks) of a process, and of every PostgreSQL process: the live ones plus
# the postmaster's reaped children (backends that exited during the run).
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local pm s p
  pm=$(pgrep -o -x postgres) || { echo 0; return; }
  s=$(awk '{print $16+$17}' "/proc/$pm/stat")
  for p in $(pgrep -x postgres); do s=$((s + $(cpu_ticks "$p"))); done
  echo "$s"
}

# wrk → "req/s p50_ms p99_ms non2xx server_us_per_req postgres_us_per_req"
run_wrk() { # name url server_pid [extra wrk args...]
  local name=$1 url=$2 pid=$3 s0 p0 s1 p1; shift 3
  s0=$(cpu_ticks "$pid"); p0=$(pg_ticks)
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" > "$OUT/$name.txt" 2>&1
  s1=$(cpu_ticks "$pid"); p1=$(pg_ticks)
  awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v t="$TICK" '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /requests in/ { n=$1 }
    /Requests\/sec/ { rps=$2 }
    $1=="50%" { p50=ms($2) }
    $1=="99%" { p99=ms($2) }
    /Non-2xx/ { bad=$4 }
    END { printf "%.0f %.2f %.2f %s %.0f %.0f\n", rps, p50, p99, (bad==""?0:bad), (n>0?s*1e6/t/n:0), (n>0?p*1e6/t/n:0) }' "$OUT/$name.txt"
}

say "databases: $RUST_DB, $EXPRESS_DB, $PGBENCH_DB (recreated)"
for db in $RUST_DB $EXPRESS_DB $PGBENCH_DB; do
  psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
done

BACKEND_BIN=${BACKEND_BIN:-}
if [ -z "$BACKEND_BIN" ]; then
  say "build: cargo build --release -p backend"
  cargo build --release -p backend >&2
  BACKEND_BIN=$ROOT/target/release/backend
fi

say "start the Rust backend on :$RUST_PORT"
export ADMIN_PASS=$PASSWORD
NODE_ENV=dev_stage PORT=$RUST_PORT SECRET_KEY=$SECRET DATABASE_URL="$PG_BASE/$RUST_DB" \
  AUTH_RATE_LIMIT_MAX=100000000 RUST_LOG=warn BIND_ADDR=127.0.0.1 \
  "$BACKEND_BIN" start > "$OUT/rust.log" 2>&1 &
RUST_PID=$!; PIDS+=("$RUST_PID")
wait_http "http://127.0.0.1:$RUST_PORT/api/health"

# Same number of users on both sides (the Express peer seeds 100).
ADMIN_EMAIL=$(psql "$PG_BASE/$RUST_DB" -qAt -c "SELECT email FROM users ORDER BY created_at LIMIT 1")
psql "$PG_BASE/$RUST_DB" -q -v ON_ERROR_STOP=1 -c "
  INSERT INTO users (id, email, password_hash, first_name, last_name, role_id, email_verified, disabled, provider, token_version, created_at, updated_at)
  SELECT gen_random_uuid(), 'bench' || g || '@runway.test', u.password_hash, 'First' || g, 'Last' || g, u.role_id, true, false, 'local', 0, now(), now()
  FROM generate_series(1, 100 - (SELECT count(*) FROM users)) g, (SELECT password_hash, role_id FROM users WHERE email = '$ADMIN_EMAIL') u"

say "start the Express peer on :$EXPRESS_PORT"
(cd bench/peers/express && [ -d node_modules ] || npm ci --no-audit --no-fund >&2)
DATABASE_URL="$PG_BASE/$EXPRESS_DB" PORT=$EXPRESS_PORT SECRET_KEY=$SECRET BENCH_PASSWORD=$PASSWORD \
  node bench/peers/express/server.js > "$OUT/express.log" 2>&1 &
EXPRESS_PID=$!; PIDS+=("$EXPRESS_PID")
wait_http "http://127.0.0.1:$EXPRESS_PORT/api/auth/me" || true
for _ in $(seq 1 100); do grep -q listening "$OUT/express.log" && break; sleep 0.2; done

token() { # port email
  curl -fs -X POST -H 'content-type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"$PASSWORD\"}" "http://127.0.0.1:$1/api/auth/signin/local" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
RUST_IDLE=$(rss_mb "$RUST_PID"); EXPRESS_IDLE=$(rss_mb "$EXPRESS_PID")
RUST_TOKEN=$(token "$RUST_PORT" "$ADMIN_EMAIL")
EXPRESS_TOKEN=$(token "$EXPRESS_PORT" bench1@runway.test)

# Per route, RUNS rounds; in each, both sides back to back (interleaved, so background load hits
# both alike). The table reports the median of the rounds. Signin goes last, so the peak RSS of
# the /me and /users load is read before the password hashing adds its memory.
declare -A R
for route in me users signin; do
  if [ $route = signin ]; then RUST_API_PEAK=$(hwm_mb "$RUST_PID"); EXPRESS_API_PEAK=$(hwm_mb "$EXPRESS_PID"); fi
  for round in $(seq 1 "$RUNS"); do
    for side in rust express; do
      if [ $side = rust ]; then port=$RUST_PORT; tok=$RUST_TOKEN; email=$ADMIN_EMAIL; pid=$RUST_PID; else port=$EXPRESS_PORT; tok=$EXPRESS_TOKEN; email=bench1@runway.test; pid=$EXPRESS_PID; fi
      say "round $round/$RUNS, $side: $route"
      case $route in
        me) r=$(run_wrk "$side-me-$round" "http://127.0.0.1:$port/api/auth/me" "$pid" -H "Authorization: Bearer $tok") ;;
        users) r=$(run_wrk "$side-users-$round" "http://127.0.0.1:$port/api/users?limit=20" "$pid" -H "Authorization: Bearer $tok") ;;
        signin) r=$(BENCH_EMAIL=$email BENCH_PASSWORD=$PASSWORD run_wrk "$side-signin-$round" "http://127.0.0.1:$port/api/auth/signin/local" "$pid" -s bench/backend-api/signin.lua) ;;
      esac
      R[$side.$route]+="$r"$'\n'
    done
  done
done
# Median of each column over the rounds (non-2xx: the sum).
median() { # "lines of: rps p50 p99 bad srv_us pg_us" → the same, medians (bad: summed)
  local col out=""
  for col in 1 2 3; do
    out+="$(printf '%s' "$1" | awk -v c=$col 'NF {print $c}' | sort -g |
      awk '{a[NR]=$1} END {printf "%s ", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
  done
  out+="$(printf '%s' "$1" | awk 'NF {s+=$4} END {print s+0}') "
  for col in 5 6; do
    out+="$(printf '%s' "$1" | awk -v c=$col 'NF {print $c}' | sort -g |
      awk '{a[NR]=$1} END {printf "%s ", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
  done
  printf '%s\n' "$out"
}
for k in "${!R[@]}"; do R[$k]=$(median "${R[$k]}"); done
RUST_LOADED=$(hwm_mb "$RUST_PID"); EXPRESS_LOADED=$(hwm_mb "$EXPRESS_PID")

say "pgbench -S -c $CONNECTIONS (ceiling for a one-query route)"
"$PGBENCH" -i -q "$PG_BASE/$PGBENCH_DB" > /dev/null 2>&1
P0=$(pg_ticks)
# Plain TCP like the two servers (our backend defaults to sslmode=disable on loopback,
# node-postgres never asks for TLS); libpq's own default would be TLS (sslmode=prefer).
PGB=$(PGSSLMODE=disable "$PGBENCH" -S -n -c "$CONNECTIONS" -j 2 -T "${DURATION%s}" "$PG_BASE/$PGBENCH_DB" 2>&1 | tee "$OUT/pgbench.txt" | awk '/^tps/ {printf "%.0f", $3}')
PGB_US=$(awk -v p=$(( $(pg_ticks) - P0 )) -v t="$TICK" '/actually processed/ {n=$NF} END {printf "%.0f", (n>0 ? p*1e6/t/n : 0)}' "$OUT/pgbench.txt")

{
  echo "| route | Rust req/s | Express req/s | ratio | Rust p50 ms | Rust p99 ms | Express p50 ms | Express p99 ms | non-2xx R/E | CPU µs/req Rust: server / PostgreSQL | CPU µs/req Express: node / PostgreSQL |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for route in me users signin; do
    read -r rr rp50 rp99 rbad rsrv rpg <<< "${R[rust.$route]}"
    read -r er ep50 ep99 ebad esrv epg <<< "${R[express.$route]}"
    ratio=$(awk -v a="$rr" -v b="$er" 'BEGIN { if (b>0) printf "%.1f×", a/b; else print "n/a" }')
    echo "| $route | $rr | $er | $ratio | $rp50 | $rp99 | $ep50 | $ep99 | $rbad/$ebad | $rsrv / $rpg | $esrv / $epg |"
  done
  echo
  echo "| RSS (MB) | Rust backend | Express (node) |"
  echo "|---|---|---|"
  echo "| idle after start (VmRSS) | $RUST_IDLE | $EXPRESS_IDLE |"
  echo "| peak under /me + /users load (VmHWM) | $RUST_API_PEAK | $EXPRESS_API_PEAK |"
  echo "| peak including signin load (VmHWM) | $RUST_LOADED | $EXPRESS_LOADED |"
  echo
  read -r rr _ <<< "${R[rust.me]}"
  echo "Medians of $RUNS rounds of $DURATION per route and side; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "CPU µs/req: the server process's, and all PostgreSQL processes' (other databases' load included)."
  echo "pgbench -S -c $CONNECTIONS: $PGB tps, PostgreSQL CPU $PGB_US µs per transaction; Rust /me at $(awk -v a="$rr" -v b="$PGB" 'BEGIN { printf "%.0f%%", 100*a/b }') of that ceiling."
} | tee "$OUT/summary.md"

for db in $RUST_DB $EXPRESS_DB $PGBENCH_DB; do
  psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
done
