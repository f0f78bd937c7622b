"""Big experiments: search_runs and the runs page over 100,000 and 1,000,000 runs.

aiops (release build) and `mlflow server` with 1 worker, each on SQLite of its own, get
the same runs written straight into their databases (bench.py's seeding: 2 params, 1 tag,
2 latest metrics a run). Then, over HTTP with one keep-alive session:
  - search_runs with a filter and a metric order, 100 rows (the figure bench.py prints);
  - search_runs in the default order, 100 rows;
  - aiops' runs page, default order and sorted by a metric (the whole HTML page);
and the floor: the same session against aiops' empty /health. MLflow is measured at
100,000 runs only: one of its searches there takes about half a minute.

Usage: python bench/scale.py --aiops target/release/aiops --mlflow .tools/mlflow-venv/bin/mlflow
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(__file__))
import bench  # noqa: E402

FILTER = "metrics.acc > 0.5 and params.lr = 'v3'"


def median_ms(session, calls):
    times = []
    for method, url, kwargs in calls:
        start = time.perf_counter()
        r = session.request(method, url, timeout=600, **kwargs)
        times.append((time.perf_counter() - start) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
    return statistics.median(times)


def searches(server, exp_id, repeat):
    s = requests.Session()
    s.headers["Authorization"] = bench.AUTHORIZATION
    api = f"{server.url}/api/2.0/mlflow/runs/search"
    filtered = {"experiment_ids": [exp_id], "filter": FILTER, "order_by": ["metrics.loss DESC"], "max_results": 100}
    default = {"experiment_ids": [exp_id], "max_results": 100}
    out = {
        "search_runs, filter + metric order, 100 rows (ms)": median_ms(s, [("POST", api, {"json": filtered})] * repeat),
        "search_runs, default order, 100 rows (ms)": median_ms(s, [("POST", api, {"json": default})] * repeat),
    }
    if server.name == "aiops":
        page = f"{server.url}/experiments/{exp_id}"
        sort = urllib.parse.quote("metrics.`loss` DESC")
        out["runs page, default order (ms)"] = median_ms(s, [("GET", page, {})] * repeat)
        out["runs page, sorted by a metric (ms)"] = median_ms(s, [("GET", f"{page}?sort={sort}", {})] * repeat)
        out["floor: GET /health (ms)"] = median_ms(s, [("GET", f"{server.url}/health", {})] * 50)
    return out


def seed(server, kind, runs):
    bench.BIG_RUNS = runs
    start = time.perf_counter()
    exp_id = bench.seed_big_experiment(server, kind)
    print(f"... {server.name}: {runs:,} runs written in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return exp_id


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--aiops", required=True)
    parser.add_argument("--mlflow", required=True)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="aiops-scale-") as work:
        servers = bench.start_servers(args.aiops, args.mlflow, work)
        # One MLflow worker is the reference; the 4-worker server is not needed here.
        servers[2].stop()
        aiops, mlflow = servers[0], servers[1]
        try:
            for runs in (100_000, 1_000_000):
                exp_id = seed(aiops, "aiops", runs)
                for name, value in searches(aiops, exp_id, 7).items():
                    rows.setdefault(name, {})[("aiops", runs)] = value
                if runs == 100_000:
                    exp_id = seed(mlflow, "mlflow", runs)
                    for name, value in searches(mlflow, exp_id, 3).items():
                        rows.setdefault(name, {})[("mlflow", runs)] = value
            rss = bench.rss_kib(aiops.proc.pid) / 1024
        finally:
            for server in servers[:2]:
                server.stop()
    print("| figure | aiops 100k | mlflow 1w 100k | vs mlflow | aiops 1M |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        a, m, big = values.get(("aiops", 100_000)), values.get(("mlflow", 100_000)), values.get(("aiops", 1_000_000))
        ratio = f"{m / a:,.0f}×" if a and m else ""
        cell = lambda v: f"{v:,.1f}" if v is not None else ""  # noqa: E731
        print(f"| {name} | {cell(a)} | {cell(m)} | {ratio} | {cell(big)} |")
    print(f"| aiops memory after both (MiB RSS) | | | | {rss:,.1f} |")


if __name__ == "__main__":
    main()
