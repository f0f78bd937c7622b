#!/usr/bin/env bash
# Builds and runs AI Ops Dashboard on the embedded default (SQLite + ./aiops-data),
# at http://127.0.0.1:3000. Extra arguments go to `aiops serve` (see `--help`).
# On an empty data folder it fills demo data first (`--demo`); AIOPS_NO_DEMO=1 starts empty.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/tools.sh

ensure_rust_tools
ensure_wasm_opt
# ONNX Runtime for serving deployed models (exports ORT_DYLIB_PATH).
ensure_onnxruntime
log "cargo leptos build --release"
cargo leptos build --release
log "starting aiops on ${AIOPS_ADDR:-127.0.0.1:3000}"
log "sign in as admin: the password is AIOPS_ADMIN_PASSWORD, or the one printed below at the first start"
DATA_DIR=${AIOPS_DATA_DIR:-./aiops-data}
DEMO=()
if [ -z "${AIOPS_NO_DEMO:-}" ] && [ -z "${AIOPS_DATABASE_URL:-}" ] && [ ! -e "$DATA_DIR/aiops.db" ]; then
  log "empty data folder: filling demo data (AIOPS_NO_DEMO=1 starts empty)"
  DEMO=(--demo)
fi
exec "$ROOT/target/release/aiops" serve "${DEMO[@]}" "$@"
