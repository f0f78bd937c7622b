"""Serving: single-row and 1,000-row requests through `POST /v2/models/<m>/infer` at 1, 8
and 32 connections (wrk: p50, p99, requests/s), in one run, against:

- aiops (release), the model deployed from the registry, `--anonymous-inference` (Triton
  and the Python servers below check no credentials either);
- the seed's stack: FastAPI + Python onnxruntime under uvicorn, 1 and 2 workers;
- MLServer 1.7.1 serving the same scikit-learn model (mlserver-sklearn);
- aiops with dynamic batching (random forest, single rows, 32 connections).

Floors, printed beside: the in-process ONNX Runtime call (`predictor/examples/floor.rs`,
the same `Model::infer` the server runs, no HTTP) and wrk against aiops' empty `/health`
(what the load generator and HTTP cost on their own). Models: a logistic regression and a
random forest (200 trees, depth 10) on iris, trained here and exported with skl2onnx.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import ADMIN_PASSWORD, AUTHORIZATION, free_port, stop_group, wait_up  # noqa: E402
from load import DONE_LUA, lua_file  # noqa: E402
from load import wrk as wrk_run  # noqa: E402

SECONDS = 5
CONNECTIONS = (1, 8, 32)
ROWS = (1, 1000)

POST_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = BODY
""" + DONE_LUA


def train(work, bench_python):
    """Trains both models with the bench venv's scikit-learn; writes .onnx and .joblib."""
    code = r"""
import sys, joblib, numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
work = sys.argv[1]
X, y = load_iris(return_X_y=True)
X = X.astype(np.float32)
for name, model in (("logreg", LogisticRegression(max_iter=500)),
                    ("forest", RandomForestClassifier(n_estimators=200, max_depth=10, random_state=0))):
    model.fit(X, y)
    joblib.dump(model, f"{work}/{name}.joblib")
    onx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    open(f"{work}/{name}.onnx", "wb").write(onx.SerializeToString())
"""
    subprocess.run([bench_python, "-c", code, work], check=True)


def body(rows):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 7, size=(rows, 4)).round(2)
    return json.dumps({"inputs": [{"name": "X", "shape": [rows, 4], "datatype": "FP32",
                                   "data": x.ravel().tolist()}]})


def wrk(url, script, connections):
    return wrk_run(url, script, connections, seconds=SECONDS)


class Proc:
    def __init__(self, command, ready, env=None, cwd=None):
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env={**os.environ, **(env or {})}, cwd=cwd)
        try:
            wait_up(ready, self.proc, limit=180)
        except RuntimeError:
            self.stop()
            raise

    def stop(self):
        stop_group(self.proc, 30)


def deploy_all(url, work):
    """Registers both ONNX files as versions and deploys them (the forest twice: plain and batched)."""
    s = requests.Session()
    s.headers["Authorization"] = AUTHORIZATION
    api = f"{url}/api/2.0/mlflow"
    exp = s.post(f"{api}/experiments/create", json={"name": "serving-bench"}, timeout=30).json()["experiment_id"]
    for name in ("logreg", "forest"):
        run_id = s.post(f"{api}/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
        with open(os.path.join(work, f"{name}.onnx"), "rb") as f:
            s.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/model/model.onnx",
                  data=f.read(), timeout=60).raise_for_status()
        s.post(f"{api}/registered-models/create", json={"name": name}, timeout=30).raise_for_status()
        s.post(f"{api}/model-versions/create", json={"name": name, "source": f"runs:/{run_id}/model",
                                                      "run_id": run_id}, timeout=30).raise_for_status()
    deployments = {"logreg": {}, "forest": {},
                   "forest-batched": {"max_batch_size": 64, "max_queue_delay_microseconds": 300}}
    for name, extra in deployments.items():
        model = name.split("-")[0]
        r = s.post(f"{url}/api/2.0/aiops/deployments/create", timeout=120,
                   json={"name": name, "model_name": model, "version": "1", **extra})
        r.raise_for_status()
        assert r.json()["deployment"]["status"] == "READY", r.text


def mlserver_repo(work, name):
    folder = os.path.join(work, "mlserver", name)
    os.makedirs(folder, exist_ok=True)
    os.replace(os.path.join(work, f"{name}.joblib"), os.path.join(folder, "model.joblib"))
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump({"name": name, "implementation": "mlserver_sklearn.SKLearnModel",
                   "parameters": {"uri": "./model.joblib"}}, f)
    return folder


def measure(label, url, model, scripts, figures, connections=CONNECTIONS, rows=ROWS):
    for n in rows:
        for c in connections:
            f = wrk(f"{url}/v2/models/{model}/infer", scripts[n], c)
            figures.append({"server": label, "model": model, "rows": n, "connections": c, **f})
            print(f"  {label:<22} {model:<7} {n:>5} rows {c:>2} conn  p50 {f['p50']:8.3f} ms  "
                  f"p99 {f['p99']:8.3f} ms  {f['rps']:9.0f} req/s  errors {f['errors'] + f['non2xx']}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aiops", required=True)
    ap.add_argument("--floor", required=True, help="the floor example binary")
    ap.add_argument("--bench-python", required=True, help="python of the venv with MLServer, FastAPI, onnxruntime")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aiops-serving-")
    train(work, args.bench_python)
    scripts = {n: lua_file(work, f"rows-{n}", POST_LUA.replace("BODY", json.dumps(body(n)), 1)) for n in ROWS}
    figures = []

    print("floor: in-process ONNX Runtime call (Model::infer, no HTTP)", flush=True)
    out = subprocess.run([args.floor, os.path.join(work, "logreg.onnx"), os.path.join(work, "forest.onnx")],
                         capture_output=True, text=True, check=True).stdout
    floors = [json.loads(l[len("FLOOR "):]) for l in out.splitlines() if l.startswith("FLOOR ")]
    for f in floors:
        f["model"] = os.path.basename(f["model"]).removesuffix(".onnx")
        print(f"  {f['model']:<7} {f['rows']:>5} rows  p50 {f['p50_us']:8.1f} µs  p99 {f['p99_us']:8.1f} µs")

    bin_dir = os.path.dirname(os.path.abspath(args.bench_python))
    port = free_port()
    aiops = Proc([args.aiops, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "aiops"),
                  "--anonymous-inference"], f"http://127.0.0.1:{port}/ready",
                 env={"RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": ADMIN_PASSWORD})
    try:
        url = f"http://127.0.0.1:{port}"
        deploy_all(url, work)
        health = lua_file(work, "health", "wrk.method = \"GET\"\n" + DONE_LUA)
        print("floor: wrk against aiops' empty /health", flush=True)
        for c in CONNECTIONS:
            f = wrk(f"{url}/health", health, c)
            figures.append({"server": "aiops /health", "model": "-", "rows": 0, "connections": c, **f})
            print(f"  /health {c:>2} conn  p50 {f['p50']:8.3f} ms  p99 {f['p99']:8.3f} ms  {f['rps']:9.0f} req/s")
        print("aiops", flush=True)
        for model in ("logreg", "forest"):
            measure("aiops", url, model, scripts, figures)
        print("aiops, dynamic batching (64 rows, 300 µs)", flush=True)
        measure("aiops batched", url, "forest-batched", scripts, figures, connections=(8, 32), rows=(1,))
    finally:
        aiops.stop()

    for workers in (1, 2):
        for model in ("logreg", "forest"):
            port = free_port()
            server = Proc([os.path.join(bin_dir, "uvicorn"), "fastapi_server:app", "--host", "127.0.0.1",
                           "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
                          f"http://127.0.0.1:{port}/docs", cwd=os.path.dirname(os.path.abspath(__file__)),
                          env={"AIOPS_BENCH_MODEL": model, "AIOPS_BENCH_ONNX": os.path.join(work, f"{model}.onnx")})
            try:
                print(f"FastAPI + onnxruntime, uvicorn {workers} worker(s)", flush=True)
                measure(f"fastapi {workers}w", f"http://127.0.0.1:{port}", model, scripts, figures)
            finally:
                server.stop()

    # One MLServer serving both models (each in its own folder of one repository).
    for model in ("logreg", "forest"):
        mlserver_repo(work, model)
    repo = os.path.join(work, "mlserver")
    port, grpc, metrics = free_port(), free_port(), free_port()
    with open(os.path.join(repo, "settings.json"), "w") as f:
        json.dump({"http_port": port, "grpc_port": grpc, "metrics_port": metrics}, f)
    # MLServer keeps its Prometheus files in `.metrics` under its working folder: the bench's.
    server = Proc([os.path.join(bin_dir, "mlserver"), "start", repo], f"http://127.0.0.1:{port}/v2/health/ready",
                  cwd=work)
    try:
        for model in ("logreg", "forest"):
            wait_up(f"http://127.0.0.1:{port}/v2/models/{model}/ready", server.proc, limit=120)
        print("MLServer 1.7.1 (scikit-learn runtime)", flush=True)
        for model in ("logreg", "forest"):
            measure("mlserver", f"http://127.0.0.1:{port}", model, scripts, figures)
    finally:
        server.stop()

    print("\nsummary (requests/s; aiops ÷ best Python server)")
    for model in ("logreg", "forest"):
        for n in ROWS:
            for c in CONNECTIONS:
                pick = {f["server"]: f for f in figures if f["model"] == model and f["rows"] == n and f["connections"] == c}
                python = max((pick[s]["rps"] for s in ("fastapi 1w", "fastapi 2w", "mlserver") if s in pick), default=0)
                a = pick.get("aiops")
                floor = next((f for f in floors if f["model"] == model and f["rows"] == n), None)
                extra = f"  floor p50 {floor['p50_us']:.0f} µs, aiops p50 {a['p50'] * 1000:.0f} µs" if c == 1 and floor and a else ""
                if a and python:
                    print(f"  {model:<7} {n:>5} rows {c:>2} conn  aiops {a['rps']:9.0f}  best Python {python:8.0f}  "
                          f"× {a['rps'] / python:5.1f}{extra}")
    with open(os.path.join(work, "serving-results.json"), "w") as f:
        json.dump({"floors": floors, "figures": figures}, f, indent=1)
    print(f"figures: {work}/serving-results.json")


if __name__ == "__main__":
    main()
