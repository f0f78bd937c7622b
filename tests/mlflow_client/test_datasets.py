"""mlflow.log_input against aiops: datasets are stored per run, returned by get_run and searchable."""
import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def test_log_input_round_trips_and_is_searchable(client, experiment_id):
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    evaluation = pd.DataFrame({"x": [4.0], "y": [1]})
    train_ds = mlflow.data.from_pandas(train, source="s3://bucket/train.parquet", name="iris-train", targets="y")
    eval_ds = mlflow.data.from_numpy(evaluation.to_numpy(), source="s3://bucket/eval.npy", name="iris-eval")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(train_ds, context="training")
        mlflow.log_input(eval_ds, context="eval")
        mlflow.log_input(train_ds, context="training")  # the same (name, digest) again: kept once
    with mlflow.start_run(experiment_id=experiment_id) as other:
        mlflow.log_input(train_ds, context="retrain")

    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["iris-eval", "iris-train"]
    by_name = {i.dataset.name: i for i in inputs}
    train_input = by_name["iris-train"]
    expected = train_ds.to_dict()
    stored = train_input.dataset
    assert (stored.digest, stored.source_type, stored.source, stored.schema, stored.profile) == (
        expected["digest"], expected["source_type"], expected["source"], expected["schema"], expected["profile"])
    assert "train.parquet" in stored.source
    assert {t.key: t.value for t in train_input.tags} == {"mlflow.data.context": "training"}
    assert {t.key: t.value for t in by_name["iris-eval"].tags} == {"mlflow.data.context": "eval"}

    def found(expr):
        return {r.info.run_id for r in client.search_runs([experiment_id], expr)}

    assert found("datasets.name = 'iris-train'") == {run.info.run_id, other.info.run_id}
    assert found("datasets.name = 'iris-eval'") == {run.info.run_id}
    assert found("datasets.context = 'retrain'") == {other.info.run_id}
    assert found(f"datasets.digest = '{eval_ds.digest}'") == {run.info.run_id}
    assert found("datasets.name LIKE 'iris-%' AND datasets.context IN ('eval')") == {run.info.run_id}

    # Both runs share one stored dataset (per experiment); each input keeps its own context.
    other_inputs = client.get_run(other.info.run_id).inputs.dataset_inputs
    assert [(i.dataset.digest, i.tags[0].value) for i in other_inputs] == [(train_ds.digest, "retrain")]


def test_log_input_refuses_bad_datasets(base_url, experiment_id):
    run_id = MlflowClient().create_run(experiment_id).info.run_id
    url = f"{base_url}/api/2.0/mlflow/runs/log-inputs"
    dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}
    too_long = {**dataset, "digest": "x" * 37}
    for body in (
        {"run_id": run_id, "datasets": [{"dataset": too_long}]},
        {"run_id": run_id, "datasets": [{"dataset": {**dataset, "name": ""}}]},
        {"run_id": run_id, "datasets": [{"tags": [{"key": "k", "value": "v" * 501}], "dataset": dataset}]},
        {"run_id": run_id, "datasets": "nope"},
    ):
        response = requests.post(url, json=body, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = requests.post(url, json={"run_id": "0" * 32, "datasets": [{"dataset": dataset}]}, timeout=10)
    assert missing.status_code == 404
    # Nothing of the refused calls was stored.
    assert MlflowClient().get_run(run_id).inputs.dataset_inputs == []
    with pytest.raises(MlflowException):
        MlflowClient().search_runs([experiment_id], "datasets.size = 'x'")


def test_a_dataset_at_mlflows_size_limits_is_kept(base_url, client, experiment_id):
    run_id = client.create_run(experiment_id).info.run_id
    # Exactly MLflow's limits: profile 16,777,215 and schema 1,048,575 characters.
    profile, schema = "p" * 16_777_215, "s" * 1_048_575
    dataset = {"name": "big", "digest": "d1", "source_type": "local", "source": "{}",
               "profile": profile, "schema": schema}
    url = f"{base_url}/api/2.0/mlflow/runs/log-inputs"
    response = requests.post(url, json={"run_id": run_id, "datasets": [{"dataset": dataset}]}, timeout=120)
    assert response.status_code == 200, response.text[:500]
    stored = client.get_run(run_id).inputs.dataset_inputs[0].dataset
    assert (len(stored.profile), len(stored.schema)) == (len(profile), len(schema))
    assert stored.profile == profile
    over = {**dataset, "name": "bigger", "profile": profile + "p"}
    response = requests.post(url, json={"run_id": run_id, "datasets": [{"dataset": over}]}, timeout=120)
    assert response.status_code == 400, response.text[:500]
    assert len(client.get_run(run_id).inputs.dataset_inputs) == 1


def test_log_model_records_the_run_output(experiment_id):
    from sklearn.linear_model import LinearRegression

    X = np.array([[0.0], [1.0], [2.0]])
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(LinearRegression().fit(X, X[:, 0]), name="line")
    outputs = MlflowClient().get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]
