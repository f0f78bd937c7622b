"""The refusal table: every route the server mounts, as `aiops routes` lists it from the
router itself (REST routes, server functions, pages), tried with no credentials, a reader
(READ on the test experiment), an editor (EDIT) and an admin. A route without a class
fails here, and so does any answer that is not exactly what its class allows.
"""
import base64
import json
import os
import subprocess
import uuid

import pytest
import requests

PASSWORD = "route-table-password"
ALLOWED = {
    "public": {"none", "reader", "editor", "admin"},
    "read": {"reader", "editor", "admin"},
    "edit": {"editor", "admin"},
    "manage": {"admin"},
    "admin": {"admin"},
}


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def table():
    binary = os.environ.get("AIOPS_BIN")
    if not binary:
        pytest.fail("AIOPS_BIN is not set: run via scripts/test.sh")
    return json.loads(subprocess.run([binary, "routes"], check=True, capture_output=True, text=True).stdout)


@pytest.fixture(scope="module")
def world(base_url):
    """An experiment with a run, a logged model and a file; a reader, an editor and a victim."""
    api = f"{base_url}/api/2.0/mlflow"
    tag = uuid.uuid4().hex[:8]
    exp = requests.post(f"{api}/experiments/create", json={"name": f"routes-{tag}"}, timeout=30).json()["experiment_id"]
    run = requests.post(f"{api}/runs/create", json={"experiment_id": exp}, timeout=30).json()["run"]["info"]["run_id"]
    model = requests.post(f"{api}/logged-models", json={"experiment_id": exp, "name": "m"}, timeout=30).json()["model"]
    file = f"{exp}/{run}/artifacts/f.txt"
    assert requests.put(f"{base_url}/api/2.0/mlflow-artifacts/artifacts/{file}", data=b"x", timeout=30).ok
    registered = f"rm-{tag}"
    assert requests.post(f"{api}/registered-models/create", json={"name": registered}, timeout=30).ok
    r = requests.post(f"{api}/model-versions/create", timeout=30,
                      json={"name": registered, "source": f"runs:/{run}/model", "run_id": run})
    assert r.status_code == 200, r.text
    names = {role: f"{role}-{tag}" for role in ("reader", "editor", "victim")}
    for role, name in names.items():
        r = requests.post(f"{api}/users/create", json={"username": name, "password": PASSWORD}, timeout=30)
        assert r.status_code == 200, r.text
    grants = "/api/3.0/mlflow/users/permissions/grant"
    for role, level in (("reader", "READ"), ("editor", "EDIT")):
        for kind, resource in (("experiment", exp), ("registered_model", registered)):
            r = requests.post(f"{base_url}{grants}", timeout=30, json={
                "username": names[role], "resource_type": kind, "resource_id": resource, "permission": level})
            assert r.status_code == 200, r.text
    return {"exp": exp, "run": run, "model": model["info"]["model_id"], "file": file, "names": names,
            "registered": registered}


def fields(world, identity):
    """One set of fields every route finds what it needs in (extra fields are ignored)."""
    password = PASSWORD
    return {
        "experiment_id": world["exp"], "experiment_ids": [world["exp"]], "run_id": world["run"],
        "run_uuid": world["run"], "name": f"n-{uuid.uuid4().hex[:10]}", "new_name": f"n-{uuid.uuid4().hex[:10]}",
        "key": "k", "value": "v", "metric_key": "m", "timestamp": 1, "step": 0, "run_ids": [world["run"]],
        "username": world["names"]["victim"], "password": "victim-password-2", "is_admin": False,
        "resource_type": "experiment", "resource_id": world["exp"], "permission": "READ",
        "path": "f.txt", "model_id": world["model"], "status": "FINISHED", "max_results": 10,
        # Server functions: the caller's own password, unchanged (a 400 that proves the call got in).
        "current_password": password, "new_password": password, "days": "", "id": 0, "filter": "",
        "sort": "", "page": 0, "q": "", "after": "", "with_spans": False, "x": "step", "y": "m",
        "by_time": False, "smoothing": 0, "log_y": False, "next": "/",
        # Dashboard: zoom, parallel ranges, deleted rows, and "restore" (a no-op on live ones).
        "xmin": "", "xmax": "", "pc": "", "show_deleted": False, "deleted": False,
        # Registry server functions.
        "version": "1", "stage": "Staging", "alias": "champ", "description": "", "model_name": "", "target": "1",
        # Serving server functions.
        "percent": "10", "deployment": "", "csv": "", "json": "", "minutes": 15,
    }


def headers_for(identity, world, admin_auth):
    if identity == "none":
        return {}
    if identity == "admin":
        return {"Authorization": admin_auth}
    return {"Authorization": basic(world["names"][identity], PASSWORD)}


def concrete(path, world):
    return (path.replace("{model_id}", world["model"]).replace("{tag_key}", "k")
            .replace("{webhook_id}", "0" * 32).replace("{name}", "no-such-model").replace("{version}", "1")
            .replace("{*path}", world["file"]).replace(":id", world["exp"]))


def send(base_url, kind, route, world, identity, admin_auth):
    headers = headers_for(identity, world, admin_auth)
    body = fields(world, identity)
    method = route["method"].upper()
    path = concrete(route["path"], world)
    if path.endswith("/runs/log-metric"):
        body["value"] = 1.5
    if path.endswith("/logged-models/" + world["model"]) and method == "PATCH":
        body["status"] = "READY"
    if ("registered-models" in path or "model-versions" in path or "/registry/" in path
            or (kind == "server_functions" and ("model" in path or "version" in path))):
        # The registry names a model, not an experiment.
        body.update({"name": world["registered"], "version": "1", "alias": "champ", "stage": "Staging",
                     "source": f"runs:/{world['run']}/model", "archive_existing_versions": False})
    if path == "/_app/sign_in":
        # A real sign-in (as the reader): the route must let anyone try.
        body["username"], body["password"] = world["names"]["reader"], PASSWORD
    if kind == "pages" and path.startswith("/runs/"):
        path = f"/runs/{world['run']}"
    common = dict(headers=headers, timeout=60, allow_redirects=False, anonymous=identity == "none")
    if kind == "server_functions":
        form = {k: ("true" if v is True else "false" if v is False else v) for k, v in body.items()
                if not isinstance(v, list)}
        form["run_ids[0]"] = world["run"]
        return requests.post(f"{base_url}{path}", data=form, **common)
    if method == "GET":
        return requests.get(f"{base_url}{path}", params=body, **common)
    if path.startswith("/api/2.0/mlflow-artifacts/artifacts/") or path.startswith("/ajax-api/2.0/mlflow-artifacts/artifacts/"):
        return requests.request(method, f"{base_url}{path}", data=b"x", **common)
    return requests.request(method, f"{base_url}{path}", json=body, **common)


def refused(kind, response):
    if kind == "pages":
        return response.status_code in (302, 303, 307) and response.headers.get("Location", "").startswith("/login")
    return response.status_code in (401, 403)


def test_every_route_has_a_class(table):
    for kind in ("rest", "server_functions", "pages"):
        assert table[kind], f"no {kind} listed"
        missing = [r["path"] for r in table[kind] if r["class"] not in ALLOWED]
        assert not missing, f"{kind} without a class: {missing}"


def test_every_route_refuses_exactly_whom_it_should(base_url, table, world):
    admin_auth = os.environ.get("AIOPS_TEST_AUTHORIZATION")
    if not admin_auth:
        pytest.fail("AIOPS_TEST_AUTHORIZATION is not set: run via scripts/test.sh")
    wrong = []
    # The admin goes last, and deletions go last of all, so every identity finds the world intact.
    rows = [(kind, r) for kind in ("pages", "server_functions", "rest") for r in table[kind]]
    rows.sort(key=lambda kr: "delete" in kr[1]["path"] or kr[1]["method"] == "DELETE")
    for identity in ("none", "reader", "editor", "admin"):
        for kind, route in rows:
            response = send(base_url, kind, route, world, identity, admin_auth)
            assert response.status_code < 500, (route, identity, response.status_code, response.text[:300])
            should_pass = identity in ALLOWED[route["class"]]
            if refused(kind, response) == should_pass:
                wrong.append((identity, route["method"], route["path"], route["class"], response.status_code,
                              response.text[:120]))
            # The inference API answers in its own format, {"error": "..."}.
            inference = route["path"].startswith("/v2")
            if identity == "none" and kind == "rest" and response.status_code == 401:
                assert "error" in response.json() if inference else response.json()["error_code"] == "UNAUTHENTICATED"
            if response.status_code == 403 and kind != "pages":
                body = response.json()
                assert "error" in body if inference else body["error_code"] == "PERMISSION_DENIED", response.text
    assert not wrong, "\n".join(map(str, wrong))


def test_a_server_function_missing_arguments_answers_400(base_url):
    r = requests.post(f"{base_url}/_app/update_model_description", data={"name": "x"}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
