"""examples/train_iris.py against aiops, then the rest of the README's loop: compare the
runs, promote the registered version, deploy it, and test inference."""
import os
import subprocess
import sys
import uuid

import requests
from mlflow import MlflowClient

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "train_iris.py")


def test_train_iris_example_then_promote_deploy_and_infer(base_url):
    suffix = uuid.uuid4().hex[:8]
    experiment, model = f"iris-training-{suffix}", f"iris-example-{suffix}"
    out = subprocess.run(
        [sys.executable, EXAMPLE, "--experiment", experiment, "--model-name", model, "--epochs", "12"],
        env={**os.environ, "MLFLOW_TRACKING_URI": base_url}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"registered {model} version 1" in out.stdout, out.stdout

    # Compare: the sweep's four nested runs under their parent, with histories and plots.
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], order_by=["metrics.accuracy DESC"])
    parent = [r for r in runs if r.info.run_name == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parent) == 1 and len(children) == 4
    assert all(c.data.tags["mlflow.parentRunId"] == parent[0].info.run_id for c in children)
    best = children[0]
    assert len(client.get_metric_history(best.info.run_id, "val_accuracy")) == 12
    assert [a.path for a in client.list_artifacts(best.info.run_id, "plots")] == ["plots/confusion_matrix.png"]

    # Promote, deploy (following Production), and infer.
    client.transition_model_version_stage(model, "1", "Production")
    r = requests.post(f"{base_url}/api/2.0/aiops/deployments/create",
                      json={"name": model, "model_name": model, "stage": "Production"}, timeout=60)
    assert r.status_code == 200 and r.json()["deployment"]["status"] == "READY", r.text
    row = {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32",
                       "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}
    r = requests.post(f"{base_url}/v2/models/{model}/infer", json=row, timeout=30)
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert outputs["label"]["data"] == [0, 2], outputs
    requests.post(f"{base_url}/api/2.0/aiops/deployments/delete", json={"name": model}, timeout=30)
