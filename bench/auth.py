"""What signing in costs: log_batch, search_runs and metric history over HTTP (wrk),
with Basic credentials, with an access token, and with authentication off, in one run.

Two aiops (release) processes per mode, each holding the same data: with
`--disable-auth` (no credential checks), called with Basic credentials, and called with an
access token, so no mode searches a bigger table than another; a mode's figure is the mean
of its two processes, and how far the two auth-off processes differ is printed as the noise.
`server-info` (no database work at all) shows what checking credentials costs by itself. One
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

SECONDS = 4
CONNECTIONS = 1
ROUNDS = 4
PROCS = 2
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
        "server-info (no database work)": ("GET", "/api/3.0/mlflow/server-info", ""),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aiops", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aiops-auth-bench-")
    env = {**os.environ, "RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": PASSWORD}
    basic = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    results = {}
    servers = []
    try:
        procs = {}  # (mode, i) -> (server, authorization)
        for i in range(PROCS):
            for mode, flags in (("auth off", ["--disable-auth"]), ("Basic", []), ("token", [])):
                server = start(args.aiops, work, f"{mode.replace(' ', '-')}-{i}", flags, env)
                servers.append(server)
                auth = "" if mode == "auth off" else basic
                if mode == "token":
                    token = requests.post(f"{server.url}/_app/create_token", data={"name": "bench", "days": ""},
                                          headers={"Authorization": basic}, timeout=30).json()
                    auth = f"Bearer {token}"
                procs[(mode, i)] = (server, auth)
        modes = ["auth off", "Basic", "token"]
        ids = {key: prepare(server.url, {"Authorization": basic}, "bench") for key, (server, _) in procs.items()}
        on = procs[("Basic", 0)][0]
        floor = wrk(f"{on.url}/health", lua_file(work, "health", DONE_LUA), CONNECTIONS, SECONDS)
        # Rounds interleave the modes, so drift on the machine hits each alike.
        for _ in range(ROUNDS):
            for key, (server, auth) in procs.items():
                for name, (method, path, body) in workloads(*ids[key]).items():
                    script = lua_file(work, f"{key[0]}-{key[1]}-{name}".replace(" ", "_").replace("(", "")
                                      .replace(")", "").replace(",", ""), lua(body, path, method, auth))
                    figure = wrk(f"{server.url}", script, CONNECTIONS, SECONDS)
                    assert figure["errors"] + figure["non2xx"] == 0, (key, name, figure)
                    results.setdefault((name, key), []).append(figure)
    finally:
        for server in servers:
            server.stop()

    def figure(name, mode, field):
        return statistics.mean(statistics.median(f[field] for f in results[(name, (mode, i))]) for i in range(PROCS))

    print(f"\nAuthentication cost (wrk, {CONNECTIONS} connection, {SECONDS} s x {ROUNDS} rounds x {PROCS} processes per "
          f"mode, SQLite, release build)")
    print(f"{'request':<30} | {'mode':<8} | {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} | {'p50 vs off':>10}")
    for name in workloads("x", "y"):
        base = figure(name, "auth off", "p50")
        for mode in modes:
            p50 = figure(name, mode, "p50")
            print(f"{name:<30} | {mode:<8} | {figure(name, mode, 'rps'):>8.0f} {p50:>8.3f} "
                  f"{figure(name, mode, 'p99'):>8.3f} | {100 * (p50 / base - 1):>+9.1f}%")
        a, b = (statistics.median(f["p50"] for f in results[(name, ("auth off", i))]) for i in range(2))
        print(f"{'':<30} | noise: the two auth-off processes differ by {100 * abs(a - b) / min(a, b):.1f}%")
    print(f"floor (wrk on /health, {CONNECTIONS} connections): {floor['rps']:.0f} req/s, p50 {floor['p50']:.3f} ms")


if __name__ == "__main__":
    main()
