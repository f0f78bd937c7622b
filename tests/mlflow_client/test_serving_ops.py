"""Serving operations through the real clients: a canary takes exactly its share of the
traffic and is promoted or dropped; hot swaps and canary changes under continuous load
from Triton's client fail no request; dynamic batching answers each request with its own
rows, exactly as unbatched; the monitoring figures count successes and errors; a deployed
version exports as a Triton model repository.
"""
import io
import tarfile
import threading
import time
import uuid

import numpy as np
import requests
import tritonclient.http as triton

from test_serving import FIXTURES, auth, deploy, reference, register, triton_client

ROW = {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}


def call(base_url, op, **body):
    return requests.post(f"{base_url}/api/2.0/aiops/deployments/{op}", json=body, timeout=60)


def versions_seen(base_url, name, n):
    seen = []
    with requests.Session() as s:
        for _ in range(n):
            r = s.post(f"{base_url}/v2/models/{name}/infer", json=ROW, timeout=30)
            assert r.status_code == 200, r.text
            seen.append(r.json()["model_version"])
    return seen


def test_a_canary_takes_its_share_then_is_dropped_or_promoted(client, base_url):
    model = f"canary-{uuid.uuid4().hex[:8]}"
    v1 = register(client, model, "iris_logreg")
    v2 = register(client, model, "iris_forest")
    deploy(base_url, name=model, model_name=model, version=v1)
    r = call(base_url, "canary", name=model, version=int(v2), percent=30)
    assert r.status_code == 200, r.text
    d = r.json()["deployment"]
    assert d["version"] == v1 and d["canary"] == {"version": v2, "percent": 30, "status": "READY", "error": ""}, d
    seen = versions_seen(base_url, model, 100)
    assert (seen.count(v1), seen.count(v2)) == (70, 30), seen
    # A version named in the path goes to that version; metadata names the primary one.
    r = requests.post(f"{base_url}/v2/models/{model}/versions/{v2}/infer", json=ROW, timeout=30)
    assert r.status_code == 200 and r.json()["model_version"] == v2, r.text
    assert requests.get(f"{base_url}/v2/models/{model}", timeout=30).json()["versions"] == [v1]
    for body, status in (
        ({"name": model, "version": int(v2), "percent": 101}, 400),
        ({"name": model, "version": int(v2), "percent": -1}, 400),
        ({"name": model, "version": int(v1), "percent": 10}, 400),
        ({"name": model, "version": 99, "percent": 10}, 404),
        ({"name": "no-such-deployment", "version": 1, "percent": 10}, 404),
        ({"name": model, "version": "two", "percent": 10}, 400),
        ({"name": model, "version": int(v2)}, 400),
    ):
        r = call(base_url, "canary", **body)
        assert r.status_code == status, (body, r.text)
    # Dropped: everything goes to v1 again; a second drop is refused.
    r = call(base_url, "drop-canary", name=model)
    assert r.status_code == 200 and r.json()["deployment"]["canary"] is None, r.text
    assert set(versions_seen(base_url, model, 20)) == {v1}
    assert call(base_url, "drop-canary", name=model).status_code == 400
    assert call(base_url, "promote-canary", name=model).status_code == 400
    # Promoted: v2 serves everything, and v1 is kept for rollback.
    assert call(base_url, "canary", name=model, version=int(v2), percent=50).status_code == 200
    r = call(base_url, "promote-canary", name=model)
    assert r.status_code == 200, r.text
    d = r.json()["deployment"]
    assert (d["version"], d["previous_version"], d["canary"], d["status"]) == (v2, v1, None, "READY"), d
    assert set(versions_seen(base_url, model, 20)) == {v2}


class Load:
    """Triton's client sending requests from several threads until stopped; counts
    failures and which versions answered."""

    def __init__(self, base_url, model, threads=4):
        self.base_url, self.model = base_url, model
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok, self.failures, self.versions = 0, [], {}
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self):
        tc = triton_client(self.base_url)
        x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
        while not self.stop.is_set():
            inp = triton.InferInput("X", list(x.shape), "FP32")
            inp.set_data_from_numpy(x)
            try:
                result = tc.infer(self.model, [inp], headers=auth())
                version = result.get_response()["model_version"]
                assert result.as_numpy("label").shape == (2,)
                with self.lock:
                    self.ok += 1
                    self.versions[version] = self.versions.get(version, 0) + 1
            except Exception as e:  # every failure is recorded, none may happen
                with self.lock:
                    self.failures.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self.stop.set()
        for t in self.threads:
            t.join(60)


def test_hot_swaps_and_canaries_under_load_fail_no_request(client, base_url):
    model = f"swap-{uuid.uuid4().hex[:8]}"
    v1 = register(client, model, "iris_logreg")
    v2 = register(client, model, "iris_forest")
    deploy(base_url, name=model, model_name=model, version=v1)
    with Load(base_url, model) as load:
        for version in (v2, v1, v2, v1):
            d = deploy(base_url, name=model, model_name=model, version=version)
            assert d["serving_version"] == version, d
            time.sleep(0.3)
        assert call(base_url, "canary", name=model, version=int(v2), percent=40).status_code == 200
        time.sleep(0.5)
        assert call(base_url, "drop-canary", name=model).status_code == 200
        assert call(base_url, "canary", name=model, version=int(v2), percent=60).status_code == 200
        time.sleep(0.5)
        assert call(base_url, "promote-canary", name=model).status_code == 200
        time.sleep(0.3)
        assert call(base_url, "rollback", name=model).status_code == 200
    assert load.failures == [], load.failures[:5]
    assert load.ok > 50 and set(load.versions) == {v1, v2}, (load.ok, load.versions)


def test_dynamic_batching_answers_each_request_with_its_rows(client, base_url):
    model = f"batch-{uuid.uuid4().hex[:8]}"
    version = register(client, model, "iris_forest")
    plain = deploy(base_url, name=f"{model}-plain", model_name=model, version=version)
    batched = deploy(base_url, name=model, model_name=model, version=version,
                     max_batch_size=64, max_queue_delay_microseconds=5000)
    assert plain["max_batch_size"] == 0
    assert (batched["max_batch_size"], batched["max_queue_delay_microseconds"]) == (64, 5000), batched
    rng = np.random.default_rng(7)
    requests_rows = [rng.uniform(0, 8, size=(int(n), 4)).astype(np.float32) for n in rng.integers(1, 9, size=48)]
    answers = {}

    def send(i, x):
        tc = triton_client(base_url)
        out = {}
        for name in (model, f"{model}-plain"):
            inp = triton.InferInput("X", list(x.shape), "FP32")
            inp.set_data_from_numpy(x)
            result = tc.infer(name, [inp], headers=auth())
            out[name] = (result.as_numpy("label"), result.as_numpy("probabilities"))
        answers[i] = out

    threads = [threading.Thread(target=send, args=(i, x)) for i, x in enumerate(requests_rows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == len(requests_rows)
    for i, x in enumerate(requests_rows):
        (label, prob), (plain_label, plain_prob) = answers[i][model], answers[i][f"{model}-plain"]
        assert label.shape == (len(x),) and prob.shape == (len(x), 3)
        assert np.array_equal(label, plain_label) and np.allclose(prob, plain_prob, atol=1e-6), i
    for body in ({"max_batch_size": -1}, {"max_batch_size": 5000}, {"max_queue_delay_microseconds": 2_000_000}):
        r = call(base_url, "create", name=model, model_name=model, version=version, **body)
        assert r.status_code == 400, (body, r.text)


def test_monitoring_counts_requests_and_errors(client, base_url):
    model = f"watch-{uuid.uuid4().hex[:8]}"
    version = register(client, model, "iris_logreg")
    deploy(base_url, name=model, model_name=model, version=version)
    url = f"{base_url}/v2/models/{model}/infer"
    for _ in range(5):
        assert requests.post(url, json=ROW, timeout=30).status_code == 200
    for _ in range(2):
        assert requests.post(url, json={"inputs": []}, timeout=30).status_code == 400
    r = requests.get(f"{base_url}/api/2.0/aiops/deployments/monitoring", params={"minutes": 5}, timeout=30)
    assert r.status_code == 200, r.text
    series = [s for s in r.json()["series"] if s["deployment"] == model]
    assert len(series) == 1, r.json()
    s = series[0]
    assert (s["version"], s["requests"], s["errors"], s["replicas"]) == (int(version), 7, 2, 1), s
    assert abs(s["error_rate"] - 2 / 7) < 1e-9
    assert 0 < s["p50_us"] <= s["p95_us"] <= s["p99_us"], s
    assert sum(p["requests"] for p in s["points"]) == 7
    for minutes in (0, 1441, "x"):
        r = requests.get(f"{base_url}/api/2.0/aiops/deployments/monitoring", params={"minutes": minutes}, timeout=30)
        assert r.status_code == 400, r.text


def test_a_deployed_version_exports_as_a_triton_repository(client, base_url):
    model = f"export-{uuid.uuid4().hex[:8]}"
    version = register(client, model, "iris_logreg")
    deploy(base_url, name=model, model_name=model, version=version)
    r = requests.get(f"{base_url}/api/2.0/aiops/deployments/export", params={"name": model}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = sorted(tar.getnames())
        assert names == [f"{model}/{version}/model.onnx", f"{model}/config.pbtxt"], names
        config = tar.extractfile(f"{model}/config.pbtxt").read().decode()
        onnx = tar.extractfile(f"{model}/{version}/model.onnx").read()
    with open(f"{FIXTURES}/iris_logreg.onnx", "rb") as f:
        assert onnx == f.read()
    assert f'name: "{model}"' in config and 'platform: "onnxruntime_onnx"' in config
    assert 'name: "X"\n    data_type: TYPE_FP32\n    dims: [ -1, 4 ]' in config, config
    assert 'name: "label"\n    data_type: TYPE_INT64' in config, config
    assert f"versions: [ {version} ]" in config
    assert requests.get(f"{base_url}/api/2.0/aiops/deployments/export", params={"name": "nope"},
                        timeout=30).status_code == 404
    ref = reference("iris_logreg")
    assert ref["inputs"]["X"]["shape"][1] == 4
