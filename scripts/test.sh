#!/usr/bin/env bash
# The one test command (README): every Rust test in the workspace, then the frontend's unit
# tests and its end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast

if [ -f frontend/package.json ]; then
  echo "==> frontend: npm ci, unit tests, end-to-end tests"
  # Vite 8 needs Node ^20.19 or >=22.12 (Debian 12's own nodejs is 18): say so instead of a cryptic failure.
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit((a===20&&b>=19)||(a===22&&b>=12)||a>=23?0:1)' 2>/dev/null; then
    echo "scripts/test.sh: the frontend needs Node.js ^20.19 or >= 22.12 with npm (found: $(node --version 2>/dev/null || echo none)); install it, e.g. from NodeSource" >&2
    exit 1
  fi
  (cd frontend && npm ci --no-audit --no-fund && npm test)
  if grep -q '"e2e"' frontend/package.json; then
    # The end-to-end tests run the real stack: runway (proxy + supervisor) and the backend.
    echo "==> cargo build -p backend -p runway (for the end-to-end tests)"
    cargo build -p backend -p runway
    (cd frontend && npm run e2e)
    # Again on PostgreSQL: each stack gets a fresh database on TEST_DATABASE_URL's server.
    if [ -n "${TEST_DATABASE_URL:-}" ]; then
      echo "==> frontend: end-to-end tests on PostgreSQL (a fresh database per stack on TEST_DATABASE_URL's server)"
      (cd frontend && E2E_DATABASE_URL="$TEST_DATABASE_URL" npm run e2e)
    elif [ "${CI:-}" = true ]; then
      echo "scripts/test.sh: CI needs TEST_DATABASE_URL for the end-to-end tests on PostgreSQL (.ci/run exports it)" >&2
      exit 1
    else
      echo "==> frontend: end-to-end tests on PostgreSQL skipped: set TEST_DATABASE_URL=postgres://USER:PASS@HOST:PORT/postgres to run them"
    fi
  fi
fi
