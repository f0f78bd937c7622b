#!/usr/bin/env bash
# Benchmark: the same MLflow-client workload against aiops (release build) and
# `mlflow server` with 1 and 4 workers, all on SQLite + local artifacts, on 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/tools.sh
ensure_mlflow_client
export LEPTOS_OUTPUT_NAME=aiops
log "cargo build --release (server)"
cargo build --release -p aiops-server
log "benchmark"
"$MLFLOW_PYTHON" bench/bench.py --aiops "$ROOT/target/release/aiops" --mlflow "$(dirname "$MLFLOW_PYTHON")/mlflow"
