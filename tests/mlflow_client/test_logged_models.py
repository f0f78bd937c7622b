"""mlflow.<flavor>.log_model against aiops: logged models, their artifacts, and loading back."""
import numpy as np
import mlflow
import pytest
from sklearn.linear_model import LogisticRegression


def test_sklearn_log_model_and_load_back(experiment_id):
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="classifier", input_example=X[:1])
    assert info.model_id.startswith("m-")

    logged = mlflow.get_logged_model(info.model_id)
    assert logged.name == "classifier"
    assert logged.source_run_id == run.info.run_id
    assert str(logged.status).endswith("READY")

    expected = model.predict_proba(X)
    by_model = mlflow.pyfunc.load_model(info.model_uri)
    assert np.allclose(by_model.predict(X), model.predict(X))
    by_run = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/classifier")
    assert np.allclose(by_run.predict_proba(X), expected)

    found = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    assert [m.model_id for m in found] == [info.model_id]
    assert mlflow.search_logged_models(
        experiment_ids=[experiment_id], filter_string="name = 'nope'", output_format="list"
    ) == []


def test_unknown_logged_model_is_404(base_url):
    import requests

    response = requests.get(f"{base_url}/api/2.0/mlflow/logged-models/m-{'0' * 32}", timeout=10)
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
