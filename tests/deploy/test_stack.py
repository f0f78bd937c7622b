"""The production shape on loopback: two aiops replicas on one PostgreSQL and one S3 server
(s3s-fs), Debian's nginx in front (the compose template), Debian's Prometheus scraping both
with the metrics token and loading the alert rules. After `aiops demo --url <nginx>`, every
Grafana panel's query returns data; the replicas behave as one; a 200 MB artifact goes up
through nginx with the MLflow client."""
import base64
import json
import os
import re
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import DEPLOY, ROOT, required_env, required_tool
from test_config import dashboard, render_nginx

TOKEN = "deploy-test-metrics-token-0123"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, limit=60, headers=None, ok=lambda r: r.status_code == 200):
    started = time.time()
    last = None
    while time.time() - started < limit:
        try:
            last = requests.get(url, headers=headers, timeout=5)
            if ok(last):
                return last
        except requests.RequestException as e:
            last = e
        time.sleep(0.2)
    pytest.fail(f"{url} not ready after {limit}s: {last}")


class Stack:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs = []
        self.password = required_env("AIOPS_ADMIN_PASSWORD")
        self.auth = ("admin", self.password)
        admin_url = required_env("AIOPS_TEST_POSTGRES_URL")
        name = f"stack_{uuid.uuid4().hex[:10]}"
        psql = os.path.join(os.environ["PGBIN"], "psql") if os.environ.get("PGBIN") else required_tool("psql")
        subprocess.run([psql, admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
        self.database_url = admin_url.rsplit("/", 1)[0] + "/" + name
        bucket = f"stack-{uuid.uuid4().hex[:10]}"
        (Path(required_env("AIOPS_TEST_S3_ROOT")) / bucket).mkdir()
        self.env = {
            **os.environ,
            "AIOPS_DATABASE_URL": self.database_url,
            "AIOPS_ARTIFACTS": f"s3://{bucket}/artifacts",
            "AWS_ACCESS_KEY_ID": required_env("AIOPS_TEST_S3_ACCESS_KEY"),
            "AWS_SECRET_ACCESS_KEY": required_env("AIOPS_TEST_S3_SECRET_KEY"),
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": required_env("AIOPS_TEST_S3_ENDPOINT"),
            "AIOPS_METRICS_TOKEN": TOKEN,
            "AIOPS_ALLOWED_HOSTS": "*",
        }
        self.binary = required_env("AIOPS_BIN")
        required_env("ORT_DYLIB_PATH")

    def spawn(self, name, args, env=None):
        log = open(self.tmp / f"{name}.log", "wb")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env or self.env, cwd=self.tmp)
        self.procs.append((name, proc))
        return proc

    def log(self, name):
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def start(self):
        self.replicas = []
        for i in range(2):
            port = free_port()
            self.spawn(f"aiops-{i}", [self.binary, "serve", "--addr", f"127.0.0.1:{port}",
                                      "--data-dir", str(self.tmp / f"replica-{i}")])
            self.replicas.append(f"http://127.0.0.1:{port}")
        for url in self.replicas:
            wait_for(f"{url}/ready")
        self.nginx_port = free_port()
        upstream = "upstream aiops_replicas { " + " ".join(f"server {u[7:]};" for u in self.replicas) + " }"
        user = "user root;" if os.geteuid() == 0 else ""
        main = render_nginx(self.tmp / "nginx", self.nginx_port, "aiops_replicas", upstream)
        text = main.read_text()
        main.write_text(user + "\n" + text if user else text)
        self.spawn("nginx", [required_tool("nginx"), "-c", str(main), "-p", str(self.tmp / "nginx")])
        self.proxy = f"http://127.0.0.1:{self.nginx_port}"
        wait_for(f"{self.proxy}/health")
        # Prometheus with the compose scrape settings, pointed at the two replicas.
        token_file = self.tmp / "metrics_token"
        token_file.write_text(TOKEN)
        (self.tmp / "rules.yml").write_text((DEPLOY / "prometheus" / "rules.yml").read_text())
        targets = json.dumps([u[7:] for u in self.replicas])
        (self.tmp / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: aiops
    authorization: {{type: Bearer, credentials_file: {token_file}}}
    static_configs: [{{targets: {targets}}}]
""")
        self.prometheus = f"http://127.0.0.1:{free_port()}"
        self.spawn("prometheus", [required_tool("prometheus"), f"--config.file={self.tmp / 'prometheus.yml'}",
                                  f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                                  f"--web.listen-address={self.prometheus[7:]}"])
        wait_for(f"{self.prometheus}/-/ready")

    def stop(self):
        for _, proc in reversed(self.procs):
            proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def api(self, base, method, path, body=None):
        r = requests.request(method, f"{base}{path}", json=body, auth=self.auth, timeout=30)
        assert r.status_code == 200, f"{method} {base}{path}: {r.status_code} {r.text}"
        return r.json()

    def query(self, expr):
        r = requests.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        # The demo through nginx: data in the database, then inference traffic spread over both.
        # Each replica loads the deployment within its own sync period; until both have, nginx
        # sends every call to the one that has (the other answers 503), so the traffic waits.
        demo(s, 0)
        for url in s.replicas:
            wait_for(f"{url}/v2/models/iris/ready", headers=basic(s))
        demo(s, 120)
        yield s
    except BaseException:
        for name, _ in s.procs:
            print(f"--- {name} ---\n{s.log(name)[-3000:]}")
        raise
    finally:
        s.stop()


def demo(s, requests_):
    out = subprocess.run([s.binary, "demo", "--url", s.proxy, "--requests", str(requests_)], env=s.env,
                         capture_output=True, text=True, cwd=s.tmp, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"sent {requests_} of {requests_}" in out.stdout, out.stdout


def test_every_dashboard_query_returns_data(stack):
    # Tracking API traffic through the proxy, for the tracking panel.
    for _ in range(5):
        stack.api(stack.proxy, "POST", "/api/2.0/mlflow/experiments/search", {"max_results": 10})
    exprs = [(p["title"], t["expr"]) for p in dashboard()["panels"] for t in p["targets"]]
    missing = exprs
    started = time.time()
    while missing and time.time() - started < 90:
        missing = [(title, e) for title, e in missing if not stack.query(e)]
        time.sleep(1)
    assert not missing, f"dashboard queries without data: {missing}"
    # Both replicas took inference traffic through nginx.
    per_replica = stack.query('sum by (instance) (nv_inference_request_success{model="iris"})')
    assert len(per_replica) == 2 and all(float(r["value"][1]) > 0 for r in per_replica), per_replica
    # The alert rules loaded, and none fires on a healthy stack.
    rules = requests.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"][0]["rules"]
    assert len(rules) == 5 and all(r["health"] == "ok" for r in rules), rules
    firing = [r["name"] for r in rules if r["state"] == "firing"]
    assert not firing, firing


def live_metrics(stack):
    r = requests.get(f"{stack.replicas[0]}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200
    return r.text


# Triton's metric names, kept for its clients and dashboards, break Prometheus' naming
# conventions (counters without _total, units in the name): promtool's lint on them is allowed.
TRITON = re.compile(r"^nv_inference_")


def test_live_metrics_pass_promtool(stack):
    out = subprocess.run([required_tool("promtool"), "check", "metrics"], input=live_metrics(stack),
                         capture_output=True, text=True)
    problems = [line for line in (out.stdout + out.stderr).splitlines()
                if line.strip() and not TRITON.match(line.strip())]
    assert not problems, problems


def test_dashboard_names_only_metrics_aiops_exports(stack):
    exported = {line.split("{")[0].split(" ")[0] for line in live_metrics(stack).splitlines()
                if line and not line.startswith("#")}
    exported |= {"up"}  # Prometheus' own, per target
    functions = {"sum", "rate", "by", "histogram_quantile", "max", "or", "vector", "le", "route", "model",
                 "version", "deployment", "status", "instance"}
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", target["expr"])
            names = {n for n in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if n not in functions}
            unknown = names - exported
            assert not unknown, f"{panel['title']}: {unknown} not exported"


def test_replicas_behave_as_one(stack):
    a, b = stack.replicas
    api = "/api/2.0/mlflow"
    # A run logged through one is read through the other.
    exp = stack.api(a, "POST", f"{api}/experiments/create", {"name": f"stack-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    run = stack.api(a, "POST", f"{api}/runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    stack.api(a, "POST", f"{api}/runs/log-metric", {"run_id": run, "key": "m", "value": 1.5, "timestamp": 1, "step": 0})
    got = stack.api(b, "GET", f"{api}/runs/get?run_id={run}")
    assert got["run"]["data"]["metrics"][0]["value"] == 1.5

    # Versions created at once on both replicas get distinct numbers.
    model = f"stack-model-{uuid.uuid4().hex[:8]}"
    stack.api(a, "POST", f"{api}/registered-models/create", {"name": model})
    body = {"name": model, "source": f"runs:/{run}/model", "run_id": run}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: stack.api((a, b)[i % 2], "POST", f"{api}/model-versions/create", body),
                                range(8)))
    numbers = sorted(int(r["model_version"]["version"]) for r in replies)
    assert numbers == list(range(1, 9)), numbers

    # A promotion made on one is served by the other's predictor within its sync period
    # (2 s) plus the load: the demo deployment follows Production.
    ready = stack.api(b, "GET", "/v2/models/iris")
    assert ready["versions"] == ["1"], ready
    stack.api(a, "POST", f"{api}/model-versions/transition-stage",
              {"name": "iris-classifier", "version": "2", "stage": "Production", "archive_existing_versions": True})
    wait_for(f"{b}/v2/models/iris", limit=15, headers=basic(stack),
             ok=lambda r: r.status_code == 200 and r.json().get("versions") == ["2"])

    # A session signed in on one works on the other.
    signed_in = requests.post(f"{a}/_app/sign_in", data={"username": "admin", "password": stack.password,
                                                         "next": "/"}, allow_redirects=False, timeout=10)
    assert signed_in.status_code in (200, 302, 303), signed_in.text
    cookies = signed_in.cookies
    assert cookies, signed_in.headers
    r = requests.get(f"{b}{api}/experiments/search?max_results=1", cookies=cookies, timeout=10)
    assert r.status_code == 200, r.text

    # An access token made on one works on the other.
    token = requests.post(f"{a}/_app/create_token", data={"name": "stack", "days": ""}, auth=stack.auth,
                          timeout=10).text.strip('"')
    r = requests.get(f"{b}{api}/experiments/search?max_results=1", headers={"Authorization": f"Bearer {token}"},
                     timeout=10)
    assert r.status_code == 200, r.text


def basic(stack):
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{stack.password}".encode()).decode()}


def test_a_200_mb_artifact_goes_up_through_nginx_with_the_mlflow_client(stack):
    python = required_env("MLFLOW_PYTHON")
    size = 200 * 1024 * 1024
    script = f"""
import os, mlflow
from mlflow import MlflowClient
path = os.path.join({str(stack.tmp)!r}, "big.bin")
with open(path, "wb") as f:
    block = os.urandom(1 << 20)
    for _ in range({size} >> 20):
        f.write(block)
mlflow.set_tracking_uri({stack.proxy!r})
exp = mlflow.set_experiment("large-artifacts")
with mlflow.start_run() as run:
    mlflow.log_artifact(path)
files = {{f.path: f.file_size for f in MlflowClient().list_artifacts(run.info.run_id)}}
print("SIZE", files["big.bin"])
out = MlflowClient().download_artifacts(run.info.run_id, "big.bin", {str(stack.tmp)!r} + "/down")
print("DOWN", os.path.getsize(out))
"""
    env = {**os.environ, "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": stack.password,
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    for key in ("MLFLOW_TRACKING_TOKEN",):
        env.pop(key, None)
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SIZE {size}" in out.stdout and f"DOWN {size}" in out.stdout, out.stdout
