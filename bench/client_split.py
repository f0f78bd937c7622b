"""Where an MLflow-client call against aiops spends its time: the client's own CPU, the server's
time (from its request log, tower_http's latency) and the rest (the loopback, waking up).

Usage: python bench/client_split.py target/release/aiops  (50 runs held on SQLite; 100 calls a figure, twice)
"""
import os, re, statistics, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(__file__))
import bench
import requests
BIN = sys.argv[1]
work = tempfile.mkdtemp(prefix="split-")
port = bench.free_port()
log = open(f"{work}/log.txt", "w")
env = {**os.environ, "RUST_LOG": "warn,tower_http=info", "AIOPS_ADMIN_PASSWORD": bench.ADMIN_PASSWORD, "NO_COLOR": "1"}
url = f"http://127.0.0.1:{port}"
server = bench.Server("aiops", [BIN, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", f"{work}/d"], url,
                      f"{work}/d/aiops.db", env=env, output=log)
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
client = MlflowClient(url)
exp = client.create_experiment(f"s-{uuid.uuid4().hex[:8]}")
ts = int(time.time() * 1000)
rids = []
for i in range(50):
    rid = client.create_run(exp, run_name=f"run-{i}").info.run_id; rids.append(rid)
    client.log_batch(rid, params=[Param(f"p{k}", f"v{(i + k) % 7}") for k in range(10)], tags=[RunTag(f"t{k}", f"tag{i % 3}") for k in range(5)])
    client.log_batch(rid, metrics=[Metric(f"m{k}", ((i * 7 + s * 3 + k) % 101) / 100, ts + s, s) for k in range(5) for s in range(100)])
probe = client.create_run(exp).info.run_id
def clock(name, fns, path):
    log.flush()
    start_pos = os.path.getsize(f"{work}/log.txt")
    walls, cpus = [], []
    for fn in fns:
        c, t = time.process_time(), time.perf_counter(); fn(); walls.append(time.perf_counter() - t); cpus.append(time.process_time() - c)
    time.sleep(0.3)
    with open(f"{work}/log.txt") as f:
        f.seek(start_pos); text = f.read()
    lat = [int(m) / 1000 for m in re.findall(r'uri=' + re.escape(path) + r'[^\n]*?latency=(\d+) μs', text)]
    w, c = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
    s = statistics.median(lat) if lat else float('nan')
    print(f"{name:28s} wall {w:6.2f}  client cpu {c:6.2f}  ratio {w/c:5.2f}  server {s:5.2f} ({len(lat)})  rest {w-c-s:5.2f} ms")
for rep in range(2):
    clock("log_batch (client)", [lambda j=j: client.log_batch(probe, metrics=[Metric(f"x{k}", j, ts + j, j) for k in range(10)]) for j in range(100)], "/api/2.0/mlflow/runs/log-batch")
    clock("search (client)", [lambda: client.search_runs([exp], "metrics.m0 > 0.3 and params.p0 = 'v1'", order_by=["metrics.m1 DESC"], max_results=100)] * 100, "/api/2.0/mlflow/runs/search")
    clock("history (client)", [lambda j=j: client.get_metric_history(rids[j % 50], "m2") for j in range(100)], "/api/2.0/mlflow/metrics/get-history")
    s = requests.Session(); s.headers["Authorization"] = bench.AUTHORIZATION
    clock("GET /health (requests)", [lambda: s.get(f"{url}/health").content] * 200, "/health")
server.stop()

import shutil
shutil.rmtree(work, ignore_errors=True)
