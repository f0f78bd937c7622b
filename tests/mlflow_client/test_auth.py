"""Users and permissions through MLflow's own AuthServiceClient, and what they allow.

The suite runs as an administrator (scripts/test.sh); these tests make ordinary users
and act as them with explicit credentials.
"""
import base64
import os
import uuid

import pytest
import requests
from mlflow.exceptions import RestException
from mlflow.server import get_app_client

API = "/api/2.0/mlflow"
PASSWORD = "correct-horse-battery"


def basic(user, password=PASSWORD):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def auth_client(base_url):
    return get_app_client("basic-auth", tracking_uri=base_url)


@pytest.fixture
def user(auth_client):
    name = f"user-{uuid.uuid4().hex[:10]}"
    auth_client.create_user(name, PASSWORD)
    return name


def call(base_url, method, path, user=None, password=PASSWORD, **kw):
    headers = {"Authorization": basic(user, password)} if user else {}
    return requests.request(method, f"{base_url}{path}", headers=headers, timeout=30,
                            anonymous=user is None, **kw)


def test_users_round_trip(auth_client, user):
    got = auth_client.get_user(user)
    assert got.username == user and got.is_admin is False
    auth_client.update_user_admin(user, True)
    assert auth_client.get_user(user).is_admin is True
    auth_client.update_user_admin(user, False)
    auth_client.update_user_password(user, "another-password-1")
    auth_client.delete_user(user)
    with pytest.raises(RestException, match="RESOURCE_DOES_NOT_EXIST"):
        auth_client.get_user(user)


def test_duplicate_and_bad_users_are_4xx(auth_client, user):
    with pytest.raises(RestException, match="RESOURCE_ALREADY_EXISTS"):
        auth_client.create_user(user, PASSWORD)
    with pytest.raises(RestException, match="INVALID_PARAMETER_VALUE"):
        auth_client.create_user("x:y", PASSWORD)
    with pytest.raises(RestException, match="INVALID_PARAMETER_VALUE"):
        auth_client.create_user(f"short-{uuid.uuid4().hex[:6]}", "short")


def test_no_or_bad_credentials_are_401_with_a_challenge(base_url, user):
    for response in [
        call(base_url, "GET", f"{API}/experiments/search?max_results=1"),
        call(base_url, "GET", f"{API}/experiments/search?max_results=1", user=user, password="wrong-password"),
        requests.get(f"{base_url}{API}/experiments/search", headers={"Authorization": "Bearer nope"}, timeout=30),
    ]:
        assert response.status_code == 401, response.text
        assert response.json()["error_code"] == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert call(base_url, "GET", "/health").status_code == 200


def test_creator_manages_others_read(base_url, auth_client, user):
    other = f"other-{uuid.uuid4().hex[:10]}"
    auth_client.create_user(other, PASSWORD)
    created = call(base_url, "POST", f"{API}/experiments/create", user=user, json={"name": f"mine-{uuid.uuid4().hex}"})
    assert created.status_code == 200, created.text
    exp = created.json()["experiment_id"]
    perm = auth_client.get_user_permission(user, "experiment", exp)
    assert perm.permission == "MANAGE" and perm.allowed
    # The other user reads (the default), but may not write, delete or grant.
    assert call(base_url, "GET", f"{API}/experiments/get?experiment_id={exp}", user=other).status_code == 200
    denied = call(base_url, "POST", f"{API}/runs/create", user=other, json={"experiment_id": exp})
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert call(base_url, "POST", f"{API}/experiments/delete", user=other, json={"experiment_id": exp}).status_code == 403
    grant = {"username": other, "resource_type": "experiment", "resource_id": exp, "permission": "MANAGE"}
    assert call(base_url, "POST", "/api/3.0/mlflow/users/permissions/grant", user=other, json=grant).status_code == 403
    # The owner grants EDIT: now the other may log, but still not delete.
    grant["permission"] = "EDIT"
    assert call(base_url, "POST", "/api/3.0/mlflow/users/permissions/grant", user=user, json=grant).status_code == 200
    run = call(base_url, "POST", f"{API}/runs/create", user=other, json={"experiment_id": exp})
    assert run.status_code == 200, run.text
    run_id = run.json()["run"]["info"]["run_id"]
    assert call(base_url, "POST", f"{API}/runs/log-metric", user=other,
                json={"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}).status_code == 200
    assert call(base_url, "POST", f"{API}/runs/delete", user=other, json={"run_id": run_id}).status_code == 403
    # NO_PERMISSIONS hides it from reads and searches.
    auth_client.grant_user_permission(other, "experiment", exp, "NO_PERMISSIONS")
    assert call(base_url, "GET", f"{API}/runs/get?run_id={run_id}", user=other).status_code == 403
    found = call(base_url, "POST", f"{API}/experiments/search", user=other, json={"max_results": 1000}).json()
    assert exp not in [e["experiment_id"] for e in found.get("experiments", [])]
    auth_client.revoke_user_permission(other, "experiment", exp)
    assert auth_client.get_user_permission(other, "experiment", exp).permission == "READ"


def test_refused_writes_leave_no_trace(base_url, client, experiment_id, user):
    run = client.create_run(experiment_id)
    r = call(base_url, "POST", f"{API}/runs/log-batch", user=user,
             json={"run_id": run.info.run_id, "metrics": [{"key": "x", "value": 1, "timestamp": 1}],
                   "params": [{"key": "p", "value": "v"}]})
    assert r.status_code == 403
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {} and got.data.params == {}
    assert call(base_url, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/x.txt",
                user=user, data=b"x").status_code == 403
    assert call(base_url, "GET", f"/api/2.0/mlflow-artifacts/artifacts?path={experiment_id}",
                user=user).json() == {}


def test_only_admins_manage_users(base_url, user):
    for method, path, body in [
        ("POST", f"{API}/users/create", {"username": "x-" + uuid.uuid4().hex[:6], "password": PASSWORD}),
        ("PATCH", f"{API}/users/update-admin", {"username": user, "is_admin": True}),
        ("DELETE", f"{API}/users/delete", {"username": "admin"}),
        ("GET", f"{API}/users/list", None),
    ]:
        r = call(base_url, method, path, user=user, json=body) if body else call(base_url, method, path, user=user)
        assert r.status_code == 403, (path, r.text)
    me = call(base_url, "GET", f"{API}/users/current", user=user).json()["user"]
    assert me["username"] == user and me["is_admin"] is False


def test_own_password_needs_the_current_one(base_url, user):
    body = {"username": user, "password": "a-new-password-2"}
    r = call(base_url, "PATCH", f"{API}/users/update-password", user=user, json=body)
    assert r.status_code == 400 and "Current password" in r.json()["message"]
    body["current_password"] = PASSWORD
    assert call(base_url, "PATCH", f"{API}/users/update-password", user=user, json=body).status_code == 200
    # The old password stops working at once (the credential cache forgets it).
    assert call(base_url, "GET", f"{API}/users/current", user=user).status_code == 401
    assert call(base_url, "GET", f"{API}/users/current", user=user, password="a-new-password-2").status_code == 200


def test_deleted_user_is_forgotten_at_once(base_url, auth_client, user):
    assert call(base_url, "GET", f"{API}/users/current", user=user).status_code == 200
    auth_client.delete_user(user)
    assert call(base_url, "GET", f"{API}/users/current", user=user).status_code == 401


def test_repeated_failures_are_slowed_then_refused(base_url, user):
    codes = [call(base_url, "GET", f"{API}/users/current", user=user, password=f"wrong-{i}").status_code
             for i in range(10)]
    assert codes == [401] * 10
    locked = call(base_url, "GET", f"{API}/users/current", user=user, password="wrong-again")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert locked.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"


def test_password_never_in_replies(base_url, auth_client, user):
    r = call(base_url, "GET", f"{API}/users/get?username={user}")
    assert PASSWORD not in r.text and "argon2" not in r.text
    assert "argon2" not in call(base_url, "GET", f"{API}/users/list", user=None).text
