#!/usr/bin/env bash
# Backend startup benchmark (see run.py): builds the release binary and the Express +
# Sequelize reference, then measures both in the same run. Uses ports 43010-43019.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p backend
(cd bench/backend-startup/express && npm ci --no-audit --no-fund --silent)
exec python3 bench/backend-startup/run.py "$@"
