"""Mixed load and idle connections: aiops (release) beside `mlflow server` (4 workers), one run.

Mixed load: `wrk` drives log_batch (500 entities a call) and search_runs at 16 and 64
connections, first writes alone, then writers and searchers together (half the connections
each). Printed per server: write req/s and p99, search req/s. The load generator's own floor
is wrk against aiops' empty `/health` route at the same connection counts.

Idle connections: 5,000 sockets opened to aiops, each after one request kept idle; aiops'
RSS before, with them open, and 3 s after they close.
"""
import argparse
import json
import os
import resource
import socket
import subprocess
import tempfile
import time

import requests

from bench import ADMIN_PASSWORD, AUTHORIZATION, Server, free_port, rss_kib

SECONDS = 10
IDLE = 5000
# wrk's own default (2 s) counts a slow answer as an error; with 64 writers queued on
# SQLite's one writer an answer can take longer, so "err" here means a failed request.
TIMEOUT = "30s"

# Each wrk run prints its figures as one JSON line.
DONE_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format("WRKJSON {\"rps\": %f, \"p50\": %f, \"p99\": %f, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
"""

# A POST of a JSON body to a path; STEP in the body becomes a random step per request.
POST_LUA = r"""
local body_template = BODY
local path = "PATH"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "AUTHORIZATION"
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  local body = body_template:gsub("STEP", tostring(math.random(1, 2000000000)))
  return wrk.format("POST", path, nil, body)
end
""" + DONE_LUA


def post_lua(body, path):
    return (POST_LUA.replace("BODY", json.dumps(body), 1).replace('"PATH"', json.dumps(path), 1)
            .replace('"AUTHORIZATION"', json.dumps(AUTHORIZATION), 1))


def lua_file(work, name, text):
    path = os.path.join(work, f"{name}.lua")
    with open(path, "w") as f:
        f.write(text)
    return path


def wrk(url, script, connections, seconds=SECONDS):
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", TIMEOUT, "--latency",
         "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    return json.loads(line[len("WRKJSON "):])


def prepare(server):
    api = f"{server.url}/api/2.0/mlflow"
    exp = requests.post(f"{api}/experiments/create", json={"name": "load"}, timeout=30).json()["experiment_id"]
    run = requests.post(f"{api}/runs/create", json={"experiment_id": exp, "start_time": 1}, timeout=30).json()
    run_id = run["run"]["info"]["run_id"]
    # 200 runs to search over, like the client benchmark's.
    for i in range(200):
        r = requests.post(f"{api}/runs/create", json={"experiment_id": exp, "start_time": i + 2}, timeout=30).json()
        rid = r["run"]["info"]["run_id"]
        requests.post(f"{api}/runs/log-batch", timeout=30, json={
            "run_id": rid,
            "params": [{"key": "model", "value": "cnn" if i % 10 == 0 else "mlp"}],
            "metrics": [{"key": "acc", "value": i / 200, "timestamp": 1, "step": 0}],
        })
    return exp, run_id


def scripts(work, exp, run_id):
    # 500 entities: 100 params would be refused after the first call (immutable), so
    # 500 metrics with a random step each call, as a training loop logs them.
    metrics = ",".join(
        f'{{"key": "m{k}", "value": {k}.5, "timestamp": 1700000000000, "step": STEP}}' for k in range(500)
    )
    batch = f'{{"run_id": "{run_id}", "metrics": [{metrics}]}}'
    search = json.dumps({
        "experiment_ids": [exp], "filter": "params.model = 'cnn'", "order_by": ["metrics.acc DESC"],
        "max_results": 100,
    })
    return (
        lua_file(work, f"batch-{run_id}", post_lua(batch, "/api/2.0/mlflow/runs/log-batch")),
        lua_file(work, f"search-{run_id}", post_lua(search, "/api/2.0/mlflow/runs/search")),
    )


def mixed(server, work):
    exp, run_id = prepare(server)
    batch, search = scripts(work, exp, run_id)
    url = server.url
    figures = {}
    for conns in (16, 64):
        figures[f"writes alone {conns}"] = wrk(url, batch, conns)
        half = conns // 2
        w = subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(half), "-d", f"{SECONDS}s", "--timeout", TIMEOUT, "--latency", "-s", batch, url],
            stdout=subprocess.PIPE, text=True)
        s = subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(half), "-d", f"{SECONDS}s", "--timeout", TIMEOUT, "--latency", "-s", search, url],
            stdout=subprocess.PIPE, text=True)
        for name, proc in ((f"mixed writes {conns}", w), (f"mixed searches {conns}", s)):
            out, _ = proc.communicate()
            line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
            figures[name] = json.loads(line[len("WRKJSON "):])
    return figures


def idle_memory(server):
    host, port = server.url.split("//")[1].split(":")
    port = int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 1000), hard))
    before = rss_kib(server.proc.pid)
    sockets = []
    for _ in range(IDLE):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sockets.append(s)
    for s in sockets:
        s.recv(4096)
    time.sleep(1)
    during = rss_kib(server.proc.pid)
    for s in sockets:
        s.close()
    time.sleep(3)
    after = rss_kib(server.proc.pid)
    return before, during, after


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aiops", required=True)
    ap.add_argument("--mlflow", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aiops-load-")
    results, floors = {}, {}

    port = free_port()
    d = os.path.join(work, "aiops")
    aiops = Server("aiops", [args.aiops, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", d],
                   f"http://127.0.0.1:{port}", os.path.join(d, "aiops.db"),
                   env={**os.environ, "RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": ADMIN_PASSWORD})
    try:
        get_script = lua_file(work, "get", DONE_LUA)
        for conns in (16, 64):
            floors[conns] = wrk(f"{aiops.url}/health", get_script, conns)
        results["aiops"] = mixed(aiops, work)
        memory = idle_memory(aiops)
    finally:
        aiops.stop()

    port = free_port()
    d = os.path.join(work, "mlflow")
    os.makedirs(d)
    db = os.path.join(d, "mlflow.db")
    mlflow = Server("mlflow 4w", [args.mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "4",
                                  "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination",
                                  os.path.join(d, "artifacts")], f"http://127.0.0.1:{port}", db)
    try:
        results["mlflow 4w"] = mixed(mlflow, work)
    finally:
        mlflow.stop()

    print("\nMixed load on SQLite (wrk, keep-alive, %d s each; log_batch of 500 metrics, search_runs of 100 rows)" % SECONDS)
    print(f"{'figure':<26} | {'aiops req/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'err':>5} | "
          f"{'mlflow req/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'err':>5}")
    for name in results["aiops"]:
        a, m = results["aiops"][name], results["mlflow 4w"][name]
        print(f"{name:<26} | {a['rps']:>11.1f} {a['p50']:>8.2f} {a['p99']:>8.2f} {a['errors'] + a['non2xx']:>5} | "
              f"{m['rps']:>12.1f} {m['p50']:>8.2f} {m['p99']:>8.2f} {m['errors'] + m['non2xx']:>5}")
    for conns in (16, 64):
        alone = results["aiops"][f"writes alone {conns}"]["rps"]
        mixed_w = results["aiops"][f"mixed writes {conns}"]["rps"]
        print(f"aiops writes under mixed load at {conns} connections: {mixed_w / alone:.0%} of writes alone")
    for conns, f in floors.items():
        print(f"floor (wrk on aiops /health, {conns} connections): {f['rps']:.0f} req/s, p50 {f['p50']:.3f} ms, "
              f"p99 {f['p99']:.3f} ms")
    before, during, after = memory
    print(f"\naiops RSS with {IDLE} idle connections: before {before / 1024:.1f} MiB, open {during / 1024:.1f} MiB "
          f"({(during - before) / IDLE:.1f} KiB each), 3 s after they close {after / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
