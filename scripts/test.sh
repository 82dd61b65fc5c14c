#!/usr/bin/env bash
# The one test command (README): every Rust test in the workspace, then the frontend's unit
# tests and its end-to-end tests in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo test --workspace"
cargo test --workspace --no-fail-fast

if [ -f frontend/package.json ]; then
  echo "==> frontend: npm ci, unit tests, end-to-end tests"
  (cd frontend && npm ci --no-audit --no-fund && npm test)
  if grep -q '"e2e"' frontend/package.json; then
    # The end-to-end tests run the real stack: runway (proxy + supervisor) and the backend.
    echo "==> cargo build -p backend -p runway (for the end-to-end tests)"
    cargo build -p backend -p runway
    (cd frontend && npm run e2e)
  fi
fi
