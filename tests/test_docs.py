"""Documentation that is generated from code stays in sync with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/config_reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_example_configs_validate() -> None:
    env = {
        "LANGFUSE_PUBLIC_KEY": "pk-lf-example",
        "LANGFUSE_SECRET_KEY": "sk-lf-example",
        "GITLAB_TOKEN": "example",
        "MATTERMOST_WEBHOOK_URL": "https://mattermost.example.com/hooks/example",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/example",
        "PATH": "/usr/bin:/bin",
    }
    cmd = [sys.executable, "-m", "monitors.app.cli.main", "validate", "-c", "monitors.yaml", "-s", "schedules.yaml"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: monitors.yaml, schedules.yaml valid")


# A repository path as the docs write it: under one of these folders, ending in a file name or a slash.
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:monitors|scripts|tests|benchmarks|docs|deploy|data|reference)/[\w./*{},-]*[\w*}/])"
)
# Documents whose paths are this repository's (data/SOURCES.md names files of the upstream repositories).
DOCUMENTS = ["README.md", "monitors/demo/README.md", *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("docs/*.md"))]


def _named_paths(text: str) -> set[str]:
    paths = set()
    for found in REPO_PATH.findall(text):
        path = found.rstrip(".")
        # Only what reads as a file or a folder: a file name with an extension, or a trailing slash.
        if path.endswith("/") or re.search(r"\.[a-z]{1,6}$", path):
            paths.add(path)
    return paths


def test_every_repository_path_the_docs_name_exists() -> None:
    missing = []
    for document in DOCUMENTS:
        for path in sorted(_named_paths((ROOT / document).read_text(encoding="utf-8"))):
            pattern = re.sub(r"\{[^}]*\}", "*", path)  # `trajs/{a,b}.json`: any of them
            if not any(ROOT.glob(pattern.rstrip("/"))):
                missing.append(f"{document}: {path}")
    assert missing == []


def test_the_path_check_reads_paths_as_written() -> None:
    text = "Code: `monitors/cost/monitor.py` (the monitor), `monitors/cost/`, tests/fakes/langfuse_*.py. See x.md."
    assert _named_paths(text) == {"monitors/cost/monitor.py", "monitors/cost/", "tests/fakes/langfuse_*.py"}
    named = _named_paths("the deploy/langfuse-monitors-scheduler Deployment, the data/drift_pairs/ folder")
    assert named == {"data/drift_pairs/"}  # a Kubernetes name is not a path; a folder with its slash is


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def test_where_a_user_configures_secrets_every_way_to_give_one_is_explained() -> None:
    """The Kubernetes manifests give secrets as VAR_FILE files: a reader of the configuration reference (the
    README's section and docs/configuration.md's preamble) must learn it there, not only in docs/deployment.md."""
    readme = _section((ROOT / "README.md").read_text(), "## Configuration reference")
    reference = (ROOT / "docs" / "configuration.md").read_text().split("\n## ", 1)[0]
    for text in (readme, reference):
        for form in ("${VAR}", "${VAR:-default}", "VAR_FILE", "${file:"):
            assert form in text, form
