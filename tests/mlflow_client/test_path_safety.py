"""Artifact paths that try to leave the store are refused with 400 and touch nothing."""
import http.client
import os
import urllib.parse
import uuid

import pytest
import requests

ART = "/api/2.0/mlflow-artifacts/artifacts"

TRAVERSALS = [
    "../escape.txt",
    "a/../../escape.txt",
    "%2e%2e/escape.txt",
    "a/%2E%2E/%2e%2e/escape.txt",
    "..%2fescape.txt",
    "%252e%252e/escape.txt",
    "%252e%252e%252fescape.txt",
    "..%5cescape.txt",
    "a%5c..%5c..%5cescape.txt",
    "%2fetc%2fpasswd",
    "C:/escape.txt",
    "file:%2f%2f%2fetc%2fpasswd",
    "a/b%23frag",
    "a/b%3Fq=1",
]


def raw_request(base_url, method, raw_path, body=None):
    """Sends the path byte for byte: no client-side normalisation of '..' segments."""
    parsed = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        conn.putrequest(method, raw_path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        if os.environ.get("AIOPS_TEST_AUTHORIZATION"):
            conn.putheader("Authorization", os.environ["AIOPS_TEST_AUTHORIZATION"])
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_refused_for_every_method(base_url, path):
    for method in ("PUT", "GET", "DELETE"):
        status, body = raw_request(base_url, method, f"{ART}/{path}", b"pwned" if method == "PUT" else None)
        assert status == 400, (method, path, status, body)
        assert b"INVALID_PARAMETER_VALUE" in body


@pytest.mark.parametrize("path", ["../", "..", "/etc", "a\\..\\..", "%2e%2e", "%252e%252e", "a/../.."])
def test_listing_outside_the_store_refused(base_url, path):
    response = requests.get(f"{base_url}{ART}", params={"path": path}, timeout=10)
    assert response.status_code == 400, (path, response.text)
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_run_listing_refuses_escapes(base_url, client, experiment_id):
    run = client.create_run(experiment_id)
    for path in ["..", "../..", "%2e%2e", "/abs"]:
        response = requests.get(
            f"{base_url}/api/2.0/mlflow/artifacts/list", params={"run_id": run.info.run_id, "path": path}, timeout=10
        )
        assert response.status_code == 400, (path, response.text)


@pytest.mark.parametrize(
    "location",
    ["file:///tmp/x", "/tmp/x", "s3://other-bucket/x", "mlflow-artifacts:/../x", "mlflow-artifacts:/%2e%2e/x", "mlflow-artifacts:/a#b", "../x"],
)
def test_artifact_location_must_stay_inside_the_store(base_url, location):
    response = requests.post(
        f"{base_url}/api/2.0/mlflow/experiments/create",
        json={"name": f"loc-{uuid.uuid4().hex[:8]}", "artifact_location": location},
        timeout=10,
    )
    assert response.status_code == 400, (location, response.text)
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_nothing_was_written_outside(base_url):
    # The server's working directory, its data dir's parent and the S3 server's own folder
    # (around the bucket) are the places an escape would land; test.sh lists them all.
    roots = [r for r in os.environ.get("AIOPS_TEST_OUTSIDE_DIR", "").split(os.pathsep) if r]
    assert roots, "AIOPS_TEST_OUTSIDE_DIR is not set: run via scripts/test.sh"
    for root in roots:
        for dirpath, _, files in os.walk(root):
            assert "escape.txt" not in files, dirpath


def test_malformed_requests_are_400(base_url):
    bad_json = requests.post(f"{base_url}/api/2.0/mlflow/runs/create", data=b"{not json",
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert bad_json.status_code == 400 and bad_json.json()["error_code"] == "BAD_REQUEST"
    missing = requests.post(f"{base_url}/api/2.0/mlflow/experiments/create", json={}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    wrong_type = requests.post(f"{base_url}/api/2.0/mlflow/runs/search", json={"max_results": "lots"}, timeout=10)
    assert wrong_type.status_code == 400
    too_many = requests.post(f"{base_url}/api/2.0/mlflow/runs/search", json={"experiment_ids": ["0"], "max_results": 50001}, timeout=10)
    assert too_many.status_code == 400
    unknown = requests.get(f"{base_url}/api/2.0/mlflow/no/such/endpoint", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
