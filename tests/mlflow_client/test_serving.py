"""Serving through the real clients: a registered ONNX version deployed into the embedded
predictor, then Triton's own Python client (`tritonclient[http]`, its defaults: binary
tensors) for live/ready/metadata/infer, JSON requests, every bad input answered 400 in
`{"error": ...}`, an unknown model 404, a corrupt .onnx left FAILED while the old version
keeps serving, rollback, and a deployment that follows Production.
"""
import json
import os
import time
import uuid

import mlflow
import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "predictor", "fixtures")
_AUTHORIZATION = os.environ.get("AIOPS_TEST_AUTHORIZATION", "")


def auth():
    """Fresh headers per call: tritonclient writes Inference-Header-Content-Length into the
    dict it is given, which would go stale on the next call."""
    return {"Authorization": _AUTHORIZATION}


def reference(name):
    with open(os.path.join(FIXTURES, f"{name}.json")) as f:
        return json.load(f)


def register(client, model, fixture=None, raw=None):
    """A new version of `model` whose folder holds model.onnx (a fixture, or raw bytes)."""
    with mlflow.start_run() as run:
        folder = f"/tmp/onnx-{uuid.uuid4().hex}"
        os.makedirs(folder)
        path = os.path.join(folder, "model.onnx")
        with open(path, "wb") as f:
            f.write(raw if raw is not None else open(os.path.join(FIXTURES, f"{fixture}.onnx"), "rb").read())
        mlflow.log_artifact(path, "model")
    try:
        client.create_registered_model(model)
    except mlflow.exceptions.MlflowException:
        pass
    return client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id).version


def deploy(base_url, **body):
    r = requests.post(f"{base_url}/api/2.0/aiops/deployments/create", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["deployment"]


@pytest.fixture
def iris(client, base_url):
    model = f"iris-{uuid.uuid4().hex[:8]}"
    version = register(client, model, "iris_logreg")
    d = deploy(base_url, name=model, model_name=model, version=version)
    assert d["status"] == "READY", d
    return model


def triton_client(base_url):
    return triton.InferenceServerClient(url=base_url.split("://", 1)[1])


def test_tritonclient_with_its_defaults(base_url, iris):
    tc = triton_client(base_url)
    assert tc.is_server_live(headers=auth()) and tc.is_server_ready(headers=auth())
    assert tc.is_model_ready(iris, headers=auth())
    meta = tc.get_model_metadata(iris, headers=auth())
    assert meta["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    ref = reference("iris_logreg")
    x = np.array(ref["inputs"]["X"]["data"], dtype=np.float32).reshape(ref["inputs"]["X"]["shape"])
    inp = triton.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)  # binary, the client's default
    result = tc.infer(iris, [inp], headers=auth(), request_id="req-7")
    assert result.get_response()["id"] == "req-7"
    assert result.as_numpy("label").tolist() == ref["outputs"]["label"]["data"]
    probabilities = np.array(ref["outputs"]["probabilities"]["data"], dtype=np.float32)
    assert np.array_equal(result.as_numpy("probabilities").ravel(), probabilities)
    # JSON in and out, one requested output.
    inp = triton.InferInput("X", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    out = triton.InferRequestedOutput("label", binary_data=False)
    result = tc.infer(iris, [inp], outputs=[out], headers=auth())
    assert result.as_numpy("label").tolist() == ref["outputs"]["label"]["data"]
    assert result.as_numpy("probabilities") is None


def test_mixed_int64_and_string_inputs(client, base_url):
    model = f"mixed-{uuid.uuid4().hex[:8]}"
    deploy(base_url, name=model, model_name=model, version=register(client, model, "mixed_inputs"))
    ref = reference("mixed_inputs")
    tc = triton_client(base_url)
    count = triton.InferInput("count", [3, 1], "INT64")
    count.set_data_from_numpy(np.array(ref["inputs"]["count"]["data"], dtype=np.int64).reshape(3, 1))
    city = triton.InferInput("city", [3, 1], "BYTES")
    city.set_data_from_numpy(np.array(ref["inputs"]["city"]["data"], dtype=object).reshape(3, 1))
    result = tc.infer(model, [count, city], headers=auth())
    assert result.as_numpy("label").tolist() == ref["outputs"]["label"]["data"]


def test_bad_requests_are_400_unknown_models_404(base_url, iris):
    url = f"{base_url}/v2/models/{iris}/infer"
    good = {"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    cases = [
        ({**good, "name": "Y"}, "missing input 'X'"),
        ({**good, "shape": [1, 3], "data": [1, 2, 3]}, "does not fit"),
        ({**good, "datatype": "FP64"}, "datatype FP64"),
        ({**good, "data": [1, 2, 3]}, "holds 4 values but 3"),
        ({**good, "data": [1, "a", 3, 4]}, "not a number"),
        ({**good, "datatype": "FP99"}, "unknown datatype"),
        ({**good, "shape": [1, -4]}, "non-negative"),
    ]
    for tensor, message in cases:
        r = requests.post(url, json={"inputs": [tensor]}, timeout=30)
        assert r.status_code == 400, (tensor, r.text)
        assert message in r.json()["error"], (message, r.text)
    r = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and "error" in r.json()
    r = requests.post(url, json={"inputs": [good], "outputs": [{"name": "nope"}]}, timeout=30)
    assert r.status_code == 400 and "unknown output" in r.json()["error"]
    for path in ("/v2/models/no-such-model", f"/v2/models/{iris}/versions/99"):
        r = requests.get(f"{base_url}{path}", timeout=30)
        assert r.status_code == 404 and "error" in r.json(), r.text
    tc = triton_client(base_url)
    with pytest.raises(InferenceServerException):
        tc.get_model_metadata("no-such-model", headers=auth())
    r = requests.post(url, json={"inputs": [good]}, timeout=30, anonymous=True)
    assert r.status_code == 401 and "error" in r.json()


def test_a_corrupt_version_fails_and_the_old_one_keeps_serving_then_rollback(client, base_url, iris):
    bad = register(client, iris, raw=b"not an onnx model at all")
    d = deploy(base_url, name=iris, model_name=iris, version=bad)
    assert d["status"] == "FAILED" and d["error"] and d["serving_version"] == "1", d
    meta = requests.get(f"{base_url}/v2/models/{iris}", timeout=30).json()
    assert meta["versions"] == ["1"]
    forest = register(client, iris, "iris_forest")
    d = deploy(base_url, name=iris, model_name=iris, version=forest)
    assert d["status"] == "READY" and d["serving_version"] == forest and d["previous_version"] == bad, d
    r = requests.post(f"{base_url}/api/2.0/aiops/deployments/rollback", json={"name": iris}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["deployment"]["version"] == bad
    # Rolling back onto the corrupt version fails to load and leaves the forest serving.
    assert r.json()["deployment"]["status"] == "FAILED"
    assert requests.get(f"{base_url}/v2/models/{iris}", timeout=30).json()["versions"] == [forest]
    listed = requests.get(f"{base_url}/api/2.0/aiops/deployments/list", timeout=30).json()["deployments"]
    assert iris in [d["name"] for d in listed]
    assert requests.post(f"{base_url}/api/2.0/aiops/deployments/delete", json={"name": iris}, timeout=30).ok
    assert requests.get(f"{base_url}/v2/models/{iris}", timeout=30).status_code == 404


def test_a_deployment_following_production_moves_with_it(client, base_url):
    model = f"prod-{uuid.uuid4().hex[:8]}"
    v1 = register(client, model, "iris_logreg")
    client.transition_model_version_stage(model, v1, "Production")
    d = deploy(base_url, name=model, model_name=model, stage="Production")
    assert d["follows"] == {"stage": "Production"} and d["serving_version"] == v1
    v2 = register(client, model, "iris_forest")
    client.transition_model_version_stage(model, v2, "Production", archive_existing_versions=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        if requests.get(f"{base_url}/v2/models/{model}", timeout=30).json().get("versions") == [v2]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the deployment did not follow Production within 15 s")


def test_mlflow_scoring_format(client, base_url, iris):
    ref = reference("iris_logreg")
    rows = np.array(ref["inputs"]["X"]["data"]).reshape(ref["inputs"]["X"]["shape"]).tolist()
    labels = ref["outputs"]["label"]["data"]
    url = f"{base_url}/invocations/{iris}"
    split = {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": rows}}
    for body in (split, {"instances": rows}, {"inputs": rows}, {"inputs": {"X": rows}}):
        r = requests.post(url, json=body, timeout=30)
        assert r.status_code == 200, (body, r.text)
        assert r.json()["predictions"]["label"] == labels
        assert len(r.json()["predictions"]["probabilities"][0]) == 3
    # A model with named inputs takes records or named columns.
    model = f"mixed-{uuid.uuid4().hex[:8]}"
    deploy(base_url, name=model, model_name=model, version=register(client, model, "mixed_inputs"))
    mixed = reference("mixed_inputs")
    records = [{"count": c, "city": t} for c, t in zip(mixed["inputs"]["count"]["data"], mixed["inputs"]["city"]["data"])]
    r = requests.post(f"{base_url}/invocations/{model}", json={"dataframe_records": records}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"]["label"] == mixed["outputs"]["label"]["data"]
    for bad in ({}, {"instances": rows, "inputs": rows}, {"instances": [[1, 2, 3]]}, {"instances": [["a", 1, 2, 3]]},
                {"dataframe_records": [{"a": 1}]}):
        r = requests.post(url, json=bad, timeout=30)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error_code"] == "BAD_REQUEST"
    assert requests.post(f"{base_url}/invocations/nope", json=split, timeout=30).status_code == 404


def test_prometheus_metrics_count_inference_as_triton_names_them(base_url, iris):
    url = f"{base_url}/v2/models/{iris}/infer"
    good = {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}
    for _ in range(3):
        assert requests.post(url, json=good, timeout=30).status_code == 200
    assert requests.post(url, json={"inputs": []}, timeout=30).status_code == 400
    text = requests.get(f"{base_url}/metrics", timeout=30).text
    labels = f'model="{iris}",version="1"'

    def value(metric):
        for line in text.splitlines():
            if line.startswith(metric + "{") and labels in line:
                return float(line.rsplit(" ", 1)[1])
        pytest.fail(f"{metric} for {iris} is missing:\n{text[:2000]}")

    assert value("nv_inference_request_success") == 3
    assert value("nv_inference_request_failure") == 1
    assert value("nv_inference_count") == 6
    assert value("nv_inference_exec_count") == 3
    for metric in ("nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                   "nv_inference_compute_infer_duration_us"):
        assert value(metric) >= 0
    assert f'aiops_inference_latency_seconds_bucket{{deployment="{iris}"' in text
    assert 'aiops_http_requests_total{method="POST",route="/v2/models/{name}/infer",status="200"}' in text
    assert requests.get(f"{base_url}/metrics", timeout=30, anonymous=True).status_code == 401
