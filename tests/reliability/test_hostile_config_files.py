"""Configuration files built to hurt: not UTF-8, nested 50,000 deep, a "billion laughs" of aliases, too
large, a store URL no run could open. `run-monitor validate` and a run both answer with one line per
problem and exit 2, in bounded time and memory, never a traceback; a normal file with aliases loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.engine.config import load_config
from monitors.engine.yaml_input import MAX_NODES

# A run needs somewhere to read traces from; these tests are about the other keys.
LANGFUSE = "langfuse:\n  public_key: pk-lf-test\n  secret_key: sk-lf-test\n"

ROOT = Path(__file__).resolve().parents[2]
STORE = "store:\n  url: sqlite:///state.db\n"


def laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


FILES: dict[str, tuple[bytes, str]] = {
    "latin-1 bytes": (b"channels:\n  ops: {kind: stdout}\n# caf\xe9\n", "not UTF-8 text (byte 37)"),
    "nested 50,000 deep": (b"x: " + b"[" * 50_000 + b"]" * 50_000 + b"\n", "nested more than 50 levels deep"),
    "billion laughs": (laughs().encode(), f"expands to more than {MAX_NODES:,} values through aliases"),
    "an alias inside itself": (b"a: &a [1, *a]\n", "YAML refused: an alias refers to a node that contains it"),
    "2 MB of comments": (b"#" * 2_000_000 + b"\n", "larger than 1,000,000 bytes"),
}


@pytest.mark.parametrize("content,expected", FILES.values(), ids=list(FILES))
def test_a_hostile_file_is_one_line_and_exit_2(content: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_bytes(content)
    for args in (["validate", "-c", str(path)], ["audit", "-c", str(path)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.strip().splitlines() == [result.output.strip()]  # one line
        assert result.output.startswith(f"{path}:") and expected in result.output, result.output
        assert "Traceback" not in result.output


@pytest.mark.slow  # a subprocess
def test_a_billion_laughs_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(laughs())
    # A child with a 1 GB address-space cap: the old loader grew until killed; now it answers at once.
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
        "from monitors.app.cli.main import main; sys.argv = ['run-monitor', 'validate', '-c', sys.argv[1]]; main()"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and "values through aliases" in done.stderr, done.stderr
    assert "MemoryError" not in done.stderr and "Traceback" not in done.stderr


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(
        STORE + "x-hook: &hook {kind: stdout}\n".replace("x-hook", "channels:\n  a") + "  b: *hook\n"
        "default_route: {channels: [a, b]}\n"
    )
    settings = load_config(path, env={})
    assert sorted(settings.channels) == ["a", "b"]


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + STORE.encode())
    assert load_config(path, env={}).store.url.get_secret_value() == "sqlite:///state.db"


@pytest.mark.parametrize(
    "url,expected",
    [
        ("mysql://u:hunter2@db/monitors", "unsupported database 'mysql'"),
        ("postgresql://u:hunter2@db:five/monitors", "must be sqlite:///path/to/file.db or postgresql://"),
        ("postgresql://u:hunter2@db:70000/monitors", "port 70000 is not a TCP port"),
        ("state.db", "must be sqlite:///path/to/file.db"),
    ],
)
def test_validate_rejects_a_store_url_no_run_could_open(url: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(LANGFUSE + f"store:\n  url: '{url}'\n")
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert f"{path}: store.url: {expected}" in result.output, result.output
    assert "hunter2" not in result.output


@pytest.mark.parametrize("url", ["sqlite:///state/monitors.db", "postgresql://u@db:5432/m",
                                 "postgresql+psycopg://u@db/m", "postgres://u@db/m",
                                 "postgresql://u@/m"])  # fmt: skip
def test_validate_accepts_the_store_urls_a_run_can_open(url: str, tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(LANGFUSE + f"store:\n  url: '{url}'\n")
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 0, result.output
