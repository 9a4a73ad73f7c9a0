"""The Kubernetes manifests and the image: secrets as mounted files, no API token in the pods, a pinned
image reference, a liveness probe on the scheduler, a run that ends before its pod is killed, and a
Dockerfile that installs exactly what the lock file lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.app.k8s import manifests as k8s
from monitors.app.k8s.pod import SECRETS_DIR
from monitors.app.k8s.secrets import secret_keys
from monitors.contracts.errors import ConfigError
from monitors.engine.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "k8s"
PODS = [*sorted((DEPLOY / "cronjobs").glob("cronjob-*.yaml")), DEPLOY / "scheduler" / "deployment.yaml"]


def pod_of(path: Path) -> dict:
    obj = yaml.safe_load(path.read_text())
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    return template["spec"]


@pytest.mark.parametrize("path", PODS, ids=lambda p: p.name)
def test_pods_mount_their_secrets_and_get_no_api_token(path: Path) -> None:
    pod = pod_of(path)
    (container,) = pod["containers"]
    assert pod["automountServiceAccountToken"] is False
    assert "envFrom" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    keys = secret_keys((ROOT / "monitors.yaml").read_text())
    assert "LANGFUSE_SECRET_KEY" in keys
    assert not set(keys) & set(env)  # no secret value in the environment
    assert all(env[f"{key}_FILE"] == f"{SECRETS_DIR}/{key}" for key in keys)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == SECRETS_DIR)
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "langfuse-monitors" and volume["secret"]["defaultMode"] == 0o440


def test_the_scheduler_has_a_liveness_probe_on_its_health_port() -> None:
    (container,) = pod_of(DEPLOY / "scheduler" / "deployment.yaml")["containers"]
    port = container["args"][container["args"].index("--health-port") + 1]
    assert {"containerPort": int(port), "name": "health"} in container["ports"]
    probe = container["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "health"}
    assert probe["periodSeconds"] * probe["failureThreshold"] <= 120


@pytest.mark.parametrize("path", sorted((DEPLOY / "cronjobs").glob("cronjob-*.yaml")), ids=lambda p: p.name)
def test_a_cronjob_run_ends_itself_before_kubernetes_kills_it(path: Path) -> None:
    obj = yaml.safe_load(path.read_text())
    killed_at = obj["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    (container,) = pod_of(path)["containers"]
    if container["args"][0] == "report":
        return  # the report has no --deadline; Kubernetes' deadline bounds it
    ends_at = int(container["args"][container["args"].index("--deadline") + 1].removesuffix("s"))
    assert 0 < ends_at < killed_at


@pytest.mark.parametrize("image", ["langfuse-monitors", "langfuse-monitors:latest", "Registry/Bad Name:1"])
def test_an_image_reference_that_pins_nothing_is_refused(image: str) -> None:
    with pytest.raises(ConfigError, match="--image"):
        k8s.render_all(ROOT / "schedules.yaml", ROOT / "monitors.yaml", image=image)


def test_a_digest_is_rendered_as_given() -> None:
    image = "registry.example.com/team/langfuse-monitors@sha256:" + "0" * 64
    files = k8s.render_all(ROOT / "schedules.yaml", ROOT / "monitors.yaml", image=image)
    assert f"image: {image}" in files["scheduler/deployment.yaml"]


def test_the_config_reads_a_secret_from_the_file_its_FILE_variable_names(tmp_path: Path) -> None:
    secret = tmp_path / "LANGFUSE_SECRET_KEY"
    secret.write_text("sk-lf-from-a-file\n")
    env = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY_FILE": str(secret), "GITLAB_TOKEN": "t",
           "SLACK_WEBHOOK_URL": "https://hooks.example/x", "MATTERMOST_WEBHOOK_URL": "https://mm.example/hooks/y",
           "MONITORS_STORE_URL_FILE": str(tmp_path / "absent")}  # fmt: skip
    settings = load_config(ROOT / "monitors.yaml", env=env)
    assert settings.langfuse is not None and settings.langfuse.secret_key.get_secret_value() == "sk-lf-from-a-file"
    assert settings.store.url.get_secret_value() == "sqlite:///state/monitors.db"  # absent file: the default


def test_the_committed_manifests_are_a_fresh_render() -> None:
    args = ["k8s", "render", "-s", str(ROOT / "schedules.yaml"), "-c", str(ROOT / "monitors.yaml"), "-o", str(DEPLOY)]
    assert CliRunner().invoke(cli, [*args, "--check"]).exit_code == 0


def test_the_image_installs_from_the_lock_files_with_hashes() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, flags=re.MULTILINE)
    assert base and re.search(r"@sha256:[0-9a-f]{64}$", base.group(1)), "the base image is not pinned by digest"
    assert re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    installs = re.findall(r"pip install ([^\n]*(?:\\\n[^\n]*)*)", dockerfile)
    assert all("--require-hashes" in line or "--no-deps --no-build-isolation ." in line for line in installs)
    assert all("--no-deps" in line for line in installs), installs  # nothing resolved at build time
    pinned: dict[str, str] = {}
    for name in ("requirements.lock", "requirements-torch-cpu.lock"):
        assert f"-r {name}" in dockerfile
        text = (ROOT / name).read_text()
        for requirement in re.split(r"\n(?=[a-z0-9])", text):
            match = re.match(r"^([a-z0-9][\w.-]*)==(\S+)", requirement, flags=re.IGNORECASE)
            if match:
                assert "--hash=sha256:" in requirement, requirement.splitlines()[0]
                pinned[match[1].lower()] = match[2]
    assert pinned["torch"].endswith("+cpu")
    assert {"httpx", "sqlalchemy", "pydantic", "apscheduler", "sentence-transformers", "setuptools"} <= set(pinned)
    assert not any(name.startswith(("nvidia-", "triton")) for name in pinned)  # no CUDA in a CPU image
