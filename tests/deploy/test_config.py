"""The deployment files, checked without Docker or Kubernetes: compose against the compose
spec and our rules (pinned images, one published port, health checks, conditions, required
secrets), nginx -t, promtool on the Prometheus config and rules (with their unit tests),
the Grafana provisioning, and the Helm chart rendered and validated against Kubernetes'
schemas."""
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import DEPLOY, ROOT, required_tool

COMPOSE = ROOT / "docker-compose.yml"


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def check_jsonschema(schema, path):
    tool = ROOT / ".tools" / "deploy-venv" / "bin" / "check-jsonschema"
    exe = str(tool) if tool.exists() else "check-jsonschema"
    out = subprocess.run([exe, "--builtin-schema", schema, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_compose_matches_the_compose_spec():
    check_jsonschema("vendor.compose-spec", COMPOSE)


def test_ci_workflow_is_valid_and_runs_the_test_command():
    workflow = ROOT / ".github" / "workflows" / "ci.yml"
    check_jsonschema("vendor.github-workflows", workflow)
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    assert any(step.get("run") == ".ci/run" for step in jobs["test"]["steps"])
    assert jobs["test"]["timeout-minutes"] <= 90
    assert any("docker/build-push-action" in step.get("uses", "") for step in jobs["image"]["steps"])


def test_every_image_is_pinned_to_a_version():
    services = compose()["services"]
    built = {s.get("image") for s in services.values() if "build" in s}
    for name, service in services.items():
        image = service.get("image")
        if "build" in service:
            continue
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"
        # MinIO's Docker Hub repositories are gone: quay.io, at a fixed release.
        if image in built:
            continue
        if "minio" in repo:
            assert repo.startswith("quay.io/minio/") and tag.startswith("RELEASE."), image


def test_only_the_proxy_publishes_a_port():
    published = {n for n, s in compose()["services"].items() if s.get("ports")}
    assert published == {"nginx"}
    assert "ports" not in compose()["services"]["aiops"]


def test_what_others_wait_on_has_a_health_check_and_every_wait_a_condition():
    services = compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for other, how in depends.items():
            condition = how.get("condition")
            assert condition in ("service_healthy", "service_completed_successfully"), (name, other)
            if condition == "service_healthy":
                assert "healthcheck" in services[other], f"{name} waits on {other}, which has no health check"
            else:
                assert services[other].get("restart") == "no", f"{other} is a one-shot job"


def test_secrets_are_required_and_the_example_env_names_them_all():
    text = COMPOSE.read_text()
    # No secret has a default outside .env: each is ${VAR:?...}.
    for var in ("POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "AIOPS_ADMIN_PASSWORD", "AIOPS_METRICS_TOKEN",
                "GRAFANA_ADMIN_PASSWORD"):
        uses = re.findall(r"\$\{" + var + r"(:?[-?][^}]*)?\}", text)
        assert uses and all(u.startswith(":?") for u in uses), f"{var} must be required (${{{var}:?...}})"
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required <= example, f"missing from .env.example: {required - example}"
    assert "/.env" in (ROOT / ".gitignore").read_text().splitlines()
    # The demo loader runs only when asked for.
    assert compose()["services"]["demo"]["profiles"] == ["demo"]


def render_nginx(tmp_path, listen_port, upstream, extra_http=""):
    """The template as the nginx image renders it, inside a main config for Debian's nginx."""
    template = (DEPLOY / "nginx" / "aiops.conf.template").read_text()
    server = (template.replace("${NGINX_RESOLVER}", "127.0.0.1")
              .replace("${AIOPS_UPSTREAM}", upstream)
              .replace("${GRAFANA_UPSTREAM}", "127.0.0.1:9")
              .replace("listen 80;", f"listen 127.0.0.1:{listen_port};"))
    assert "${" not in server, "the template uses a variable compose does not set"
    (tmp_path / "logs").mkdir(parents=True, exist_ok=True)
    (tmp_path / "server.conf").write_text(server)
    main = tmp_path / "nginx.conf"
    main.write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
daemon off;
events {{}}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body;
  proxy_temp_path {tmp_path}/proxy;
  {extra_http}
  include {tmp_path}/server.conf;
}}
""")
    return main


def test_nginx_config_is_valid(tmp_path):
    nginx = required_tool("nginx")
    main = render_nginx(tmp_path, 18080, "aiops_replicas",
                        "upstream aiops_replicas { server 127.0.0.1:1; server 127.0.0.1:2; }")
    out = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # Streaming uploads: no body limit, no request buffering, long reads.
    text = (tmp_path / "server.conf").read_text()
    for directive in ("client_max_body_size 0;", "proxy_request_buffering off;", "proxy_read_timeout 3600s;",
                      "X-Forwarded-For", "X-Forwarded-Proto", "resolver 127.0.0.1 valid=10s"):
        assert directive in text, directive


def promtool(*args, cwd=None):
    out = subprocess.run([required_tool("promtool"), *args], capture_output=True, text=True, cwd=cwd)
    return out.returncode, out.stdout + out.stderr


def test_prometheus_config_and_rules(tmp_path):
    # The token file is a compose secret; here a stand-in at a path that exists.
    token = tmp_path / "metrics_token"
    token.write_text("0123456789abcdef0123")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text().replace("/run/secrets/metrics_token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    (tmp_path / "rules.yml").write_text((DEPLOY / "prometheus" / "rules.yml").read_text())
    code, out = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert code == 0, out
    code, out = promtool("check", "rules", str(DEPLOY / "prometheus" / "rules.yml"))
    assert code == 0 and "5 rules found" in out, out
    code, out = promtool("test", "rules", "rules.test.yml", cwd=DEPLOY / "prometheus")
    assert code == 0 and "SUCCESS" in out, out


def dashboard():
    return json.loads((DEPLOY / "grafana" / "dashboards" / "aiops.json").read_text())


def test_grafana_dashboard_uses_the_provisioned_datasource_and_unique_ids():
    source = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
            assert target["expr"].strip()
    provider = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "aiops.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


# ---- Helm ----

CHART = DEPLOY / "helm" / "aiops"


def render(values=None, **api):
    import helm_python as helm
    helm.disable_logging()
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values or {})
        out = chart.render(values=values, name="aiops", namespace="aiops")
    docs = []
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def production_values():
    return yaml.safe_load((CHART / "values-production.yaml").read_text())


def kube_validate(tmp_path, docs):
    """Every core object against Kubernetes 1.37's schemas (strict: unknown fields fail, and
    an API version Kubernetes removed has no schema, so it fails too)."""
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(core))
    exe = ROOT / ".tools" / "deploy-venv" / "bin" / "kubernetes-validate"
    out = subprocess.run([str(exe) if exe.exists() else "kubernetes-validate", "--strict", "-k", "1.37.0", str(path)],
                         capture_output=True, text=True)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    # A removed API version only warns there: it has no schema. Here it fails.
    assert "Couldn't find schema" not in text, text
    assert text.count(" passed for resource ") == len(core), text
    return {d["kind"] for d in docs}


def test_chart_renders_and_validates_with_default_values(tmp_path):
    docs = render()
    kinds = kube_validate(tmp_path, docs)
    assert kinds == {"Deployment", "Service", "Secret", "ServiceAccount", "PersistentVolumeClaim"}
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def test_chart_renders_and_validates_with_production_values(tmp_path):
    docs = render(production_values())
    kinds = kube_validate(tmp_path, docs)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress",
            "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    assert "Secret" not in kinds and "PersistentVolumeClaim" not in kinds
    by_kind = {d["kind"]: d for d in docs}
    pod = by_kind["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert "replicas" not in by_kind["Deployment"]["spec"], "the HPA owns the replica count"
    assert {"checksum/secret", "checksum/values"} <= set(pod["metadata"]["annotations"])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"]
    assert pod["spec"]["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert set(secrets.values()) == {"aiops"} and "AIOPS_DATABASE_URL" in secrets
    assert by_kind["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert by_kind["Ingress"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "0"
    # The dashboard and the rules are the compose stack's own files.
    board = json.loads(by_kind["ConfigMap"]["data"]["aiops.json"])
    assert board == dashboard()
    groups = by_kind["PrometheusRule"]["spec"]["groups"]
    assert [r["alert"] for r in groups[0]["rules"]] == [
        r["alert"] for r in yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())["groups"][0]["rules"]]


def test_monitoring_objects_need_their_api_unless_forced():
    kinds = {d["kind"] for d in render({**production_values(), "monitoring": {
        "serviceMonitor": "auto", "prometheusRule": "auto", "grafanaDashboard": "auto"}})}
    # Rendered offline, the cluster serves no monitoring.coreos.com/v1.
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ConfigMap"}


@pytest.mark.parametrize("values", [
    {"replicaCount": 2},
    {"autoscaling": {"enabled": True}},
    {"replicaCount": 3, "database": {"enabled": True}, "secrets": {"databaseUrl": "postgres://a:b@db/aiops"}},
])
def test_chart_refuses_several_replicas_on_sqlite_or_a_local_folder(values):
    import helm_python as helm
    with pytest.raises(helm.HelmError, match="more than one replica"):
        render(values)


@pytest.mark.parametrize("values", [
    {"migrations": "sometimes"},
    {"replicaCount": "two"},
    {"secrets": {"metricsToken": "short"}},
    {"unknownKey": True},
])
def test_values_schema_refuses_bad_values(values):
    import helm_python as helm
    with pytest.raises(helm.HelmError):
        render(values)


def test_chart_lints_clean():
    import helm_python as helm
    for values in (None, production_values()):
        report = helm.lint(str(CHART), values, strict=True)
        errors = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert not errors, report


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
