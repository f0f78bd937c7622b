"""The model registry through the official MLflow client: register, transition with
archiving, aliases, models:/ URIs, tags, rename, delete, the audit trail, and who may
change stages."""
import base64
import uuid

import mlflow
import numpy as np
import pytest
import requests
from mlflow.exceptions import MlflowException, RestException
from mlflow.server import get_app_client
from sklearn.linear_model import LogisticRegression

PASSWORD = "registry-user-password"


def basic(user):
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


@pytest.fixture
def trained(experiment_id):
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model")
    return run.info.run_id, info, X


def test_register_transition_alias_and_load(client, trained):
    run_id, info, X = trained
    name = f"churn-{uuid.uuid4().hex[:8]}"
    v1 = mlflow.register_model(f"runs:/{run_id}/model", name)
    v2 = mlflow.register_model(info.model_uri, name)
    assert (v1.version, v2.version) == ("1", "2")
    assert client.get_model_version(name, "1").current_stage == "None"
    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "production", archive_existing_versions=True)
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["2"]
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    for uri in (f"models:/{name}/2", f"models:/{name}/Production", f"models:/{name}@champion"):
        model = mlflow.pyfunc.load_model(uri)
        assert list(model.predict(X)) == [0, 0, 1, 1], uri
    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(name, "champion")


def test_tags_descriptions_rename_and_delete(client, trained):
    run_id, _, _ = trained
    name = f"tags-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name, tags={"team": "fraud"}, description="first")
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"k": "v"})
    client.set_registered_model_tag(name, "owner", "ada")
    client.delete_registered_model_tag(name, "team")
    client.update_registered_model(name, description="second")
    client.set_model_version_tag(name, "1", "validated", "yes")
    client.update_model_version(name, "1", description="v1")
    model = client.get_registered_model(name)
    assert model.tags == {"owner": "ada"} and model.description == "second"
    version = client.get_model_version(name, "1")
    assert version.tags == {"k": "v", "validated": "yes"} and version.description == "v1"
    new_name = f"{name}-renamed"
    client.rename_registered_model(name, new_name)
    assert client.get_model_version(new_name, "1").run_id == run_id
    client.delete_model_version(new_name, "1")
    client.delete_registered_model(new_name)
    with pytest.raises(RestException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(new_name)


def test_errors_are_mlflows(client, trained):
    run_id, _, _ = trained
    name = f"err-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    with pytest.raises(RestException, match="RESOURCE_ALREADY_EXISTS"):
        client.create_registered_model(name)
    with pytest.raises(RestException, match="RESOURCE_DOES_NOT_EXIST"):
        client.get_model_version(name, "9")
    for source in ("/etc/passwd", "file:///etc/passwd", "s3://other/bucket", "mlflow-artifacts://evil:80/x",
                   f"runs:/{run_id}/../../x", "http://example.com/m"):
        with pytest.raises(RestException, match="INVALID_PARAMETER_VALUE"):
            client.create_model_version(name, source)


def test_stages_and_aliases_are_for_admins(base_url, client, trained):
    run_id, _, _ = trained
    auth = get_app_client("basic-auth", tracking_uri=base_url)
    user = f"editor-{uuid.uuid4().hex[:8]}"
    auth.create_user(user, PASSWORD)
    name = f"admins-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, f"runs:/{run_id}/model")
    auth.grant_user_permission(user, "registered_model", name, "MANAGE")
    api = f"{base_url}/api/2.0/mlflow"
    headers = {"Authorization": basic(user)}
    r = requests.post(f"{api}/model-versions/transition-stage", headers=headers, timeout=30,
                      json={"name": name, "version": "1", "stage": "Production", "archive_existing_versions": False})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    r = requests.post(f"{api}/registered-models/alias", headers=headers, timeout=30,
                      json={"name": name, "alias": "champ", "version": "1"})
    assert r.status_code == 403
    assert client.get_model_version(name, "1").current_stage == "None"
    audit = requests.get(f"{base_url}/api/2.0/aiops/registry/audit", params={"name": name}, timeout=30).json()
    assert [e["action"] for e in audit["entries"]] == ["version_created"]
    client.transition_model_version_stage(name, "1", "Staging")
    audit = requests.get(f"{base_url}/api/2.0/aiops/registry/audit", params={"name": name}, timeout=30).json()
    top = audit["entries"][0]
    assert (top["action"], top["from"], top["to"], top["user"]) == ("stage_transitioned", "None", "Staging", "admin")


def test_search_models_and_versions(client, trained):
    run_id, _, _ = trained
    prefix = f"search-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        name = f"{prefix}-{i}"
        client.create_registered_model(name, tags={"team": "risk" if i < 2 else "growth"})
        client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id, tags={"idx": str(i)})
    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [m.name for m in found] == [f"{prefix}-2", f"{prefix}-1", f"{prefix}-0"]
    page = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", max_results=2)
    assert len(page) == 2 and page.token
    rest = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", max_results=2, page_token=page.token)
    assert [m.name for m in rest] == [f"{prefix}-2"]
    versions = client.search_model_versions(f"name = '{prefix}-1'")
    assert [(v.name, v.version) for v in versions] == [(f"{prefix}-1", "1")]
    versions = client.search_model_versions(f"run_id = '{run_id}' AND tags.idx = '2'")
    assert [v.name for v in versions] == [f"{prefix}-2"]
    with pytest.raises(RestException, match="INVALID_PARAMETER_VALUE"):
        client.search_model_versions("metrics.acc > 1")
