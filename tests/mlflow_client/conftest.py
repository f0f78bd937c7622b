"""The server under test is started by scripts/test.sh; its URL comes in AIOPS_URL."""
import os
import uuid

import mlflow
import pytest
from mlflow import MlflowClient


@pytest.fixture(scope="session")
def base_url():
    url = os.environ.get("AIOPS_URL")
    if not url:
        pytest.fail("AIOPS_URL is not set: run via scripts/test.sh")
    return url.rstrip("/")


@pytest.fixture(scope="session", autouse=True)
def tracking_uri(base_url):
    mlflow.set_tracking_uri(base_url)
    return base_url


@pytest.fixture
def client():
    return MlflowClient()


@pytest.fixture
def experiment_id(client):
    return client.create_experiment(f"exp-{uuid.uuid4().hex[:12]}")
