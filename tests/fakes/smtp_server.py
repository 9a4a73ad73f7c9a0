"""A local SMTP server (aiosmtpd) for the email channel: real SMTP on 127.0.0.1, optional STARTTLS and
AUTH, every accepted message recorded as parsed by the standard `email` package.

    with SmtpServer(user="alerts", password="pw", tls=True) as smtp:
        ...  # EmailNotifier(host="127.0.0.1", port=smtp.port, security="starttls", ...)
        message = smtp.messages[0]          # email.message.EmailMessage
        smtp.reject_next(451, "try later")  # the next DATA is answered 451
        smtp.go_down(); smtp.come_up()      # refused connections, then the same port again

TLS uses a throwaway self-signed certificate made with the openssl command line; `client_context()`
trusts exactly that certificate.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import tempfile
from collections import deque
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.owner._rejects:
            code, text = self.owner._rejects.popleft()
            return f"{code} {text}"
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.owner.messages.append(parsed)  # type: ignore[arg-type]
        self.owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    def __init__(self, *, user: str | None = None, password: str | None = None, tls: bool = False) -> None:
        self.user, self.password, self.tls = user, password, tls
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        self._rejects: deque[tuple[int, str]] = deque()
        self._tmp = tempfile.TemporaryDirectory()
        self._cert: tuple[Path, Path] | None = _self_signed(Path(self._tmp.name)) if tls else None
        self.port = _free_port()
        self._controller: Controller | None = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.user,
            self.password,
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self._cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self._cert))
            kwargs |= {"tls_context": context, "require_starttls": True}
        if self.user is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": self.tls}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    go_down = stop

    def come_up(self) -> None:
        if self._controller is None:
            self.start()

    def reject_next(self, code: int, text: str) -> None:
        self._rejects.append((code, text))

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate and nothing else."""
        assert self._cert is not None, "started without tls"
        return ssl.create_default_context(cafile=str(self._cert[0]))

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._tmp.cleanup()
