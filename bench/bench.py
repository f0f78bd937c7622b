"""Same MLflow-client workload against aiops and `mlflow server` (1 and 4 workers), one run.

Every server gets SQLite and a local artifact folder of its own, on 127.0.0.1 only; with
`--production`, a PostgreSQL database and an S3 bucket of its own (bench/production.py).
Prints one table with medians and ratios (MLflow time / aiops time). Bounded: fixed
request counts, and every server is stopped at the end.
"""
import base64
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

import production

RUNS = 200
PARAMS, TAGS, METRICS, STEPS = 10, 5, 5, 100
SAMPLES = 50
BIG_RUNS = 100_000


# aiops signs every caller in: the benchmark acts as its first admin. `mlflow server`
# (no auth app) ignores the header, so both servers see the same requests.
ADMIN_PASSWORD = "bench-admin-password"
AUTHORIZATION = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
os.environ["MLFLOW_TRACKING_USERNAME"] = "admin"
os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN_PASSWORD
_plain_request = requests.Session.request


def _signed_request(self, method, url, **kwargs):
    headers = dict(kwargs.get("headers") or {})
    if not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = AUTHORIZATION
    kwargs["headers"] = headers
    return _plain_request(self, method, url, **kwargs)


requests.Session.request = _signed_request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, proc, limit=120):
    start = time.time()
    while time.time() - start < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {url}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start: {url}")


def rss_kib(pid):
    """Resident memory of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
    return total


def session_cpu_seconds(sid):
    """CPU time (user + system) used so far by the processes of session `sid` (a server
    started with `start_new_session`: its workers, job runners and their helpers)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == sid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_quiet(name, pid, limit=180):
    """Waits until a started server has settled: under 10% of a core for two seconds running.

    `mlflow server` answers HTTP seconds before its job runner and huey consumers have
    started; until then (about 10 s for 4 workers here) it keeps both cores busy, and
    whatever is measured meanwhile, on any server, measures that instead.
    """
    start, quiet, last = time.time(), 0, session_cpu_seconds(pid)
    while quiet < 2:
        if time.time() - start > limit:
            raise RuntimeError(f"{name} still busy {limit} s after it answered")
        time.sleep(1)
        now = session_cpu_seconds(pid)
        quiet = quiet + 1 if now - last < 0.1 else 0
        last = now
    print(f"... {name}: settled {time.time() - start:.0f} s after it answered", file=sys.stderr, flush=True)


class PeakRss:
    """The highest RSS of a process (and its children) while the block runs."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def _poll(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self):
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Server:
    def __init__(self, name, command, url, db, env=None, output=subprocess.DEVNULL):
        """`output`: where the server's stdout and stderr go (a file to read its log)."""
        self.name, self.url, self.db = name, url, db
        self.proc = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True, env=env)
        wait_up(f"{url}/api/2.0/mlflow/experiments/get?experiment_id=0", self.proc)
        wait_quiet(name, self.proc.pid)

    def stop(self):
        stop_group(self.proc, 20)


def stop_group(proc, grace):
    """Stops a server started in its own session, and its children: TERM, then KILL after `grace` s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def start_servers(aiops_bin, mlflow_bin, work, services=None, workers=(1, 4)):
    """aiops and `mlflow server` with each number of `workers`: on SQLite and local folders,
    or, given `services` (production.Services), each on a PostgreSQL database and an S3
    bucket of its own on the same PostgreSQL and S3 servers."""
    servers = []
    port = free_port()
    d = os.path.join(work, "aiops")
    command = [aiops_bin, "serve", "--addr", f"127.0.0.1:{port}", "--data-dir", d]
    env = {**os.environ, "RUST_LOG": "warn", "AIOPS_ADMIN_PASSWORD": ADMIN_PASSWORD}
    db = os.path.join(d, "aiops.db")
    if services:
        db = services.database("aiops")
        command += ["--database-url", db, "--artifacts", services.bucket("aiops")]
        env.update(services.s3_env)
    servers.append(Server("aiops", command, f"http://127.0.0.1:{port}", db, env=env))
    for n in workers:
        port = free_port()
        d = os.path.join(work, f"mlflow-{n}")
        os.makedirs(d)
        db = os.path.join(d, "mlflow.db")
        store, artifacts, env = f"sqlite:///{db}", os.path.join(d, "artifacts"), None
        if services:
            db = services.database(f"mlflow{n}")
            store, artifacts = db.replace("postgres://", "postgresql+psycopg2://", 1), services.bucket(f"mlflow{n}")
            env = {**os.environ, **services.s3_env, "MLFLOW_S3_ENDPOINT_URL": services.s3_env["AWS_ENDPOINT_URL"]}
        servers.append(Server(
            f"mlflow {n}w",
            [mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", str(n),
             "--backend-store-uri", store, "--artifacts-destination", artifacts],
            f"http://127.0.0.1:{port}", db, env=env))
    return servers


class Db:
    """A server's own database for seeding: SQLite (a file path) or PostgreSQL (a URL),
    with `?` placeholders either way; many rows go to PostgreSQL in multi-row inserts."""

    def __init__(self, where):
        self.pg = where.startswith("postgres")
        if self.pg:
            import psycopg2

            self.con = psycopg2.connect(where)
        else:
            self.con = sqlite3.connect(where, timeout=60)

    def executemany(self, sql, rows):
        if not self.pg:
            self.con.executemany(sql, rows)
            return
        from psycopg2.extras import execute_values

        head, values = sql.split(" VALUES ", 1)
        with self.con.cursor() as cur:
            execute_values(cur, head + " VALUES %s", rows, template=values.replace("?", "%s"), page_size=5000)

    def execute(self, sql, row=()):
        if self.pg:
            with self.con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), row)
        else:
            self.con.execute(sql, row)

    def close(self):
        self.con.commit()
        if self.pg:
            # A settled database, as autovacuum leaves a bulk load a while later: fresh
            # statistics, the visibility map set and hint bits written, for every server alike
            # (otherwise the first reads of the new rows write their hint bits).
            self.con.autocommit = True
            with self.con.cursor() as cur:
                cur.execute("VACUUM ANALYZE")
        self.con.close()


class Clock:
    """Wall time of each call, and the client process's own CPU time during it.

    The CPU time is what the Python client itself spends (building requests, parsing
    replies into entities). No server can make a call faster than that, so
    MLflow's figure divided by it is the best ratio any server could reach.
    """

    def __init__(self):
        self.cpu = {}

    def figure(self, name, calls, scale=1000):
        walls, cpus = [], []
        for fn in calls:
            cpu, start = time.process_time(), time.perf_counter()
            fn()
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        self.cpu[name] = scale * statistics.median(cpus)
        return scale * statistics.median(walls)


def workload(server):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    mlflow.set_tracking_uri(server.url)
    client = MlflowClient(server.url)
    exp = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    ts = int(time.time() * 1000)
    run_ids = []

    def ingest():
        for i in range(RUNS):
            run = client.create_run(exp, run_name=f"run-{i}")
            rid = run.info.run_id
            run_ids.append(rid)
            client.log_batch(rid, params=[Param(f"p{k}", f"v{(i + k) % 7}") for k in range(PARAMS)],
                             tags=[RunTag(f"t{k}", f"tag{i % 3}") for k in range(TAGS)])
            client.log_batch(rid, metrics=[Metric(f"m{k}", ((i * 7 + s * 3 + k) % 101) / 100, ts + s, s)
                                           for k in range(METRICS) for s in range(STEPS)])
            client.set_terminated(rid)

    clock = Clock()
    out = {"ingest (s)": clock.figure("ingest (s)", [ingest], scale=1)}
    probe = client.create_run(exp).info.run_id
    name = "log_batch median (ms)"
    out[name] = clock.figure(name, [
        lambda j=j: client.log_batch(probe, metrics=[Metric(f"x{k}", j, ts + j, j) for k in range(10)])
        for j in range(SAMPLES)])
    name = "search_runs median (ms)"
    out[name] = clock.figure(name, [
        lambda: client.search_runs([exp], "metrics.m0 > 0.3 and params.p0 = 'v1'",
                                   order_by=["metrics.m1 DESC"], max_results=100)] * SAMPLES)
    name = "metric history median (ms)"
    out[name] = clock.figure(name, [
        lambda j=j: client.get_metric_history(run_ids[j % RUNS], "m2") for j in range(SAMPLES)])

    # The same calls at the HTTP level: a keep-alive session, bodies not parsed into
    # entities. This is closer to the servers' own cost; the client adds milliseconds.
    http = requests.Session()
    api = f"{server.url}/api/2.0/mlflow"
    name = "HTTP log_batch median (ms)"
    out[name] = clock.figure(name, [
        lambda j=j: http.post(f"{api}/runs/log-batch", json={
            "run_id": probe, "metrics": [{"key": f"h{k}", "value": j, "timestamp": ts + j, "step": j}
                                         for k in range(10)]})
        for j in range(SAMPLES)])
    name = "HTTP search_runs median (ms)"
    out[name] = clock.figure(name, [
        lambda: http.post(f"{api}/runs/search", json={
            "experiment_ids": [exp], "filter": "metrics.m0 > 0.3 and params.p0 = 'v1'",
            "order_by": ["metrics.m1 DESC"], "max_results": 100}).content] * SAMPLES)
    name = "HTTP metric history median (ms)"
    out[name] = clock.figure(name, [
        lambda j=j: http.get(f"{api}/metrics/get-history", params={
            "run_id": run_ids[j % RUNS], "metric_key": "m2"}).content
        for j in range(SAMPLES)])
    return out, clock.cpu


def seed_big_experiment(server, kind):
    """Writes 100,000 runs with 2 params, 1 tag and 2 latest metrics straight into the server's database."""
    exp_id = requests.post(f"{server.url}/api/2.0/mlflow/experiments/create",
                           json={"name": f"big-{uuid.uuid4().hex[:8]}"}, timeout=30).json()["experiment_id"]
    con = Db(server.db)
    now = int(time.time() * 1000)
    rows = [(uuid.uuid4().hex, i) for i in range(BIG_RUNS)]
    if kind == "aiops":
        con.executemany("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
                        "lifecycle_stage, artifact_uri) VALUES (?, ?, ?, 'bench', 'FINISHED', ?, ?, 'active', ?)",
                        [(r, int(exp_id), f"big-{i}", now - i, now - i + 5, f"mlflow-artifacts:/{exp_id}/{r}/artifacts")
                         for r, i in rows])
        latest = ("INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan, start_time) "
                  "VALUES (?, ?, 0, ?, ?, 0, ?)")
    else:
        con.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
                        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                        "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
                        [(r, f"big-{i}", now - i, now - i + 5, f"mlflow-artifacts:/{exp_id}/{r}/artifacts", int(exp_id))
                         for r, i in rows])
        # MLflow's is_nan is a boolean on PostgreSQL.
        latest = "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, 0, ?, ?, FALSE)"
    con.executemany("INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)",
                    [(r, k, f"v{i % 10}") for r, i in rows for k in ("lr", "depth")])
    con.executemany("INSERT INTO tags (run_uuid, key, value) VALUES (?, 'mlflow.runName', ?)",
                    [(r, f"big-{i}") for r, i in rows])
    # aiops' latest_metrics also carries the run's start_time (its metric-order index).
    extra = (lambda i: (now - i,)) if kind == "aiops" else (lambda i: ())
    con.executemany(latest, [(r, k, now, ((i * 31 + len(k)) % 1000) / 1000) + extra(i)
                             for r, i in rows for k in ("acc", "loss")])
    con.close()
    return exp_id


def big_search(server, exp_id, clock, name):
    from mlflow import MlflowClient

    client = MlflowClient(server.url)
    return clock.figure(name, [
        lambda: client.search_runs([exp_id], "metrics.acc > 0.5 and params.lr = 'v3'",
                                   order_by=["metrics.loss DESC"], max_results=100)] * 5)


def main():
    args = production.arguments()
    results, client_cpu = {}, {}
    with tempfile.TemporaryDirectory(prefix="aiops-bench-") as work, production.services(args) as services:
        servers = start_servers(args.aiops, args.mlflow, work, services)
        try:
            for server in servers:
                print(f"... {server.name}: client workload", file=sys.stderr, flush=True)
                results[server.name], cpu = workload(server)
                kind = "aiops" if server.name == "aiops" else "mlflow"
                print(f"... {server.name}: seeding {BIG_RUNS} runs", file=sys.stderr, flush=True)
                exp_id = seed_big_experiment(server, kind)
                name = f"search_runs over {BIG_RUNS:,} runs median (ms)"
                clock = Clock()
                results[server.name][name] = big_search(server, exp_id, clock, name)
                cpu.update(clock.cpu)
                client_cpu[server.name] = cpu
                results[server.name]["server memory (MiB RSS)"] = rss_kib(server.proc.pid) / 1024
        finally:
            for server in servers:
                server.stop()

    print(f"\nThe MLflow client's workload ({args.setting})")
    names = list(results)
    metrics = list(results["aiops"])
    width = max(len(m) for m in metrics) + 2
    header = f"{'figure':<{width}}" + "".join(f"{n:>14}" for n in names) + "".join(
        f"{'vs ' + n:>16}" for n in names[1:]) + f"{'client CPU':>14}" + "".join(
        f"{'bound vs ' + n:>22}" for n in names[1:])
    print(header)
    print("-" * len(header))
    for m in metrics:
        row = f"{m:<{width}}" + "".join(f"{results[n][m]:>14.2f}" for n in names)
        row += "".join(f"{results[n][m] / results['aiops'][m]:>15.1f}x" for n in names[1:])
        floor = client_cpu["aiops"].get(m)
        if floor:
            row += f"{floor:>14.2f}" + "".join(f"{results[n][m] / floor:>21.1f}x" for n in names[1:])
        print(row)
    print("\nratio = MLflow figure / aiops figure (higher is better for aiops; memory too).")
    print("client CPU = median CPU time the benchmark's own Python process spent per call against aiops")
    print("(the MLflow client and requests); bound = MLflow figure / client CPU, the best ratio a server")
    print("that answered in zero time could reach with this client.")


if __name__ == "__main__":
    main()
