"""The registry calls the MLflow client makes, over HTTP with wrk, against aiops (release)
and `mlflow server` with 1 worker, both on SQLite, in one run.

Figures: create a model version, transition a version's stage, get-latest-versions, and
search model versions of a model holding 10,000 versions (100 a page). One keep-alive
connection, so the median is a request's own time; the floor is wrk on aiops' `/health`.
"""
import argparse
import json
import os
import tempfile

import requests

from bench import ADMIN_PASSWORD, AUTHORIZATION, Server, free_port
from load import DONE_LUA, lua_file, wrk

SECONDS = 5
VERSIONS = 10_000

REQUEST_LUA = r"""
local body = BODY
local path = PATH
local method = METHOD
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = AUTH
request = function()
  if method == "GET" then return wrk.format("GET", path) end
  return wrk.format(method, path, nil, body)
end
""" + DONE_LUA


def script(work, name, method, path, body=""):
    text = (REQUEST_LUA.replace("BODY", json.dumps(body), 1).replace("PATH", json.dumps(path), 1)
            .replace("METHOD", json.dumps(method), 1).replace("AUTH", json.dumps(AUTHORIZATION), 1))
    return lua_file(work, name, text)


def seed(url):
    """A run to register from, a model with 10,000 versions, and a second, small model."""
    api = f"{url}/api/2.0/mlflow"
    s = requests.Session()
    exp = s.post(f"{api}/experiments/create", json={"name": "registry-bench"}, timeout=30).json()["experiment_id"]
    run_id = s.post(f"{api}/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
    for name in ("big", "small"):
        s.post(f"{api}/registered-models/create", json={"name": name}, timeout=30).raise_for_status()
    for _ in range(VERSIONS):
        s.post(f"{api}/model-versions/create", json={"name": "big", "source": f"runs:/{run_id}/model",
                                                      "run_id": run_id}, timeout=30).raise_for_status()
    for _ in range(3):
        s.post(f"{api}/model-versions/create", json={"name": "small", "source": f"runs:/{run_id}/model",
                                                      "run_id": run_id}, timeout=30).raise_for_status()
    s.post(f"{api}/model-versions/transition-stage", timeout=30, json={
        "name": "small", "version": "1", "stage": "Production", "archive_existing_versions": False}).raise_for_status()
    return run_id


def measure(server, work, run_id):
    api = "/api/2.0/mlflow"
    figures = {}
    calls = {
        "create model version": ("POST", f"{api}/model-versions/create",
                                 json.dumps({"name": "small", "source": f"runs:/{run_id}/model", "run_id": run_id})),
        "transition stage (archiving)": ("POST", f"{api}/model-versions/transition-stage", json.dumps(
            {"name": "small", "version": "2", "stage": "Staging", "archive_existing_versions": True})),
        "get-latest-versions": ("GET", f"{api}/registered-models/get-latest-versions?name=small", ""),
        "search versions of a 10,000-version model (100 a page)": (
            "GET", f"{api}/model-versions/search?filter=name%3D%27big%27&max_results=100", ""),
    }
    for name, (method, path, body) in calls.items():
        figure = wrk(server.url, script(work, f"{server.name}-{len(figures)}".replace(" ", "_"), method, path, body),
                     1, SECONDS)
        assert figure["errors"] + figure["non2xx"] == 0, (server.name, name, figure)
        figures[name] = figure
    return figures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aiops", required=True)
    ap.add_argument("--mlflow", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aiops-registry-bench-")
    results = {}

    port = free_port()
    d = os.path.join(work, "aiops")
    aiops = Server("aiops", [args.aiops, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", d],
                   f"http://127.0.0.1:{port}", os.path.join(d, "aiops.db"),
                   env={**os.environ, "RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": ADMIN_PASSWORD})
    try:
        floor = wrk(f"{aiops.url}/health", lua_file(work, "health", DONE_LUA), 1, SECONDS)
        results["aiops"] = measure(aiops, work, seed(aiops.url))
    finally:
        aiops.stop()

    port = free_port()
    d = os.path.join(work, "mlflow")
    os.makedirs(d)
    db = os.path.join(d, "mlflow.db")
    mlflow = Server("mlflow 1w", [args.mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                  "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
                                  os.path.join(d, "artifacts")], f"http://127.0.0.1:{port}", db)
    try:
        results["mlflow 1w"] = measure(mlflow, work, seed(mlflow.url))
    finally:
        mlflow.stop()

    print(f"\nRegistry over HTTP (wrk, 1 connection, {SECONDS} s each, SQLite; medians)")
    print(f"{'call':<56} | {'aiops p50 ms':>12} {'req/s':>8} | {'mlflow 1w p50 ms':>16} {'req/s':>8} | {'ratio':>6}")
    for name, a in results["aiops"].items():
        m = results["mlflow 1w"][name]
        print(f"{name:<56} | {a['p50']:>12.3f} {a['rps']:>8.0f} | {m['p50']:>16.3f} {m['rps']:>8.0f} | "
              f"{m['p50'] / a['p50']:>5.1f}x")
    print(f"floor (wrk on aiops /health, 1 connection): {floor['rps']:.0f} req/s, p50 {floor['p50']:.3f} ms")


if __name__ == "__main__":
    main()
