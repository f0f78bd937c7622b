"""The server under test is started by scripts/test.sh; its URL comes in AIOPS_URL.

Every suite runs signed in: the MLflow client reads MLFLOW_TRACKING_USERNAME/PASSWORD
(Basic) or MLFLOW_TRACKING_TOKEN (Bearer) itself; the tests' own `requests` calls get
AIOPS_TEST_AUTHORIZATION unless they set an Authorization header (or auth) themselves.
"""
import os
import uuid

import mlflow
import pytest
import requests
from mlflow import MlflowClient

_AUTHORIZATION = os.environ.get("AIOPS_TEST_AUTHORIZATION")
_plain_request = requests.Session.request


def _signed_request(self, method, url, **kwargs):
    headers = dict(kwargs.get("headers") or {})
    anonymous = kwargs.pop("anonymous", False)
    if (_AUTHORIZATION and not anonymous and kwargs.get("auth") is None
            and not any(k.lower() == "authorization" for k in headers)):
        headers["Authorization"] = _AUTHORIZATION
        kwargs["headers"] = headers
    return _plain_request(self, method, url, **kwargs)


requests.Session.request = _signed_request


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
