"""What signing in costs: log_batch, search_runs and metric history over HTTP (wrk),
with Basic credentials, with an access token, and with authentication off, in one run.

Three aiops (release) processes, one per mode, each holding the same data: one with
`--disable-auth` (no credential checks), one called with Basic credentials, one with an
access token, so no mode searches a bigger table than another. One
keep-alive connection, so the median is a request's own time and not a queue's (with
several, requests wait behind SQLite's one writer and the wait swamps what is measured).
Rounds interleave the modes; the figure is the median over rounds of wrk's median. The
floor is wrk on `/health`, the cheapest route there is.
"""
import argparse
import base64
import os
import statistics
import tempfile

import requests

from bench import ADMIN_PASSWORD, Server, free_port
from load import DONE_LUA, lua_file, wrk

SECONDS = 5
CONNECTIONS = 1
ROUNDS = 5
PASSWORD = ADMIN_PASSWORD

REQUEST_LUA = r"""
local body = BODY
local path = PATH
local method = METHOD
local auth = AUTH
wrk.headers["Content-Type"] = "application/json"
if auth ~= "" then wrk.headers["Authorization"] = auth end
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local b = nil
  if method == "POST" then b = body:gsub("STEP", tostring(math.random(1, 2000000000))) end
  return wrk.format(method, path, nil, b)
end
""" + DONE_LUA


def lua(body, path, method, auth):
    import json
    return (REQUEST_LUA.replace("BODY", json.dumps(body), 1).replace("PATH", json.dumps(path), 1)
            .replace("METHOD", json.dumps(method), 1).replace("AUTH", json.dumps(auth), 1))


def start(binary, work, name, extra, env):
    port = free_port()
    d = os.path.join(work, name)
    return Server(name, [binary, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", d, *extra],
                  f"http://127.0.0.1:{port}", os.path.join(d, "aiops.db"), env=env)


def prepare(url, headers, name):
    api = f"{url}/api/2.0/mlflow"
    s = requests.Session()
    s.headers.update(headers)
    exp = s.post(f"{api}/experiments/create", json={"name": f"auth-bench-{name}"}, timeout=30).json()["experiment_id"]
    run_id = s.post(f"{api}/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
    for i in range(200):
        rid = s.post(f"{api}/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
        s.post(f"{api}/runs/log-batch", timeout=30, json={
            "run_id": rid, "params": [{"key": "model", "value": "cnn" if i % 10 == 0 else "mlp"}],
            "metrics": [{"key": "acc", "value": i / 200, "timestamp": 1, "step": 0}]})
    points = [{"key": "loss", "value": k / 1000, "timestamp": 1, "step": k} for k in range(1000)]
    s.post(f"{api}/runs/log-batch", json={"run_id": run_id, "metrics": points}, timeout=30)
    return exp, run_id


def workloads(exp, run_id):
    metrics = ",".join(f'{{"key": "m{k}", "value": {k}.5, "timestamp": 1, "step": STEP}}' for k in range(100))
    return {
        "log_batch (100 metrics)": ("POST", "/api/2.0/mlflow/runs/log-batch", f'{{"run_id": "{run_id}", "metrics": [{metrics}]}}'),
        "search_runs (100 rows)": ("POST", "/api/2.0/mlflow/runs/search",
                                   '{"experiment_ids": ["%s"], "filter": "params.model = \'mlp\'", "max_results": 100}' % exp),
        "metric history (1,000 points)": ("GET", f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=loss", ""),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aiops", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aiops-auth-bench-")
    env = {**os.environ, "RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": PASSWORD}
    basic = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    results = {}
    off = start(args.aiops, work, "auth-off", ["--disable-auth"], env)
    on_basic = start(args.aiops, work, "auth-basic", [], env)
    on_token = start(args.aiops, work, "auth-token", [], env)
    servers = [off, on_basic, on_token]
    try:
        token = requests.post(f"{on_token.url}/_app/create_token", data={"name": "bench", "days": ""},
                              headers={"Authorization": basic}, timeout=30).json()
        modes = {"auth off": (off, ""), "Basic": (on_basic, basic), "token": (on_token, f"Bearer {token}")}
        ids = {mode: prepare(server.url, {"Authorization": basic}, "bench") for mode, (server, _) in modes.items()}
        on = on_basic
        floor = wrk(f"{on.url}/health", lua_file(work, "health", DONE_LUA), CONNECTIONS, SECONDS)
        # Rounds interleave the modes, so drift on the machine hits each alike.
        for _ in range(ROUNDS):
            for mode, (server, auth) in modes.items():
                for name, (method, path, body) in workloads(*ids[mode]).items():
                    script = lua_file(work, f"{mode}-{name}".replace(" ", "_").replace("(", "").replace(")", "")
                                      .replace(",", ""), lua(body, path, method, auth))
                    figure = wrk(f"{server.url}", script, CONNECTIONS, SECONDS)
                    assert figure["errors"] + figure["non2xx"] == 0, (mode, name, figure)
                    results.setdefault((name, mode), []).append(figure)
    finally:
        for server in servers:
            server.stop()

    print(f"\nAuthentication cost (wrk, {CONNECTIONS} connections, {SECONDS} s x {ROUNDS} rounds, SQLite, release build)")
    print(f"{'request':<30} | {'mode':<8} | {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} | {'p50 vs off':>10}")
    for name in workloads("x", "y"):
        base = statistics.median(f["p50"] for f in results[(name, "auth off")])
        for mode in modes:
            figs = results[(name, mode)]
            p50 = statistics.median(f["p50"] for f in figs)
            rps = statistics.median(f["rps"] for f in figs)
            p99 = statistics.median(f["p99"] for f in figs)
            print(f"{name:<30} | {mode:<8} | {rps:>8.0f} {p50:>8.3f} {p99:>8.3f} | {100 * (p50 / base - 1):>+9.1f}%")
    print(f"floor (wrk on /health, {CONNECTIONS} connections): {floor['rps']:.0f} req/s, p50 {floor['p50']:.3f} ms")


if __name__ == "__main__":
    main()
