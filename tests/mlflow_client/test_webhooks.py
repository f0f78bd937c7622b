"""Webhooks through the official MLflow client: create, list, get, update, test and delete,
and real registry events reaching a local receiver, signed as MLflow signs them (checked
with MLflow's own signing function). The suite's servers run with
`--webhook-allow-private --webhook-schemes http,https` so the receiver may sit on
loopback; the refusal of private addresses is tested in server/tests/serve.rs.
"""
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import pytest
from mlflow.entities.webhook import WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.webhooks.delivery import _generate_hmac_signature

SECRET = "whsec-client-suite"


@pytest.fixture
def receiver():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            # Header names are case-insensitive: keep them lower-cased.
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()


def signed(headers, body):
    expected = _generate_hmac_signature(
        SECRET, headers["x-mlflow-delivery-id"], headers["x-mlflow-timestamp"], body)
    return headers.get("x-mlflow-signature") == expected


def wait_for(got, predicate, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        matches = [(h, json.loads(b)) for h, b in list(got) if predicate(json.loads(b))]
        if matches:
            return matches
        time.sleep(0.1)
    pytest.fail(f"no matching delivery in {seconds}s: {got}")


def test_webhook_lifecycle_with_the_client(client, receiver):
    url, got = receiver
    name = f"hook-{uuid.uuid4().hex[:8]}"
    hook = client.create_webhook(
        name=name, url=url, events=["registered_model.created", "model_version.created"],
        description="ci", secret=SECRET)
    assert hook.name == name and hook.url == url and hook.status == WebhookStatus.ACTIVE
    assert {str(e) for e in hook.events} == {"registered_model.created", "model_version.created"}
    assert hook.secret is None
    assert client.get_webhook(hook.webhook_id).description == "ci"
    assert hook.webhook_id in [w.webhook_id for w in client.list_webhooks(max_results=1000)]

    updated = client.update_webhook(hook.webhook_id, description="ci builds", status="DISABLED")
    assert updated.description == "ci builds" and updated.status == WebhookStatus.DISABLED
    client.update_webhook(hook.webhook_id, status="ACTIVE")

    result = client.test_webhook(hook.webhook_id, event=WebhookEvent("model_version", "created"))
    assert result.success and result.response_status == 200, result
    wait_for(got, lambda b: b["data"].get("source") == "models:/123")
    example = [(h, b) for h, b in got if "models:/123" in b]
    assert all(signed(h, b) for h, b in example), example

    model = f"wh-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(model)
    with mlflow.start_run() as run:
        mlflow.log_text("x", "model/file.txt")
    client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    created = wait_for(got, lambda b: b["entity"] == "model_version" and b["data"].get("name") == model)
    assert created[0][1]["action"] == "created" and created[0][1]["data"]["version"] == "1"
    assert wait_for(got, lambda b: b["entity"] == "registered_model" and b["data"].get("name") == model)
    # Every delivery is signed over its exact body.
    raw = [(h, b) for h, b in got if json.loads(b)["data"].get("name") == model]
    assert raw and all(signed(h, b) for h, b in raw), raw

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as missing:
        client.get_webhook(hook.webhook_id)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_bad_webhooks_are_refused_with_400(client):
    with pytest.raises(MlflowException) as bad_name:
        client.create_webhook(name="-bad name-", url="https://8.8.8.8/hook", events=["model_version.created"])
    assert bad_name.value.error_code == "INVALID_PARAMETER_VALUE"
    for url in ("ftp://8.8.8.8/hook", "not a url", "https://user:pw@8.8.8.8/hook"):
        with pytest.raises(MlflowException) as bad_url:
            client.create_webhook(name="bad-url", url=url, events=["model_version.created"])
        assert bad_url.value.error_code == "INVALID_PARAMETER_VALUE", url
    with pytest.raises(MlflowException) as unknown:
        client.update_webhook(uuid.uuid4().hex, description="x")
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
