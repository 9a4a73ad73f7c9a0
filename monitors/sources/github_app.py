"""GitHub App authentication: installation access tokens for GitHubSource, minted from the app's key.

The flow GitHub documents for an app acting on its installation
(https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app):
1. A JWT signed RS256 with the app's private key: `iat` 60 s in the past (clock drift), `exp` at most
   10 minutes ahead (9 here, so a clock slightly ahead of GitHub's is not refused), `iss` the app id.
2. `POST {url}/app/installations/{installation_id}/access_tokens` with `Authorization: Bearer <jwt>`
   answers 201 `{"token": "ghs_...", "expires_at": "..."}`: a token valid for one hour, used like a
   personal token.
3. A token with less than 5 minutes left is replaced before use (a long run); a token the API refuses
   (401) is replaced once.

One `InstallationTokens` serves a whole run, shared by the run's reader threads, so the run mints one
token (more only when it runs past the token's hour). With `github.installation_id` set, that one
installation (one organisation or user account) is used; without it, each repository's installation is
looked up (monitors.sources.github_installations) and gets its own `InstallationTokens`.

Signing uses `cryptography` directly: a JWT is three base64url parts and one PKCS#1 v1.5 SHA-256
signature, which does not need PyJWT (whose RS256 needs cryptography anyway).

Faults: 401 (the JWT: app id or key) and 404 (the installation) fail the run with one line naming what
to check; 5xx, 429 and timeouts are retried under the RetryPolicy, then fail the run. A failure is kept:
the run's other reads fail with it without asking again. The key and the tokens are never logged nor
put in an error.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitors.contracts.errors import SourceError
from monitors.contracts.forge import MrProblem
from monitors.contracts.records import parse_time_or_none
from monitors.contracts.source import SourceStats
from monitors.support.retry import RetryBudget, RetryPolicy, is_retryable_status, parse_retry_after

log = logging.getLogger(__name__)

JWT_BACKDATE = 60.0  # GitHub's advice: iat a minute in the past, against clock drift
JWT_LIFETIME = 540.0  # exp ahead of now; GitHub refuses more than 600 s
TOKEN_LIFETIME = 3600.0  # what GitHub grants; assumed only if an answer lacks `expires_at`
REFRESH_MARGIN = 300.0  # a token with less left is replaced before use: a request may outlive it


class GitHubAppAuthError(SourceError):
    """GitHub App authentication failed: the run fails (exit 1) with this one line."""


def load_private_key(pem: str) -> Any:
    """The RSA private key in `pem`; ValueError (never quoting the key) when it is not one.

    A PEM squeezed into one line with literal `\\n` (how some secret stores keep an env variable) is
    accepted as well.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = pem.strip()
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError(
            "is not an unencrypted PEM private key (the .pem file GitHub generates for the app; the value is not shown)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("is not an RSA key: GitHub App keys are RSA (the value is not shown)")
    return key


def app_jwt(key: Any, app_id: str, now: float) -> str:
    """The app's JWT, signed RS256 with `key` (from load_private_key)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iat": int(now - JWT_BACKDATE), "exp": int(now + JWT_LIFETIME), "iss": app_id}
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode('ascii')}.{_b64(signature)}"


def _b64_json(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class StaticToken:
    """A token given in the config (a personal or installation token): used as is, never renewed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(***)"

    def token(self, stats: SourceStats, repo: str = "") -> str:
        return self._token

    def renew(self, refused: str) -> bool:
        return False

    def rejected(self, repo: str = "") -> MrProblem:
        return MrProblem("bad_token", "GitHub rejected the token (401)")


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float

    def __repr__(self) -> str:
        return f"_Token(expires_at={self.expires_at})"


class InstallationTokens:
    """Installation access tokens of one GitHub App installation, for every reader thread of a run."""

    def __init__(
        self,
        url: str,
        app_id: str,
        installation_id: int,
        private_key: str | Any,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url.rstrip("/")
        self.app_id = app_id
        self.installation_id = installation_id
        # A PEM, or a key already loaded (one app's installations share it).
        self._key = load_private_key(private_key) if isinstance(private_key, str) else private_key
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._current: _Token | None = None
        self._failure: GitHubAppAuthError | None = None
        self._session = github_session()

    def __repr__(self) -> str:
        return f"InstallationTokens({self.url!r}, app {self.app_id}, installation {self.installation_id})"

    def token(self, stats: SourceStats, repo: str = "") -> str:
        """A token with at least REFRESH_MARGIN left, minted when needed (the request counted in `stats`)."""
        with self._lock:
            if self._failure is not None:
                raise self._failure
            current = self._current
            if current is None or current.expires_at - self._clock() < REFRESH_MARGIN:
                try:
                    current = self._current = self._mint(stats)
                except GitHubAppAuthError as failure:
                    self._failure = failure
                    raise
            return current.value

    def renew(self, refused: str) -> bool:
        """The API refused `refused` (401): the next `token()` mints a new one. True: worth a retry."""
        with self._lock:
            if self._current is not None and self._current.value == refused:
                self._current = None
        return True

    def rejected(self, repo: str = "") -> MrProblem:
        """A fresh token refused too: no pull request can be read, so the run fails."""
        raise GitHubAppAuthError(
            f"GitHub refused a fresh installation token of GitHub App {self.app_id} (401): check that "
            f"installation {self.installation_id} (github.installation_id) is active and not suspended"
        )

    def _mint(self, stats: SourceStats) -> _Token:
        path = f"/app/installations/{self.installation_id}/access_tokens"
        response = app_request(
            self._session,
            "POST",
            f"{self.url}{path}",
            jwt=lambda: app_jwt(self._key, self.app_id, self._clock()),
            endpoint="github:app_token",
            what="GitHub App token endpoint",
            stats=stats,
            retry=self._retry,
            timeout=self._timeout,
        )
        if response.status_code == 201:
            return self._parsed(response)
        raise GitHubAppAuthError(self._refusal(response.status_code))

    def _parsed(self, response: Any) -> _Token:
        try:
            body = response.json()
        except ValueError:
            body = None
        value = body.get("token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise GitHubAppAuthError("GitHub's app token endpoint answered 201 without a token")
        expires = parse_time_or_none(body.get("expires_at"))
        expires_at = expires.timestamp() if expires is not None else self._clock() + TOKEN_LIFETIME
        return _Token(value, expires_at)

    def _refusal(self, status: int) -> str:
        app, installation = self.app_id, self.installation_id
        if status == 401:
            return (
                f"GitHub refused the GitHub App's JWT (401): check github.app_id ({app}) and that "
                "github.private_key is a current private key of that app"
            )
        if status == 404:
            return (
                f"GitHub App {app} has no installation {installation} (404): check github.installation_id "
                "(the number at the end of the installation's settings URL) and github.app_id"
            )
        if status == 403:
            return (
                f"GitHub refused a token for installation {installation} of GitHub App {app} (403): is the "
                "installation suspended? (github.installation_id)"
            )
        return f"GitHub's app token endpoint answered {status} for installation {installation} of GitHub App {app}"


def app_request(
    session: Any,
    method: str,
    url: str,
    *,
    jwt: Callable[[], str],
    endpoint: str,
    what: str,
    stats: SourceStats,
    retry: RetryPolicy,
    timeout: float,
) -> Any:
    """One request signed with a fresh app JWT, retried under `retry` on 5xx, 429 and network errors;
    the answer of any other status is returned. Retries spent: GitHubAppAuthError naming `what`."""
    import requests

    budget = RetryBudget(retry)
    while True:
        wait_hint: float | None = None
        try:
            response = session.request(method, url, headers={"Authorization": f"Bearer {jwt()}"}, timeout=timeout)
        except requests.RequestException as exc:
            cause = f"unreachable ({type(exc).__name__})"
        else:
            stats.count_request(endpoint)
            if not is_retryable_status(response.status_code):
                return response
            cause = f"answered {response.status_code}"
            wait_hint = parse_retry_after(response.headers.get("Retry-After"))
        wait = budget.next_wait(wait_hint)
        if wait is None:
            raise GitHubAppAuthError(f"{what} {url} {cause} after retries")
        stats.retries += 1
        log.info("github: %s %s, retrying in %.1fs", what, cause, wait)
        budget.sleep(wait)


def github_session() -> Any:
    """A requests session speaking GitHub's REST API version this code was written against."""
    import requests  # only drift reads GitHub

    session = requests.Session()
    session.headers.update(
        {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "langfuse-monitors",
        }
    )
    return session
