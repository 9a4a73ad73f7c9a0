"""The pod every monitor runs in on Kubernetes: non-root, read-only root filesystem, bounded resources.

Layout inside the pod:
- /etc/langfuse-monitors: the ConfigMap (monitors.yaml, schedules.yaml), mounted as a directory so
  an edited ConfigMap reaches a running scheduler, which reloads schedules.yaml;
- /var/lib/langfuse-monitors: the working directory on the PersistentVolumeClaim, so the default
  `sqlite:///state/monitors.db` and the report's `reports/` land on the volume;
- /tmp: an emptyDir, the only other writable place (HOME and matplotlib's cache point there);
- /run/secrets/langfuse-monitors: the Secret, mounted read-only as one file per key. Secrets are not
  environment variables (those leak into `kubectl describe`, crash dumps and child processes): each
  `VAR_FILE` variable names the file, and monitors.yaml's `${VAR}` reads it (monitors.engine.config).
The pod gets no Kubernetes API token (`automountServiceAccountToken: false`): the monitors never call
the API, so a compromised run has no token to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

APP = "langfuse-monitors"
NAMESPACE = APP
CONFIG_MAP = f"{APP}-config"
SECRET = APP
STATE_CLAIM = f"{APP}-state"
CONFIG_DIR = "/etc/langfuse-monitors"
STATE_DIR = "/var/lib/langfuse-monitors"
SECRETS_DIR = "/run/secrets/langfuse-monitors"
USER_ID = 10001  # the user the Dockerfile creates

# Goal-drift loads torch and a sentence-transformer (so does the audit with `similarity: embedding`,
# manifests.resource_profile); the scheduler may run them too. The rest stay small.
RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "default": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "drift": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "report": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "scheduler": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
}


def labels(component: str | None = None, job: str | None = None) -> dict[str, str]:
    out = {"app.kubernetes.io/name": APP, "app.kubernetes.io/part-of": APP}
    if component:
        out["app.kubernetes.io/component"] = component
    if job:
        out["langfuse-monitors/job"] = job
    return out


def _env(secret_keys: Sequence[str]) -> list[dict[str, str]]:
    return [
        {"name": "HOME", "value": "/tmp"},
        {"name": "MONITORS_CONFIG", "value": f"{CONFIG_DIR}/monitors.yaml"},
        {"name": "MONITORS_SCHEDULES", "value": f"{CONFIG_DIR}/schedules.yaml"},
        {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"},
        *({"name": f"{key}_FILE", "value": f"{SECRETS_DIR}/{key}"} for key in secret_keys),
    ]


def container(args: list[str], profile: str, image: str, secret_keys: Sequence[str]) -> dict[str, Any]:
    return {
        "name": "run-monitor",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "env": _env(secret_keys),
        "resources": RESOURCES.get(profile, RESOURCES["default"]),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            {"mountPath": CONFIG_DIR, "name": "config", "readOnly": True},
            {"mountPath": SECRETS_DIR, "name": "secrets", "readOnly": True},
            {"mountPath": STATE_DIR, "name": "state"},
            {"mountPath": "/tmp", "name": "tmp"},
        ],
        "workingDir": STATE_DIR,
    }


def pod_spec(
    args: list[str], profile: str, image: str, *, restart_policy: str, secret_keys: Sequence[str] = ()
) -> dict[str, Any]:
    """The pod template's spec for one `run-monitor` invocation; `secret_keys` are the Secret's keys, each
    named to the process by its `VAR_FILE` variable (monitors.app.k8s.secrets)."""
    return {
        "automountServiceAccountToken": False,
        "containers": [container(args, profile, image, secret_keys)],
        "restartPolicy": restart_policy,
        "securityContext": {
            "fsGroup": USER_ID,  # the volume becomes writable by the non-root user
            "runAsGroup": USER_ID,
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [
            {"configMap": {"name": CONFIG_MAP}, "name": "config"},
            # Group-readable: the files belong to root and the fsGroup, and the process runs in that group.
            {"name": "secrets", "secret": {"defaultMode": 0o440, "secretName": SECRET}},
            {"name": "state", "persistentVolumeClaim": {"claimName": STATE_CLAIM}},
            {"emptyDir": {"sizeLimit": "256Mi"}, "name": "tmp"},
        ],
    }
