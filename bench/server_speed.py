"""The server's own speed, without the MLflow client in the way: wrk at the HTTP level.

aiops (release build) and `mlflow server` with 1 and 4 workers, each on SQLite and a local
folder, get the same three calls from `wrk` (keep-alive, Lua bodies), at 1 and at 16
connections, SECONDS each:
  - log_batch of 500 metrics as a training loop flushes them: 5 keys x 100 steps, the steps
    going on from call to call;
  - log_batch of 500 metrics under 500 keys, one step each (a random step per call): every
    row lands in a different key's history, the most scattered write there is;
  - search_runs with a filter and a metric order over 200 runs, 100 rows;
  - get-history of a 100-point metric.
The servers take each figure in turn, so a change in this machine's speed during the run
falls on all of them alike. Printed per figure: median (p50) and p99 latency, requests per
second, and aiops' median against each MLflow's. The floor is wrk against aiops' empty
`/health` route at the same connection counts: the load generator's own cost on this machine,
which bounds every figure.

Usage: python bench/server_speed.py --aiops target/release/aiops --mlflow .tools/mlflow-venv/bin/mlflow
"""
import json
import os
import sys
import tempfile

import requests

sys.path.insert(0, os.path.dirname(__file__))
import bench  # noqa: E402
import production  # noqa: E402
import load  # noqa: E402

SECONDS = 8
CONNECTIONS = (1, 16)

# 5 keys x 100 steps a call; each wrk thread counts its own steps from a random base.
LOOP_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "AUTHORIZATION"
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
local base = math.random(1, 1000000) * 1000000
local n = 0
request = function()
  n = n + 1
  local parts = {}
  for k = 0, 4 do
    for j = 0, 99 do
      parts[#parts + 1] = string.format('{"key": "m%d", "value": %d.25, "timestamp": %d, "step": %d}',
        k, j, 1700000000000 + n, base + n * 100 + j)
    end
  end
  return wrk.format("POST", "/api/2.0/mlflow/runs/log-batch", nil,
    '{"run_id": "RUN_ID", "metrics": [' .. table.concat(parts, ",") .. ']}')
end
""" + load.DONE_LUA

GET_LUA = r"""
wrk.headers["Authorization"] = "AUTHORIZATION"
""" + load.DONE_LUA


def prepare(server, work):
    """The experiment, runs and history the three calls use, and their wrk scripts."""
    exp, run_id = load.prepare(server)
    api = f"{server.url}/api/2.0/mlflow"
    hist = requests.post(f"{api}/runs/create", json={"experiment_id": exp, "start_time": 1}, timeout=30).json()
    hist_id = hist["run"]["info"]["run_id"]
    r = requests.post(f"{api}/runs/log-batch", timeout=30, json={
        "run_id": hist_id,
        "metrics": [{"key": "loss", "value": 1 / (s + 1), "timestamp": 1700000000000 + s, "step": s}
                    for s in range(100)]})
    r.raise_for_status()
    # On PostgreSQL, statistics for the new rows, as autovacuum would give them a minute later:
    # without them the planner took the 200 runs for one and searched by nested loops.
    bench.Db(server.db).close()
    batch, search = load.scripts(work, exp, run_id)
    get = load.lua_file(work, f"get-{hist_id}", GET_LUA.replace('"AUTHORIZATION"', json.dumps(bench.AUTHORIZATION)))
    history = f"{server.url}/api/2.0/mlflow/metrics/get-history?run_id={hist_id}&metric_key=loss"
    check = requests.get(history, timeout=30).json()
    assert len(check["metrics"]) == 100, check
    loop = load.lua_file(work, f"loop-{run_id}", LOOP_LUA.replace('"AUTHORIZATION"', json.dumps(bench.AUTHORIZATION))
                         .replace("RUN_ID", run_id))
    return {
        "log_batch, 500 metrics: 5 keys x 100 steps": (server.url, loop),
        "log_batch, 500 metrics: 500 keys x 1 step": (server.url, batch),
        "search_runs, filter + metric order, 100 rows": (server.url, search),
        "get-history, 100 points": (history, get),
    }


def figure(server, url, script, conns):
    print(f"... {server.name}: {url.split('?')[0]} {conns} connection(s)", file=sys.stderr, flush=True)
    out = load.wrk(url, script, conns, SECONDS)
    # wrk stops with requests still queued in a saturated server: let it drain, or
    # the next figure would measure the backlog of this one.
    requests.get(f"{server.url}/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=600)
    return out


def main():
    args = production.arguments()
    setting = args.setting
    floors = {}
    with tempfile.TemporaryDirectory(prefix="aiops-http-") as work, \
            production.services(args) as services:
        servers = bench.start_servers(args.aiops, args.mlflow, work, services)
        try:
            aiops = servers[0]
            get = load.lua_file(work, "floor", GET_LUA.replace('"AUTHORIZATION"', json.dumps(bench.AUTHORIZATION)))
            for conns in CONNECTIONS:
                floors[conns] = load.wrk(f"{aiops.url}/health", get, conns, SECONDS)
            calls = {server.name: prepare(server, work) for server in servers}
            results = {server.name: {} for server in servers}
            # Each figure on every server in turn (each server still gets the figures in the
            # same order): this machine's speed drifts over minutes, and measured server after
            # server the drift fell on one of them.
            for conns in CONNECTIONS:
                for name in calls["aiops"]:
                    for server in servers:
                        url, script = calls[server.name][name]
                        results[server.name][(name, conns)] = figure(server, url, script, conns)
        finally:
            for server in servers:
                server.stop()

    names = list(results)
    print(f"\nServer speed at the HTTP level (wrk, keep-alive, {SECONDS} s a figure; {setting})")
    print("| figure | conns | " + " | ".join(f"{n} p50 ms | {n} p99 ms | {n} req/s" for n in names)
          + " | " + " | ".join(f"aiops vs {n} (p50)" for n in names[1:]) + " |")
    print("|---|---:|" + "---:|" * (3 * len(names) + len(names) - 1))
    for (name, conns) in results["aiops"]:
        cells = []
        for n in names:
            f = results[n][(name, conns)]
            bad = f["errors"] + f["non2xx"]
            note = f" ({bad} failed)" if bad else ""
            cells += [f"{f['p50']:,.2f}", f"{f['p99']:,.2f}", f"{f['rps']:,.1f}{note}"]
        a = results["aiops"][(name, conns)]["p50"]
        ratios = [f"{results[n][(name, conns)]['p50'] / a:,.1f}×" for n in names[1:]]
        print(f"| {name} | {conns} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    for conns, f in floors.items():
        print(f"| floor: wrk on aiops' empty /health | {conns} | {f['p50']:,.3f} | {f['p99']:,.3f} | {f['rps']:,.0f} |"
              + " |" * (3 * (len(names) - 1) + len(names) - 1))


if __name__ == "__main__":
    main()
