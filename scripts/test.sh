#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   quality gates (fmt, clippy for the server and the WASM builds),
#   Rust unit and integration tests against SQLite and a throwaway PostgreSQL,
#   a local folder and a real S3 server (s3s-fs),
#   the deployment files with nginx, promtool, check-jsonschema and the Helm SDK, and two
#   replicas behind nginx scraped by Prometheus,
#   then Playwright in Debian's Chromium against a running aiops.
# Installs what is missing first and skips what is already there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source scripts/lib/tools.sh
# Variables a caller's shell may carry would point the tests at another server.
unset DATABASE_URL S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY PGPORT PGTMP \
  AIOPS_DATABASE_URL AIOPS_ARTIFACTS AIOPS_TEST_POSTGRES_URL AIOPS_TEST_S3_ENDPOINT

# Compile-time variables cargo-leptos sets; setting them for plain cargo too keeps one
# build cache for clippy, tests and the cargo-leptos build.
export LEPTOS_OUTPUT_NAME=aiops
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# One pass over a fresh checkout: incremental caches would only take disk.
export CARGO_INCREMENTAL=0
SSR_PACKAGES=(-p aiops-core -p aiops-app -p aiops-server)

log "checking tools"
ensure_rust_tools
ensure_s3_server
ensure_postgres
ensure_browser
ensure_mlflow_client
ensure_onnxruntime
ensure_deploy_tools

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (server build)"
cargo clippy "${SSR_PACKAGES[@]}" --all-targets --features ssr -- -D warnings
cargo clippy -p aiops-predictor --all-targets -- -D warnings
log "cargo clippy (browser build)"
cargo clippy -p aiops-app --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

# Throwaway services, removed on exit whatever happens.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aiops-test.XXXXXX")
PGTMP= S3_PID= S3TMP= SERVER_PID= PREFIXED_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$PREFIXED_PID" ] && kill "$PREFIXED_PID" 2>/dev/null || true
  [ -n "$S3_PID" ] && bash scripts/lib/s3-down.sh "$S3_PID" "$S3TMP" || true
  [ -n "$PGTMP" ] && bash scripts/lib/pg-down.sh "$PGTMP" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log "starting PostgreSQL and S3 for the tests"
# A helper that fails stops the run here (an `eval "$(…)"` would swallow its exit status).
PG_ENV=$(bash scripts/lib/pg-up.sh postgres_admin) || { echo "PostgreSQL did not start" >&2; exit 1; }
eval "$PG_ENV"
# Distinct keys, so a test can tell a leaked secret from a logged access key.
S3_ENV=$(S3_ACCESS_KEY=aiops-test-access S3_SECRET_KEY=aiops-test-secret-0b7f bash scripts/lib/s3-up.sh) \
  || { echo "the S3 server did not start" >&2; exit 1; }
eval "$S3_ENV"
[ -n "${DATABASE_URL:-}" ] && [ -n "${S3_ENDPOINT:-}" ] || { echo "test services are not set up" >&2; exit 1; }
export AIOPS_TEST_POSTGRES_URL=$DATABASE_URL
export AIOPS_TEST_S3_ENDPOINT=$S3_ENDPOINT AIOPS_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY AIOPS_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export PGBIN

log "cargo test (SQLite + PostgreSQL, local folder + S3)"
cargo test "${SSR_PACKAGES[@]}" --features ssr 2>&1 | tee "$WORK/cargo-test.log"
# The predictor against Python's onnxruntime outputs, on the real ONNX Runtime library.
cargo test -p aiops-predictor 2>&1 | tee -a "$WORK/cargo-test.log"

log "cargo leptos build"
cargo leptos build
# The build's footprint, for when a machine runs short of disk.
log "disk: target folder $(du -sh target 2>/dev/null | cut -f1), free $(df -h . | awk 'NR==2 {print $4}')"

# The first admin's password for every server the tests start (a password is never on a
# command line: it would show in `ps`).
export AIOPS_ADMIN_PASSWORD="admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ADMIN_BASIC="Basic $(printf 'admin:%s' "$AIOPS_ADMIN_PASSWORD" | base64 -w0)"

# run_mlflow_suite NAME basic|bearer -- aiops-serve-args...: the official MLflow client,
# signed in with a password (Basic) or an access token (Bearer), against a fresh aiops.
run_mlflow_suite() {
  local name=$1 how=$2; shift 2
  local port; port=$(free_port)
  local url="http://127.0.0.1:$port"
  mkdir -p "$WORK/$name"
  (cd "$WORK/$name" && exec "$ROOT/target/debug/aiops" serve --addr "127.0.0.1:$port" "$@") >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$url/ready" 60 || { cat "$WORK/$name.log"; exit 1; }
  local creds=(MLFLOW_TRACKING_USERNAME=admin "MLFLOW_TRACKING_PASSWORD=$AIOPS_ADMIN_PASSWORD")
  local authorization=$ADMIN_BASIC
  if [ "$how" = bearer ]; then
    # A token made on the account page's server function, as a user would.
    local token
    token=$(curl -fsS -X POST -H "Authorization: $ADMIN_BASIC" --data 'name=test-suite&days=' \
      "$url/_app/create_token" | tr -d '"')
    [ -n "$token" ] || { echo "could not make an access token" >&2; exit 1; }
    creds=("MLFLOW_TRACKING_TOKEN=$token")
    authorization="Bearer $token"
  fi
  log "MLflow client suite on $name ($how)"
  # No client retries: a 5xx must fail the test, not stall it.
  if ! env "${creds[@]}" AIOPS_TEST_AUTHORIZATION="$authorization" AIOPS_BIN="$ROOT/target/debug/aiops" \
      AIOPS_URL="$url" AIOPS_TEST_SUITE="$name" AIOPS_TEST_OUTSIDE_DIR="$WORK:$S3TMP" \
      MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 \
      "$MLFLOW_PYTHON" -m pytest -q -p no:cacheprovider tests/mlflow_client 2>&1 | tee -a "$WORK/pytest.log"; then
    # The server's log first, the failures last: CI shows only the tail of the output.
    echo "--- server log ($name) ---"; tail -n 80 "$WORK/$name.log"
    echo "--- failures ($name) ---"; grep -E '^(FAILED|ERROR) ' "$WORK/pytest.log" | tail -n 40
    exit 1
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  # No password or token ever reaches the log.
  if grep -qF -e "$AIOPS_ADMIN_PASSWORD" "$WORK/$name.log" || { [ "$how" = bearer ] && grep -qF -e "$token" "$WORK/$name.log"; }; then
    echo "a secret appeared in the server log ($name)" >&2; exit 1
  fi
}

# Webhooks may reach the suite's own receiver on loopback (refusals: server/tests/serve.rs).
WEBHOOKS_TO_LOOPBACK=(--webhook-allow-private --webhook-schemes http,https)
run_mlflow_suite sqlite-local basic --data-dir "$WORK/sqlite-local/data" "${WEBHOOKS_TO_LOOPBACK[@]}"
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -qc "CREATE DATABASE mlflow_suite"
mkdir -p "$S3TMP/data/aiops-suite"
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_REGION=us-east-1 AWS_ENDPOINT_URL=$S3_ENDPOINT \
  run_mlflow_suite postgres-s3 bearer --data-dir "$WORK/postgres-s3/data" \
    --database-url "postgres://postgres@127.0.0.1:$PGPORT/mlflow_suite" --artifacts "s3://aiops-suite/artifacts" \
    "${WEBHOOKS_TO_LOOPBACK[@]}"

# The deployment files with the real tools, and two replicas behind nginx on PostgreSQL and
# S3, scraped by Prometheus (tests/deploy).
log "deployment checks (compose, nginx, Prometheus, Grafana, Helm; two replicas behind nginx)"
if ! AIOPS_BIN="$ROOT/target/debug/aiops" AIOPS_TEST_S3_ROOT="$S3TMP/data" \
    "$DEPLOY_PYTHON" -m pytest -q -p no:cacheprovider tests/deploy 2>&1 | tee "$WORK/deploy.log"; then
  exit 1
fi

log "browser tests (Playwright + Chromium)"
PORT=$(free_port)
"$ROOT/target/debug/aiops" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/e2e-data" >"$WORK/e2e-server.log" 2>&1 &
SERVER_PID=$!
wait_ready "http://127.0.0.1:$PORT/ready" 60 || { cat "$WORK/e2e-server.log"; exit 1; }
# The same dashboard under a path prefix, for the base-path spec.
PREFIXED_PORT=$(free_port)
"$ROOT/target/debug/aiops" serve --addr "127.0.0.1:$PREFIXED_PORT" --data-dir "$WORK/e2e-prefixed" --base-path /aiops \
  >"$WORK/e2e-prefixed.log" 2>&1 &
PREFIXED_PID=$!
wait_ready "http://127.0.0.1:$PREFIXED_PORT/aiops/ready" 60 || { cat "$WORK/e2e-prefixed.log"; exit 1; }
# The dashboard spec browses data the real MLflow client logged: a nested sweep with
# artifacts and a logged model, a running run, a 250-run experiment.
if ! MLFLOW_TRACKING_URI="http://127.0.0.1:$PORT" MLFLOW_TRACKING_USERNAME=admin \
    MLFLOW_TRACKING_PASSWORD="$AIOPS_ADMIN_PASSWORD" MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 \
    "$MLFLOW_PYTHON" end2end/seed/sweep.py "$WORK/seed.json" >"$WORK/seed.log" 2>&1; then
  tail -n 40 "$WORK/seed.log"; exit 1
fi
SCREENSHOTS="$ROOT/end2end/screenshots"
rm -rf "$SCREENSHOTS"
if ! (cd end2end && AIOPS_BASE_URL="http://127.0.0.1:$PORT" AIOPS_BASE_PATH_URL="http://127.0.0.1:$PREFIXED_PORT/aiops/" \
    AIOPS_SEED_FILE="$WORK/seed.json" AIOPS_SCREENSHOT_DIR="$SCREENSHOTS" \
    npx playwright test) 2>&1 | tee "$WORK/e2e.log"; then
  echo "--- server log ---"; tail -n 50 "$WORK/e2e-server.log"
  # Playwright's failure reports, last: CI shows only the tail of the output.
  echo "--- browser test failures ---"
  grep -E '^ +[0-9]+\) |^ +Error:|^ +Expected|^ +Received|^ +(Call log|Timeout)' "$WORK/e2e.log" | tail -n 60
  grep -F '✘' "$WORK/e2e.log" | tail -n 20
  sed -n '/^ *[0-9][0-9]* failed/,$p' "$WORK/e2e.log" | tail -n 30
  exit 1
fi

# The tally fails when any suite ran fewer tests than it has: skipped, ignored or filtered
# tests, or fewer passes than tests collected.
RUST_PASSED=$(grep -o 'test result: ok\. [0-9]* passed' "$WORK/cargo-test.log" | awk '{s+=$4} END {print s+0}')
RUST_NOT_RUN=$({ grep -oE '[0-9]+ (ignored|filtered out)' "$WORK/cargo-test.log" || true; } | awk '{s+=$1} END {print s+0}')
E2E_PASSED=$(grep -oE '^ *[0-9]+ passed' "$WORK/e2e.log" | awk '{s+=$1} END {print s+0}')
E2E_LISTED=$(cd end2end && { npx playwright test --list 2>/dev/null || true; } | { grep -oE 'Total: [0-9]+' || true; } | grep -oE '[0-9]+' || true)
PY_PASSED=$(grep -oE '^[0-9]+ passed' "$WORK/pytest.log" | awk '{s+=$1} END {print s+0}')
PY_NOT_RUN=$({ grep -oE '[0-9]+ (skipped|xfailed|deselected)' "$WORK/pytest.log" || true; } | awk '{s+=$1} END {print s+0}')
DEPLOY_PASSED=$(grep -oE '^[0-9]+ passed' "$WORK/deploy.log" | awk '{s+=$1} END {print s+0}')
DEPLOY_NOT_RUN=$({ grep -oE '[0-9]+ (skipped|xfailed|deselected)' "$WORK/deploy.log" || true; } | awk '{s+=$1} END {print s+0}')
DEPLOY_COLLECTED=$("$DEPLOY_PYTHON" -m pytest -q -p no:cacheprovider --collect-only tests/deploy 2>/dev/null \
  | { grep -oE '^[0-9]+ tests? collected' || true; } | grep -oE '^[0-9]+' || true)
PY_COLLECTED=$("$MLFLOW_PYTHON" -m pytest -q -p no:cacheprovider --collect-only tests/mlflow_client 2>/dev/null \
  | { grep -oE '^[0-9]+ tests? collected' || true; } | grep -oE '^[0-9]+' || true)
SHORT=
[ "$RUST_NOT_RUN" -eq 0 ] || SHORT="$SHORT Rust: $RUST_NOT_RUN ignored or filtered;"
[ "$PY_NOT_RUN" -eq 0 ] || SHORT="$SHORT MLflow client: $PY_NOT_RUN skipped;"
[ "$PY_PASSED" -eq $((2 * ${PY_COLLECTED:-0})) ] || SHORT="$SHORT MLflow client: $PY_PASSED passed of 2 x ${PY_COLLECTED:-?};"
[ "$DEPLOY_NOT_RUN" -eq 0 ] || SHORT="$SHORT deployment: $DEPLOY_NOT_RUN skipped;"
[ "$DEPLOY_PASSED" -eq "${DEPLOY_COLLECTED:-0}" ] || SHORT="$SHORT deployment: $DEPLOY_PASSED passed of ${DEPLOY_COLLECTED:-?};"
[ "$E2E_PASSED" -eq "${E2E_LISTED:-0}" ] || SHORT="$SHORT browser: $E2E_PASSED passed of ${E2E_LISTED:-?};"
if [ -n "$SHORT" ]; then
  echo "total: fewer tests ran than the suites have:$SHORT" >&2
  exit 1
fi
echo "screenshots of every page at 1440x900 and 390x844: $SCREENSHOTS/{desktop,phone}"
log "all tests passed (Rust: $RUST_PASSED, MLflow client: $PY_PASSED, deployment: $DEPLOY_PASSED, browser: $E2E_PASSED)"
echo "total: $((RUST_PASSED + PY_PASSED + DEPLOY_PASSED + E2E_PASSED)) passed, 0 failed"
