"""A server (or a proxy in front of it) that echoes the request's credentials in its 401 body.

The Basic header carries base64("public:secret"), not the keys as written, so replacing the raw keys is
not enough: the summary line, the logs and the stored run history must hold none of the forms a
server might echo (raw, URL-encoded, base64 of each key and of the pair, padded or not).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from monitors.app.cli.main import cli
from monitors.sources.http import credential_forms
from tests.fakes.serve import serve
from tests.reliability.harness import NOW

PUBLIC, SECRET = "pk-lf-ECHO-12345", "sk-lf-ECHO/5678+x"  # '/' and '+' differ in URL and base64 forms


def every_form() -> list[str]:
    pair = f"{PUBLIC}:{SECRET}".encode()
    return [
        PUBLIC, SECRET, quote(SECRET, safe=""),
        base64.b64encode(pair).decode(), base64.b64encode(pair).decode().rstrip("="),
        base64.urlsafe_b64encode(pair).decode(), base64.b64encode(SECRET.encode()).decode(),
    ]  # fmt: skip


@pytest.fixture
def echo_server() -> Iterator[str]:
    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            body = json.dumps({
                # Padded so the 200-character cut of the message falls inside the echoed header.
                "message": f"Invalid credentials. Confirm the host.{'.' * 129} Got {auth!r}, "
                           f"key {quote(SECRET, safe='')}, raw {base64.b64decode(auth.split()[-1]).decode()}",
                "error": "UnauthorizedError",
            }).encode()  # fmt: skip
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, _ = serve(Echo)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_credential_forms_cover_the_basic_header() -> None:
    forms = credential_forms(PUBLIC, SECRET)
    assert all(form in forms for form in every_form())


def test_an_echoed_authorization_header_reaches_no_output_log_or_store(
    echo_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "state.db"
    config = tmp_path / "monitors.yaml"
    config.write_text(yaml.safe_dump({
        "langfuse": {"host": echo_server, "public_key": PUBLIC, "secret_key": SECRET, "max_retries": 0},
        "store": {"url": f"sqlite:///{db}"},
        "channels": {"out": {"kind": "stdout"}},
        "default_route": {"channels": ["out"]},
    }))  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        result = CliRunner().invoke(cli, ["audit", "-c", str(config), "-vv", "--until", NOW.isoformat()])
    assert result.exit_code == 1 and "HTTP 401" in result.output, result.output
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        stored = json.dumps([list(r) for r in conn.execute(sa.text("SELECT * FROM runs"))], default=str)
    assert "Invalid credentials" in result.output + stored  # the server's words are kept, its echo is not
    pieces = [form[:12] for form in every_form()]  # what a cut through an encoded key would leave
    for where, text in {"output": result.output, "logs": caplog.text, "runs table": stored}.items():
        leaked = [form for form in every_form() + pieces if form in text]
        assert not leaked, f"{where} holds {leaked}"
