#!/usr/bin/env bash
# Benchmark: the same MLflow-client workload against aiops (release build) and
# `mlflow server` with 1 and 4 workers, all on SQLite + local artifacts, on 127.0.0.1;
# then the server's own speed at the HTTP level (bench/server_speed.py, wrk), big experiments and
# long histories (bench/scale.py), a 1 GiB artifact (bench/artifacts.py), the same four again on
# PostgreSQL + S3 (--production, beside MLflow on the same PostgreSQL and S3),
# mixed load (wrk) and idle connections (bench/load.py), then what signing in costs
# (bench/auth.py: Basic, token and authentication off), then the registry calls
# (bench/registry.py, against mlflow with 1 worker).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/tools.sh
ensure_rust_tools
ensure_wasm_opt
ensure_mlflow_client
have wrk || apt_install wrk
# The same release build as scripts/run.sh, so the product measured is the one users run.
log "cargo leptos build --release"
cargo leptos build --release
log "benchmark"
MLFLOW_BIN="$(dirname "$MLFLOW_PYTHON")/mlflow"
"$MLFLOW_PYTHON" bench/bench.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
log "server speed at the HTTP level (wrk)"
"$MLFLOW_PYTHON" bench/server_speed.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
log "big experiments (100,000 and 1,000,000 runs) and long histories (1,000,000 steps)"
"$MLFLOW_PYTHON" bench/scale.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
log "a 1 GiB artifact"
"$MLFLOW_PYTHON" bench/artifacts.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
# Production: MLflow needs psycopg2 and boto3 beside it; a venv of its own.
ensure_postgres
ensure_s3_server
PROD_PYTHON=$(ensure_venv bench-production-venv "$ROOT/bench/requirements-production.txt" "MLflow on PostgreSQL and S3")
PROD_MLFLOW="$(dirname "$PROD_PYTHON")/mlflow"
for script in bench server_speed scale artifacts; do
  log "$script on PostgreSQL + S3"
  "$PROD_PYTHON" "bench/$script.py" --production --aiops "$ROOT/target/release/aiops" --mlflow "$PROD_MLFLOW"
done
log "mixed load and idle connections"
"$MLFLOW_PYTHON" bench/load.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
log "authentication cost"
"$MLFLOW_PYTHON" bench/auth.py --aiops "$ROOT/target/release/aiops"
log "registry"
"$MLFLOW_PYTHON" bench/registry.py --aiops "$ROOT/target/release/aiops" --mlflow "$MLFLOW_BIN"
log "serving"
ensure_onnxruntime
BENCH_PYTHON=$(ensure_venv bench-serving-venv "$ROOT/bench/requirements-serving.txt" "the Python serving stacks")
cargo build --release -p aiops-predictor --example floor
"$MLFLOW_PYTHON" bench/serving.py --aiops "$ROOT/target/release/aiops" \
  --floor "$ROOT/target/release/examples/floor" --bench-python "$BENCH_PYTHON"
