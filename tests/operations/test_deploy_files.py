"""The deployment files, validated offline (no container engine or cluster runs here):
structure, that every probe and health check points at a path Django really serves, that
secrets come from files, and the tools' own checks where the tools are installed
(``kubectl kustomize``, ``systemd-analyze verify``)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.urls import Resolver404, resolve

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SECRET_NAMES = ("SECRET_KEY", "KEKS", "ENROLLMENT_PEPPER", "AUDIT_SIGNING_KEY", "METRICS_TOKEN")


def served(path: str) -> str:
    """The URL name Django serves ``path`` under (fails if it serves nothing there)."""
    try:
        return resolve(path).url_name
    except Resolver404:
        pytest.fail(f"{path} is probed but Django serves nothing there")


def test_the_health_endpoints_are_real_paths():
    assert served("/healthz") == "healthz"
    assert served("/readyz") == "readyz"
    assert served("/metrics") == "metrics"


# --- Dockerfile ---------------------------------------------------------------------------


def dockerfile() -> list[str]:
    """Instructions, with continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_slim_pinned_non_root_and_checks_its_health():
    lines = dockerfile()
    base = next(line for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.\d+\.\d+-slim-\w+", base), base
    assert all(line.split()[1].startswith("${PYTHON_IMAGE}") for line in lines if line.startswith("FROM"))
    runtime = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM")) :]
    user = next(line for line in runtime if line.startswith("USER"))
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    install = next(line for line in lines if "requirements.lock" in line and line.startswith("RUN"))
    assert "--require-hashes" in install
    healthcheck = next(line for line in runtime if line.startswith("HEALTHCHECK"))
    probed = re.search(r"http://127\.0\.0\.1:8000(/\w+)", healthcheck).group(1)
    assert served(probed) == "healthz"
    assert any("collectstatic" in line for line in lines)
    assert any("compilemessages" in line for line in lines)
    assert not any(re.search(r"(SECRET_KEY|KEKS|PEPPER|SIGNING_KEY)=", line) for line in lines)


# --- compose ------------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_the_whole_stack_with_secrets_from_files():
    stack = compose()
    services = stack["services"]
    assert {"postgres", "redis", "migrate", "web1", "web2", "worker", "proxy"} <= services.keys()
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("web1", "web2", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["LIVLINA_ENV"] == "production"
        for secret in SECRET_NAMES:
            assert f"LIVLINA_{secret}" not in env, f"{name} has {secret} in its environment"
            mounted = env[f"LIVLINA_{secret}_FILE"]
            assert mounted.removeprefix("/run/secrets/") in services[name]["secrets"]
        assert "DATABASE_URL" not in env and env["DATABASE_URL_FILE"].startswith("/run/secrets/")
    for name in ("web1", "web2", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert all("file" in spec for spec in stack["secrets"].values())
    # Every image is pinned to a version.
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name
        assert re.search(r":\d+\.\d+", image), f"{name}: {image}"
    worker_check = services["worker"]["healthcheck"]["test"]
    assert worker_check[-2:] == ["check_worker_heartbeat", "--this-host"]


def nginx_conf(path: Path) -> str:
    return path.read_text()


@pytest.mark.parametrize("conf", ["nginx/livlina.conf", "compose/nginx.conf"])
def test_the_proxy_upgrades_websockets_sends_hsts_limits_bodies_and_hides_internal_paths(conf):
    text = nginx_conf(DEPLOY / conf)
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $livlina_connection;" in text
    assert re.search(r'Strict-Transport-Security "max-age=\d{8}', text)
    assert "client_max_body_size 64k;" in text
    assert re.search(r"location /ws/ \{[^}]*proxy_read_timeout 1h;", text)
    assert "proxy_connect_timeout 5s;" in text
    for internal in ("/readyz", "/metrics"):
        assert f"location = {internal} {{ return 404; }}" in text


def test_the_compose_proxy_points_at_both_daphne_services():
    text = nginx_conf(DEPLOY / "compose" / "nginx.conf")
    upstream = re.search(r"upstream livlina_daphne \{([^}]*)\}", text).group(1)
    assert re.findall(r"server (\S+);", upstream) == ["web1:8000", "web2:8000"]
    assert "/run/secrets/tls_certificate" in text


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_nginx_accepts_the_host_configuration(tmp_path):
    from tests.operations.proxied_stack import nginx_test_config

    conf = nginx_test_config(tmp_path, upstream_ports=[8001, 8002], listen_port=8443)
    done = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- Kubernetes ---------------------------------------------------------------------------


def manifests() -> list[dict]:
    docs = []
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        docs.extend(doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / resource).read_text()) if doc)
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def test_kubernetes_has_every_piece_the_issue_lists():
    kinds = {doc["kind"] for doc in manifests()}
    assert {"Deployment", "Service", "Ingress", "PodDisruptionBudget", "Job", "ConfigMap"} <= kinds
    assert set(by_kind("Deployment")) == {"livlina-web", "livlina-worker"}


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_web_probes_use_the_real_endpoints_on_the_real_port():
    web = by_kind("Deployment")["livlina-web"]
    (daphne,) = containers(web)
    ports = {port["name"]: port["containerPort"] for port in daphne["ports"]}
    assert str(ports["http"]) in daphne["args"]
    host = yaml.safe_load((DEPLOY / "kubernetes" / "configmap.yaml").read_text())["data"]["LIVLINA_ALLOWED_HOSTS"]
    expected = {"livenessProbe": "healthz", "readinessProbe": "readyz", "startupProbe": "healthz"}
    for probe, url_name in expected.items():
        get = daphne[probe]["httpGet"]
        assert served(get["path"]) == url_name
        assert get["port"] in ports
        # Django refuses a Host it does not serve: the probe must send an allowed one.
        assert {"name": "Host", "value": host.split(",")[0]} in get["httpHeaders"]
    assert daphne["resources"]["requests"]["cpu"] and daphne["resources"]["requests"]["memory"]


def test_the_worker_liveness_command_exists():
    from django.core.management import get_commands

    (worker,) = containers(by_kind("Deployment")["livlina-worker"])
    command = worker["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["python", "manage.py"] and command[2] in get_commands()
    assert worker["args"][2] in get_commands()
    assert worker["resources"]["requests"]["memory"]


def test_services_budgets_and_ingress_select_what_exists():
    deployments = by_kind("Deployment")
    labels = {name: doc["spec"]["template"]["metadata"]["labels"] for name, doc in deployments.items()}

    def selects(selector: dict) -> set[str]:
        return {name for name, have in labels.items() if selector.items() <= have.items()}

    service = by_kind("Service")["livlina-web"]
    assert selects(service["spec"]["selector"]) == {"livlina-web"}
    budgets = by_kind("PodDisruptionBudget")
    assert {frozenset(selects(b["spec"]["selector"]["matchLabels"])) for b in budgets.values()} == {
        frozenset({"livlina-web"}),
        frozenset({"livlina-worker"}),
    }
    service_ports = {port["name"] for port in service["spec"]["ports"]}
    ingress = by_kind("Ingress")["livlina"]
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # WebSockets
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64k"
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["path"] for p in paths} >= {"/api/", "/ws/", "/inbox/"}
    assert not {"/readyz", "/metrics", "/"} & {p["path"] for p in paths}
    for p in paths:
        assert p["backend"]["service"]["name"] == "livlina-web"
        assert p["backend"]["service"]["port"]["name"] in service_ports


def test_every_pod_reads_its_secrets_from_the_mounted_secret():
    settings = yaml.safe_load((DEPLOY / "kubernetes" / "configmap.yaml").read_text())["data"]
    example = yaml.safe_load((DEPLOY / "kubernetes" / "secret.example.yaml").read_text())
    keys = set(example["stringData"])
    pods = [*by_kind("Deployment").values(), *by_kind("Job").values()]
    for pod in pods:
        spec = pod["spec"]["template"]["spec"]
        (volume,) = [v for v in spec["volumes"] if "secret" in v]
        assert volume["secret"]["secretName"] == example["metadata"]["name"]
        (container,) = spec["containers"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True
        for name, value in settings.items():
            if name.endswith("_FILE") or name == "LIVLINA_FCM_CREDENTIALS":
                assert value.startswith(mount["mountPath"] + "/")
                assert value.rsplit("/", 1)[1] in keys, name
    for secret in SECRET_NAMES:
        assert f"LIVLINA_{secret}" not in settings


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kustomize_builds_the_manifests():
    done = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "kubernetes")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    built = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert {doc["metadata"].get("namespace") for doc in built if doc["kind"] != "Namespace"} == {"livlina"}
    images = {c["image"] for doc in built if doc["kind"] in {"Deployment", "Job"} for c in containers(doc)}
    assert images == {"registry.example.org/livlina:0.1.0"}


# --- systemd ------------------------------------------------------------------------------


def test_units_order_after_postgresql_and_redis_and_web_is_a_template():
    units = DEPLOY / "systemd"
    assert (units / "livlina-daphne@.service").exists()
    for unit in ("livlina-daphne@.service", "livlina-worker@.service", "livlina-migrate.service"):
        after = re.search(r"^After=(.*)$", (units / unit).read_text(), re.MULTILINE).group(1).split()
        assert {"postgresql.service", "redis-server.service"} <= set(after), unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_verifies_the_units(tmp_path):
    # The units name /opt/livlina; verify checks that executables exist, so point them at
    # this checkout's virtualenv.
    venv = REPO / ".venv"
    if not (venv / "bin" / "daphne").exists():
        pytest.skip("needs the project's virtualenv")
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/livlina/.venv", str(venv))
        (tmp_path / unit.name).write_text(text)
    names = ["livlina-daphne@8001.service", "livlina-worker@1.service", "livlina-migrate.service", "livlina.target"]
    names += ["livlina-verify-audit.service", "livlina-verify-audit.timer"]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    problems = [line for line in done.stderr.splitlines() if "livlina" in line]
    assert done.returncode == 0 and not problems, done.stderr
