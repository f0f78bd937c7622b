# Installs what the build and the tests need, skipping whatever is already there.
# Sourced by scripts/run.sh and scripts/test.sh.

export PATH="$HOME/.cargo/bin:$PATH"
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TOOLS_DIR="$ROOT/.tools"

log() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif have sudo; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q '0\.3\.10'; then
    log "cargo install cargo-leptos 0.3.10 (slow, once)"
    cargo install cargo-leptos --version 0.3.10 --locked
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q '0\.2\.130'; then
    log "cargo install wasm-bindgen-cli 0.2.130 (once)"
    cargo install wasm-bindgen-cli --version 0.2.130
  fi
}

# wasm-opt for release bundles: binaryen 123 from npm (Debian's 108 breaks hydration).
ensure_wasm_opt() {
  local bin="$TOOLS_DIR/binaryen/node_modules/.bin"
  if [ ! -x "$bin/wasm-opt" ]; then
    have npm || apt_install nodejs npm
    log "npm install binaryen@123"
    mkdir -p "$TOOLS_DIR/binaryen"
    (cd "$TOOLS_DIR/binaryen" && npm init -y >/dev/null && npm install --no-audit --no-fund binaryen@123 >/dev/null)
  fi
  export PATH="$bin:$PATH"
}

ensure_s3_server() {
  if ! s3s-fs --version 2>/dev/null | grep -q '0\.14\.1'; then
    log "cargo install s3s-fs 0.14.1 (S3 server for tests, once)"
    cargo install s3s-fs --version 0.14.1 --features binary --locked
  fi
}

ensure_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
  PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
  export PGBIN
}

ensure_browser() {
  have chromium || apt_install chromium
  have node || apt_install nodejs npm
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    log "npm ci (Playwright test runner; no browser download)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# wait_ready URL SECONDS: polls until the URL answers 200.
wait_ready() {
  local url=$1 limit=${2:-60}
  for _ in $(seq $((limit * 10))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $url after ${limit}s" >&2
  return 1
}

# ensure_venv NAME REQUIREMENTS WHAT: a venv of the project's own under .tools/NAME with the
# pinned requirements installed (again only when the file changes); prints its python.
ensure_venv() {
  local venv="$TOOLS_DIR/$1" req="$2" what="$3"
  if [ ! -x "$venv/bin/python" ]; then
    log "python venv for $what" >&2
    python3 -m venv "$venv"
  fi
  if ! cmp -s "$req" "$venv/.installed-requirements" 2>/dev/null; then
    log "pip install $what (once)" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
    cp "$req" "$venv/.installed-requirements"
  fi
  echo "$venv/bin/python"
}

# The official MLflow client, in a venv of the project's own.
ensure_mlflow_client() {
  MLFLOW_PYTHON=$(ensure_venv mlflow-venv "$ROOT/tests/mlflow_client/requirements.txt" "the MLflow client (mlflow[auth]==3.17.2)")
  export MLFLOW_PYTHON
}

# What the deployment checks use: Debian's nginx and Prometheus (promtool), and a venv with
# check-jsonschema, kubernetes-validate and the Helm SDK (tests/deploy/requirements.txt).
ensure_deploy_tools() {
  apt_install nginx-light prometheus
  DEPLOY_PYTHON=$(ensure_venv deploy-venv "$ROOT/tests/deploy/requirements.txt" "the deployment checks' tools")
  export DEPLOY_PYTHON
}

# ONNX Runtime's shared library, from the onnxruntime==1.32.0 wheel on PyPI (its CDN
# download, ort's default, is not reachable everywhere). Exports ORT_DYLIB_PATH.
ONNXRUNTIME_VERSION=1.32.0
ensure_onnxruntime() {
  local dir="$TOOLS_DIR/onnxruntime-$ONNXRUNTIME_VERSION"
  local lib="$dir/onnxruntime/capi/libonnxruntime.so.$ONNXRUNTIME_VERSION"
  if [ ! -f "$lib" ]; then
    log "onnxruntime $ONNXRUNTIME_VERSION shared library (from the PyPI wheel)"
    mkdir -p "$dir"
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$dir/wheel" "onnxruntime==$ONNXRUNTIME_VERSION"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.startswith("onnxruntime/capi/lib")])' \
      "$(ls "$dir"/wheel/onnxruntime-*.whl)" "$dir"
  fi
  ORT_DYLIB_PATH="$lib"
  export ORT_DYLIB_PATH
}
