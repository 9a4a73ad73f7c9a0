"""deploy/k8s: generated from schedules.yaml, in sync with the committed files, valid Kubernetes objects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.app.k8s import manifests as k8s
from monitors.contracts.errors import ConfigError
from monitors.engine.schedule_config import load_schedules

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33.0"  # the oldest still-supported release that has every field we use (podFailurePolicy GA 1.31)


def _committed_render(image: str = k8s.DEFAULT_IMAGE) -> dict[str, str]:
    return k8s.render_all(ROOT / "schedules.yaml", ROOT / "monitors.yaml", image=image)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_committed_manifests_equal_a_fresh_render() -> None:
    files = _committed_render()
    assert k8s.differences(files, DEPLOY) == [], "run `run-monitor k8s render` and commit deploy/k8s"
    on_disk = sorted(str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*.yaml"))
    assert on_disk == sorted(files)


def test_the_comparison_fails_when_the_schedule_changes(tmp_path: Path) -> None:
    changed = (ROOT / "schedules.yaml").read_text().replace('cron: "30 6 * * *"', 'cron: "0 5 * * *"')
    assert changed != (ROOT / "schedules.yaml").read_text()
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(changed)
    files = k8s.render_all(schedules, ROOT / "monitors.yaml")
    k8s.write_all(files, tmp_path / "out")
    # The drift CronJob and the ConfigMap (which carries schedules.yaml) now differ from the committed ones.
    assert k8s.differences(files, DEPLOY) == ["base/configmap.yaml", "cronjobs/cronjob-drift.yaml"]
    assert yaml.safe_load(files["cronjobs/cronjob-drift.yaml"])["spec"]["schedule"] == "0 5 * * *"
    assert k8s.differences(_committed_render(), tmp_path / "out") == [
        "base/configmap.yaml",
        "cronjobs/cronjob-drift.yaml",
    ]


def test_a_removed_entry_leaves_no_cronjob_behind(tmp_path: Path) -> None:
    k8s.write_all(_committed_render(), tmp_path)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text('jobs:\n  - {name: cost, monitor: cost, cron: "*/15 * * * *"}\n')
    files = k8s.render_all(schedules, ROOT / "monitors.yaml")
    assert "cronjobs/cronjob-drift.yaml" in k8s.differences(files, tmp_path)
    k8s.write_all(files, tmp_path)
    assert sorted(p.name for p in (tmp_path / "cronjobs").iterdir()) == ["cronjob-cost.yaml", "kustomization.yaml"]
    assert k8s.differences(files, tmp_path) == []


@pytest.mark.parametrize("path", sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml"))
def test_every_manifest_validates_against_the_kubernetes_schema(path: Path) -> None:
    kubernetes_validate.validate(_load(path), K8S_VERSION, strict=True)


def test_an_invalid_manifest_is_caught_by_the_validator() -> None:
    cronjob = _load(DEPLOY / "cronjobs" / "cronjob-cost.yaml")
    cronjob["spec"]["concurrencyPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)


@pytest.mark.parametrize("folder", ["base", "cronjobs", "scheduler"])
def test_each_kustomization_lists_every_file_in_its_folder(folder: str) -> None:
    kustomization = _load(DEPLOY / folder / "kustomization.yaml")
    files = sorted(p.name for p in (DEPLOY / folder).glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(r for r in kustomization["resources"] if not r.startswith("../")) == files


def test_cronjobs_follow_the_schedule_entries() -> None:
    schedules = load_schedules(ROOT / "schedules.yaml")
    for job in schedules.jobs:
        cronjob = _load(DEPLOY / "cronjobs" / f"cronjob-{job.name}.yaml")
        spec = cronjob["spec"]
        assert spec["schedule"] == job.cron
        assert spec["timeZone"] == (job.timezone or schedules.timezone)
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] == int(job.misfire_grace.total_seconds())
        job_spec = spec["jobTemplate"]["spec"]
        assert job_spec["activeDeadlineSeconds"] == int(job.deadline.total_seconds())
        assert job_spec["ttlSecondsAfterFinished"] > 0 and job_spec["backoffLimit"] >= 0
        assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
        args = job_spec["template"]["spec"]["containers"][0]["args"]
        assert args[0] == job.monitor  # then, for a monitor, --deadline just under activeDeadlineSeconds


@pytest.mark.parametrize(
    "path",
    [*sorted((DEPLOY / "cronjobs").glob("cronjob-*.yaml")), DEPLOY / "scheduler" / "deployment.yaml"],
    ids=lambda p: p.name,
)
def test_pods_are_non_root_read_only_bounded_and_get_config_and_secrets(path: Path) -> None:
    obj = _load(path)
    template = obj["spec"]["jobTemplate"]["spec"]["template"] if obj["kind"] == "CronJob" else obj["spec"]["template"]
    pod = template["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"requests", "limits"} <= set(container["resources"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/etc/langfuse-monitors"]]["configMap"]["name"] == "langfuse-monitors-config"
    claim = volumes[mounts["/var/lib/langfuse-monitors"]]["persistentVolumeClaim"]["claimName"]
    assert claim == "langfuse-monitors-state"
    # Secrets are mounted files, not environment variables (the behaviour change of the hardening).
    assert "envFrom" not in container and pod["automountServiceAccountToken"] is False
    assert volumes[mounts["/run/secrets/langfuse-monitors"]]["secret"]["secretName"] == "langfuse-monitors"


def test_the_deployment_runs_the_scheduler_on_the_same_files() -> None:
    deployment = _load(DEPLOY / "scheduler" / "deployment.yaml")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    container = spec["template"]["spec"]["containers"][0]
    assert container["args"][0] == "scheduler"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MONITORS_SCHEDULES"] == "/etc/langfuse-monitors/schedules.yaml"
    configmap = _load(DEPLOY / "base" / "configmap.yaml")
    assert configmap["data"]["schedules.yaml"] == (ROOT / "schedules.yaml").read_text()
    assert configmap["data"]["monitors.yaml"] == (ROOT / "monitors.yaml").read_text()


def test_the_example_secret_holds_placeholders_only() -> None:
    secret = _load(DEPLOY / "base" / "secret.example.yaml")
    assert set(secret["stringData"].values()) <= {k8s.PLACEHOLDER, ""}
    # The shipped monitors.yaml leaves its github: section commented out: no GitHub key is asked for.
    assert "GITHUB_TOKEN" not in secret["stringData"] and "GITHUB_APP_PRIVATE_KEY" not in secret["stringData"]


def _secret_and_env(config_text: str) -> tuple[dict[str, str], dict[str, str]]:
    files = k8s.render(load_schedules(ROOT / "schedules.yaml"), "", config_text, k8s.DEFAULT_IMAGE)
    secret = yaml.safe_load(files["base/secret.example.yaml"])["stringData"]
    (container,) = yaml.safe_load(files["scheduler/deployment.yaml"])["spec"]["template"]["spec"]["containers"]
    return secret, {e["name"]: e["value"] for e in container["env"]}


def test_the_example_secret_asks_for_what_the_config_values_use_and_nothing_in_comments() -> None:
    config_text = (
        "# github:\n#   token: ${GITHUB_TOKEN}\n"
        "langfuse:\n  public_key: ${LANGFUSE_PUBLIC_KEY}   # not ${IN_A_COMMENT}\n"
        "  host: ${LANGFUSE_HOST:-https://cloud.langfuse.com}\n"
        "channels:\n  pager:\n    kind: pagerduty\n    routing_key: ${PD_KEY}\n"
        "    note: 'costs $${LITERAL}, from ${file:/run/secrets/x}'\n"
    )
    secret, env = _secret_and_env(config_text)
    # Read without a fallback: a placeholder to fill in; with one: empty, so the fallback applies.
    assert secret == {"LANGFUSE_PUBLIC_KEY": k8s.PLACEHOLDER, "LANGFUSE_HOST": "", "PD_KEY": k8s.PLACEHOLDER}
    file_vars = {name for name in env if name.endswith("_FILE")}
    assert file_vars == {"LANGFUSE_PUBLIC_KEY_FILE", "LANGFUSE_HOST_FILE", "PD_KEY_FILE"}
    assert env["PD_KEY_FILE"] == "/run/secrets/langfuse-monitors/PD_KEY"


def test_a_config_with_a_github_section_asks_for_its_key() -> None:
    config_text = (ROOT / "monitors.yaml").read_text() + "github:\n  token: ${GITHUB_TOKEN}\n"
    secret, env = _secret_and_env(config_text)
    assert secret["GITHUB_TOKEN"] == k8s.PLACEHOLDER and "GITHUB_TOKEN_FILE" in env


def test_the_example_secret_with_only_the_required_keys_filled_in_validates(tmp_path: Path) -> None:
    """A user fills in what the example config needs and leaves the rest as the example has it; the pod
    reads each key from its mounted file (VAR_FILE), as the manifests set it up."""
    from monitors.engine.config import load_config

    secret = _load(DEPLOY / "base" / "secret.example.yaml")["stringData"]
    config_text = (ROOT / "monitors.yaml").read_text()
    filled = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-1", "GITLAB_TOKEN": "glpat-1"}
    filled |= {
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
        "MATTERMOST_WEBHOOK_URL": "https://mm/hooks/x",
    }
    assert all(f"${{{key}}}" in config_text for key in filled)  # the keys it reads without a fallback
    env = {}
    for key, value in (secret | filled).items():
        (tmp_path / key).write_text(value)
        env[f"{key}_FILE"] = str(tmp_path / key)
    settings = load_config(ROOT / "monitors.yaml", env=env)
    assert settings.metrics.pushgateway_url is None or not str(settings.metrics.pushgateway_url)


def test_image_option_and_bad_names(tmp_path: Path) -> None:
    files = _committed_render(image="registry.example.com/team/langfuse-monitors:1.2.3")
    assert "image: registry.example.com/team/langfuse-monitors:1.2.3" in files["cronjobs/cronjob-cost.yaml"]
    bad = tmp_path / "schedules.yaml"
    bad.write_text('jobs:\n  - {name: Cost_Job, monitor: cost, cron: "*/15 * * * *"}\n')
    with pytest.raises(ConfigError) as err:
        k8s.render_all(bad, ROOT / "monitors.yaml")
    assert err.value.problems == ["jobs.0.name: 'Cost_Job' must be lowercase letters, digits and '-' for Kubernetes"]


def test_cli_check_and_render(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["k8s", "render", "-s", str(ROOT / "schedules.yaml"), "-c", str(ROOT / "monitors.yaml")]
    assert runner.invoke(cli, [*args, "-o", str(DEPLOY), "--check"]).exit_code == 0
    stale = runner.invoke(cli, [*args, "-o", str(tmp_path), "--check"])
    assert stale.exit_code == 1 and "out of date:" in stale.output
    written = runner.invoke(cli, [*args, "-o", str(tmp_path)])
    assert written.exit_code == 0 and written.output.startswith("wrote 13 files")
    assert runner.invoke(cli, [*args, "-o", str(tmp_path), "--check"]).exit_code == 0


def test_a_re_render_without_image_keeps_the_image_already_deployed(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["k8s", "render", "-s", str(ROOT / "schedules.yaml"), "-c", str(ROOT / "monitors.yaml"), "-o", str(tmp_path)]
    mine = "registry.example.com/team/langfuse-monitors@sha256:" + "ab" * 32
    assert runner.invoke(cli, [*args, "--image", mine]).exit_code == 0
    # After a schedule edit, CI checks and the user re-renders without repeating --image.
    assert runner.invoke(cli, [*args, "--check"]).exit_code == 0
    assert runner.invoke(cli, args).output.startswith("wrote 13 files to")
    images = {line.strip() for p in tmp_path.rglob("*.yaml") for line in p.read_text().splitlines() if "image:" in line}
    assert images == {f"image: {mine}"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize(("folder", "workload"), [("cronjobs", "CronJob"), ("scheduler", "Deployment")])
def test_kustomize_builds_each_variant_into_valid_objects(folder: str, workload: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / folder)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    objects = list(yaml.safe_load_all(built))
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == sorted(["Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", workload])
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def _audit_memory_limit(config_text: str) -> str:
    files = k8s.render(load_schedules(ROOT / "schedules.yaml"), "", config_text, k8s.DEFAULT_IMAGE)
    (audit_file,) = [path for path in files if path.startswith("cronjobs/cronjob-audit")]
    cronjob = yaml.safe_load(files[audit_file])
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container["resources"]["limits"]["memory"]


def test_an_audit_comparing_replies_by_embeddings_gets_the_memory_the_model_needs() -> None:
    # Loading torch and the sentence model alone peaks near 510 MB: the default 512Mi limit would
    # have the kubelet kill the audit pod the first time a session has enough replies to compare.
    lexical = (ROOT / "monitors.yaml").read_text()
    embedding = "monitors:\n  audit:\n    conversation:\n      similarity: embedding\n"
    assert _audit_memory_limit(lexical) == "512Mi"
    assert (
        _audit_memory_limit(embedding)
        == k8s.pod_spec([], "drift", "i", restart_policy="Never")["containers"][0]["resources"]["limits"]["memory"]
    )
    assert _audit_memory_limit(embedding) != "512Mi"


def test_a_mistyped_key_in_monitors_yaml_is_not_rendered(tmp_path: Path) -> None:
    config = tmp_path / "monitors.yaml"
    text = (ROOT / "monitors.yaml").read_text()
    config.write_text(text + "\nalertng:\n  retries_per_run: 2\n")
    with pytest.raises(ConfigError) as caught:
        k8s.render_all(ROOT / "schedules.yaml", config)
    assert len(caught.value.problems) == 1 and caught.value.problems[0].startswith(f"{config}: alertng: unknown key")


def test_a_secret_in_a_typed_key_is_left_to_the_cluster(tmp_path: Path) -> None:
    """The pods get SMTP_PORT; rendering reads no variable, and must not hold its absence against the file."""
    config = tmp_path / "monitors.yaml"
    raw = yaml.safe_load((ROOT / "monitors.yaml").read_text())
    raw.setdefault("channels", {})["mail"] = {
        "kind": "email", "host": "smtp.example.com", "port": "${SMTP_PORT}",
        "from_addr": "monitors@example.com", "to": ["oncall@example.com"],
    }  # fmt: skip
    config.write_text(yaml.safe_dump(raw))
    files = k8s.render_all(ROOT / "schedules.yaml", config)
    assert "SMTP_PORT" in files["base/secret.example.yaml"]
