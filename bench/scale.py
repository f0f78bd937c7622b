"""Big experiments: search_runs and the runs page over 100,000 and 1,000,000 runs.

aiops (release build) and `mlflow server` with 1 worker, each on SQLite of its own, get
the same runs written straight into their databases (bench.py's seeding: 2 params, 1 tag,
2 latest metrics a run). Then, over HTTP with one keep-alive session:
  - search_runs with a filter and a metric order, 100 rows (the figure bench.py prints);
  - search_runs in the default order, 100 rows;
  - aiops' runs page, default order and sorted by a metric (the whole HTML page);
and the floor: the same session against aiops' empty /health. MLflow is measured at
100,000 runs only: one of its searches there takes about half a minute.

Long histories: a metric of 1,000,000 steps written straight into each database, then
  - get-history-bulk-interval, 320 points (what a chart asks for);
  - the whole history through get-history's pages, as the MLflow client reads it;
  - aiops' streamed CSV download of it;
each with the server's peak RSS while it answers (sampled every 10 ms).

Usage: python bench/scale.py --aiops target/release/aiops --mlflow .tools/mlflow-venv/bin/mlflow
"""
import os
import statistics
import sys
import tempfile
import time
import uuid
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(__file__))
import bench  # noqa: E402
import production  # noqa: E402

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
        q = urllib.parse.quote(FILTER)
        out["runs page, filter + sorted by a metric (ms)"] = median_ms(
            s, [("GET", f"{page}?q={q}&sort={sort}", {})] * repeat)
        out["floor: GET /health (ms)"] = median_ms(s, [("GET", f"{server.url}/health", {})] * 50)
    return out


HISTORY = 1_000_000


def seed_history(server, kind, exp_id):
    """A run with a 1,000,000-step metric `long`, written straight into the database."""
    api = f"{server.url}/api/2.0/mlflow"
    run = requests.post(f"{api}/runs/create", json={"experiment_id": exp_id, "start_time": 1}, timeout=30).json()
    run_id = run["run"]["info"]["run_id"]
    con = bench.Db(server.db)
    points = ((run_id, "long", s, 1700000000000 + s, 1 / (s + 1)) for s in range(HISTORY))
    last = (run_id, HISTORY - 1, 1700000000000 + HISTORY - 1, 1 / HISTORY)
    if kind == "aiops":
        con.executemany("INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, 0)",
                        list(points))
        con.execute("INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan, start_time) "
                    "VALUES (?, 'long', ?, ?, ?, 0, 1)", last)
    else:
        # MLflow's is_nan is a boolean on PostgreSQL.
        con.executemany("INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan) "
                        "VALUES (?, ?, ?, ?, ?, FALSE)", list(points))
        con.execute("INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) "
                    "VALUES (?, 'long', ?, ?, ?, FALSE)", last)
    con.close()
    return run_id


def histories(server, exp_id, run_id, repeat):
    s = requests.Session()
    s.headers["Authorization"] = bench.AUTHORIZATION
    api = f"{server.url}/api/2.0/mlflow/metrics"
    bulk = (f"{api}/get-history-bulk-interval?run_ids={run_id}&metric_key=long&max_results=320")
    out = {"history of 1M steps: get-history-bulk-interval, 320 points (ms)": median_ms(s, [("GET", bulk, {})] * repeat)}
    sampled = s.get(bulk, timeout=600).json()["metrics"]
    assert len(sampled) == 320 and sampled[-1]["step"] == HISTORY - 1, (len(sampled), sampled[-1])

    with bench.PeakRss(server.proc.pid) as rss:
        start, token, points = time.perf_counter(), None, 0
        while True:
            params = {"run_id": run_id, "metric_key": "long"}
            if token:
                params["page_token"] = token
            body = s.get(f"{api}/get-history", params=params, timeout=600).json()
            points += len(body.get("metrics", []))
            token = body.get("next_page_token")
            if not token:
                break
        out["history of 1M steps: whole, through get-history pages (ms)"] = (time.perf_counter() - start) * 1000
    assert points == HISTORY, points
    out["history of 1M steps: server peak RSS while paging (MiB)"] = rss.peak / 1024
    if server.name == "aiops":
        with bench.PeakRss(server.proc.pid) as rss:
            start, lines = time.perf_counter(), 0
            with s.get(f"{server.url}/api/2.0/aiops/metrics/history-csv",
                       params={"run_id": run_id, "metric_key": "long"}, stream=True, timeout=600) as r:
                r.raise_for_status()
                for chunk in r.iter_content(1 << 16):
                    lines += chunk.count(b"\n")
            out["history of 1M steps: streamed CSV download (ms)"] = (time.perf_counter() - start) * 1000
        assert lines == HISTORY + 1, lines
        out["history of 1M steps: server peak RSS while streaming (MiB)"] = rss.peak / 1024
    return out


def seed(server, kind, runs):
    bench.BIG_RUNS = runs
    start = time.perf_counter()
    exp_id = bench.seed_big_experiment(server, kind)
    print(f"... {server.name}: {runs:,} runs written in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return exp_id


def main():
    args = production.arguments()
    setting = args.setting
    rows = {}
    with tempfile.TemporaryDirectory(prefix="aiops-scale-") as work, \
            production.services(args) as services:
        # One MLflow worker is the reference.
        servers = bench.start_servers(args.aiops, args.mlflow, work, services, workers=(1,))
        aiops, mlflow = servers[0], servers[1]
        try:
            for runs in (100_000, 1_000_000):
                exp_id = seed(aiops, "aiops", runs)
                for name, value in searches(aiops, exp_id, 21).items():
                    rows.setdefault(name, {})[("aiops", runs)] = value
                if runs == 100_000:
                    for name, value in histories(aiops, exp_id, seed_history(aiops, "aiops", exp_id), 7).items():
                        rows.setdefault(name, {})[("aiops", runs)] = value
                    exp_id = seed(mlflow, "mlflow", runs)
                    for name, value in searches(mlflow, exp_id, 3).items():
                        rows.setdefault(name, {})[("mlflow", runs)] = value
                    run_id = seed_history(mlflow, "mlflow", exp_id)
                    for name, value in histories(mlflow, exp_id, run_id, 3).items():
                        rows.setdefault(name, {})[("mlflow", runs)] = value
            rss = bench.rss_kib(aiops.proc.pid) / 1024
        finally:
            for server in servers[:2]:
                server.stop()
    print(f"\nBig experiments and long histories ({setting})")
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
