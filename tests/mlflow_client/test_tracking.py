"""The official MLflow client against aiops: tracking, search, history and artifacts."""
import filecmp
import math
import os
import base64
import uuid

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException


def test_experiments_create_get_and_search(client):
    name = f"exp-{uuid.uuid4().hex[:8]}"
    exp_id = client.create_experiment(name, tags={"team": "risk"})
    exp = client.get_experiment(exp_id)
    assert exp.name == name and exp.tags == {"team": "risk"}
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert client.get_experiment_by_name("no-such-experiment-anywhere") is None

    found = client.search_experiments(filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in found] == [exp_id]
    client.set_experiment_tag(exp_id, "owner", "ada")
    assert client.get_experiment(exp_id).tags["owner"] == "ada"

    client.rename_experiment(exp_id, name + "-renamed")
    assert client.get_experiment(exp_id).name == name + "-renamed"
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def test_fluent_run_logging():
    mlflow.set_experiment(f"fluent-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run(run_name="baseline") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "model": "gbm"})
        for step in range(100):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.91, "f1": 0.88})
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"owner": "ada"})
        run_id = run.info.run_id

    fetched = MlflowClient().get_run(run_id)
    assert fetched.info.status == "FINISHED"
    assert fetched.info.run_name == "baseline"
    assert fetched.info.end_time is not None and fetched.info.end_time >= fetched.info.start_time
    assert fetched.data.params == {"lr": "0.01", "depth": "3", "model": "gbm"}
    assert fetched.data.metrics["loss"] == pytest.approx(0.01)
    assert fetched.data.metrics["acc"] == pytest.approx(0.91)
    assert fetched.data.tags["stage"] == "dev" and fetched.data.tags["owner"] == "ada"
    assert fetched.data.tags["mlflow.runName"] == "baseline"

    history = MlflowClient().get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert history[0].value == pytest.approx(1.0)


def test_log_batch_and_special_values(client, experiment_id):
    run = client.create_run(experiment_id, tags={"source": "batch"})
    ts = 1_700_000_000_000
    metrics = [Metric("m", float(i), ts + i, i) for i in range(500)]
    metrics += [Metric("nan", float("nan"), ts, 0), Metric("inf", float("inf"), ts, 0)]
    client.log_batch(
        run.info.run_id,
        metrics=metrics,
        params=[Param(f"p{i}", str(i)) for i in range(50)],
        tags=[RunTag("t", "v")],
    )
    data = client.get_run(run.info.run_id).data
    assert data.metrics["m"] == 499.0
    assert math.isnan(data.metrics["nan"])
    assert data.metrics["inf"] == float("inf")
    assert len(data.params) == 50 and data.tags["t"] == "v"
    assert len(client.get_metric_history(run.info.run_id, "m")) == 500

    client.set_terminated(run.info.run_id, status="FAILED")
    assert client.get_run(run.info.run_id).info.status == RunStatus.to_string(RunStatus.FAILED)
    client.delete_tag(run.info.run_id, "t")
    assert "t" not in client.get_run(run.info.run_id).data.tags


def test_search_runs_filters_orders_and_pages(client, experiment_id):
    ids = {}
    for i in range(12):
        run = client.create_run(experiment_id, run_name=f"r{i:02d}", start_time=1_000 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 0, 0)],
            params=[Param("model", "cnn" if i % 2 else "gbm")],
            tags=[RunTag("group", "a" if i < 6 else "b")],
        )
        ids[i] = run.info.run_id

    hits = client.search_runs([experiment_id], "metrics.acc > 0.5 and params.model = 'cnn'")
    assert {r.info.run_id for r in hits} == {ids[7], ids[9], ids[11]}

    ordered = client.search_runs([experiment_id], order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in ordered] == [ids[i] for i in reversed(range(12))]
    default = client.search_runs([experiment_id])
    assert [r.info.run_id for r in default] == [ids[i] for i in reversed(range(12))], "start_time DESC"

    assert len(client.search_runs([experiment_id], "tags.group = 'a'")) == 6
    assert len(client.search_runs([experiment_id], "attributes.run_name LIKE 'r0%'")) == 10
    assert len(client.search_runs([experiment_id], "run_name ILIKE 'R1%'")) == 2
    assert len(client.search_runs([experiment_id], f"attributes.run_id IN ('{ids[0]}', '{ids[1]}')")) == 2
    # Beyond MLflow: OR and parentheses.
    either = client.search_runs([experiment_id], "(metrics.acc < 0.15 OR metrics.acc > 1.05) AND tags.group = 'a'")
    assert {r.info.run_id for r in either} == {ids[0], ids[1]}

    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=5, page_token=token, order_by=["attributes.run_name ASC"])
        seen += [r.info.run_name for r in page]
        token = page.token
        if not token:
            break
    assert seen == [f"r{i:02d}" for i in range(12)]


    frame = mlflow.search_runs([experiment_id], filter_string="params.model = 'gbm'", order_by=["metrics.acc ASC"])
    assert list(frame["params.model"].unique()) == ["gbm"]
    assert list(frame["metrics.acc"]) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])

    client.delete_run(ids[0])
    assert len(client.search_runs([experiment_id])) == 11
    from mlflow.entities import ViewType

    assert len(client.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)) == 1
    client.restore_run(ids[0])


def test_default_order_pages_by_keyset(client, experiment_id):
    # The token says where a page ended; a run started meanwhile (newer, so ahead of the
    # cursor) neither repeats a run nor shifts a page, as offsets would.
    ids = [client.create_run(experiment_id, run_name=f"k{i:02d}", start_time=1_700_000_000_000 + i).info.run_id
           for i in range(12)]
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([experiment_id], max_results=5, page_token=token)
        seen += [r.info.run_id for r in page]
        token, pages = page.token, pages + 1
        if pages == 1:
            assert "after" in base64.b64decode(token).decode()
            client.create_run(experiment_id, run_name="late", start_time=1_700_000_000_100)
        if not token:
            break
    assert pages == 3
    assert seen == list(reversed(ids))


def test_artifacts_round_trip_byte_identical(client, experiment_id, tmp_path):
    src = tmp_path / "src"
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "a.txt").write_text("hello artifacts\n")
    (src / "nested" / "data.json").write_text('{"x": [1, 2, 3]}')
    (src / "nested" / "deeper" / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (src / "empty.txt").write_bytes(b"")

    run = client.create_run(experiment_id)
    client.log_artifacts(run.info.run_id, str(src), artifact_path="outputs")
    client.log_artifact(run.info.run_id, str(src / "a.txt"))

    top = {f.path: f.is_dir for f in client.list_artifacts(run.info.run_id)}
    assert top == {"a.txt": False, "outputs": True}
    nested = client.list_artifacts(run.info.run_id, "outputs/nested")
    assert {f.path for f in nested} == {"outputs/nested/data.json", "outputs/nested/deeper"}

    out = tmp_path / "out"
    out.mkdir()
    local = client.download_artifacts(run.info.run_id, "outputs", str(out))
    comparison = filecmp.dircmp(src, local)
    assert not comparison.diff_files and not comparison.left_only and not comparison.right_only
    assert filecmp.cmp(src / "nested" / "deeper" / "blob.bin", os.path.join(local, "nested", "deeper", "blob.bin"), shallow=False)

    single = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="a.txt", dst_path=str(tmp_path / "one"))
    assert open(single).read() == "hello artifacts\n"


def test_user_errors_are_4xx_with_mlflow_codes(client, experiment_id):
    with pytest.raises(MlflowException) as err:
        client.get_run("0" * 32)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    name = client.get_experiment(experiment_id).name
    with pytest.raises(MlflowException) as err:
        client.create_experiment(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    with pytest.raises(MlflowException) as err:
        client.search_runs([experiment_id], "metrics.acc >> 1")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as err:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert client.get_run(run.info.run_id).data.params["lr"] == "0.1"

    with pytest.raises(MlflowException) as err:
        client.create_experiment(f"bad-{uuid.uuid4().hex[:6]}", artifact_location="file:///tmp/escape")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"


def test_long_history_pages_samples_and_streams(client, experiment_id, base_url):
    """60,000 steps: past one get-history page (25,000), so the client follows our keyset
    tokens; the chart's sampled read keeps both ends; the CSV download streams it all."""
    run_id = client.create_run(experiment_id).info.run_id
    n = 60_000
    for start in range(0, n, 1000):
        client.log_batch(run_id, metrics=[Metric("long", s / 7, 1_700_000_000_000 + s, s)
                                          for s in range(start, start + 1000)])
    history = client.get_metric_history(run_id, "long")
    assert [m.step for m in history] == list(range(n))
    assert history[12_345].value == 12_345 / 7

    api = f"{base_url}/api/2.0/mlflow/metrics"
    first = requests.get(f"{api}/get-history", params={"run_id": run_id, "metric_key": "long", "max_results": 1000},
                         timeout=60).json()
    second = requests.get(f"{api}/get-history", timeout=60, params={
        "run_id": run_id, "metric_key": "long", "max_results": 1000, "page_token": first["next_page_token"]}).json()
    assert [m["step"] for m in second["metrics"]] == list(range(1000, 2000))
    bad = requests.get(f"{api}/get-history", timeout=60, params={
        "run_id": run_id, "metric_key": "long", "page_token": base64.b64encode(b'{"offset": 1, "after": [1]}').decode()})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE", bad.text

    sampled = requests.get(f"{api}/get-history-bulk-interval", timeout=60, params={
        "run_ids": run_id, "metric_key": "long", "max_results": 100}).json()["metrics"]
    steps = [m["step"] for m in sampled]
    assert steps[0] == 0 and steps[-1] == n - 1 and len(steps) == 100 and steps == sorted(set(steps))
    ranged = requests.get(f"{api}/get-history-bulk-interval", timeout=60, params={
        "run_ids": run_id, "metric_key": "long", "max_results": 11, "start_step": 1000, "end_step": 2000}).json()
    assert [m["step"] for m in ranged["metrics"]] == list(range(1000, 2001, 100))

    with requests.get(f"{base_url}/api/2.0/aiops/metrics/history-csv", stream=True, timeout=60,
                      params={"run_id": run_id, "metric_key": "long"}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "long.csv" in r.headers["content-disposition"]
        lines = b"".join(r.iter_content(1 << 16)).decode().splitlines()
    assert lines[0] == "step,timestamp,value" and len(lines) == n + 1
    assert lines[-1] == f"{n - 1},{1_700_000_000_000 + n - 1},{(n - 1) / 7!r}"
    missing = requests.get(f"{base_url}/api/2.0/aiops/metrics/history-csv", timeout=60,
                           params={"run_id": "0" * 32, "metric_key": "long"})
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", missing.text


def test_binary_downloads_go_out_as_stored_text_is_compressed(client, experiment_id, base_url):
    """gzip would bound a large model's download (about 80 MiB/s here): files that are not
    text stream as stored; text and JSON files are still compressed."""
    run_id = client.create_run(experiment_id).info.run_id
    root = f"{base_url}/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts"
    for name, data in (("model.bin", os.urandom(64 << 10)), ("table.csv", b"a,b\n" + b"1,2\n" * 20000)):
        assert requests.put(f"{root}/{name}", data=data, timeout=60).ok
    binary = requests.get(f"{root}/model.bin", headers={"Accept-Encoding": "gzip"}, timeout=60)
    assert binary.ok and "content-encoding" not in binary.headers and len(binary.content) == 64 << 10
    text = requests.get(f"{root}/table.csv", headers={"Accept-Encoding": "gzip"}, timeout=60)
    assert text.ok and text.headers.get("content-encoding") == "gzip" and text.content.startswith(b"a,b\n")
