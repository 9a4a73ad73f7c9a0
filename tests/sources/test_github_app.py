"""GitHub App authentication against the fake GitHub, which checks the JWT as GitHub does: tokens minted
once and shared, renewed before they expire (an injected clock) and once on a 401, clear failures."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from monitors.contracts.forge import MergeRequestInfo
from monitors.sources.github import GitHubSource
from monitors.sources.github_app import GitHubAppAuthError, InstallationTokens, app_jwt, load_private_key
from monitors.support.retry import RetryPolicy
from tests.fakes.github_server import FakeApp, FakeGitHub, Fault, app_key, changed, commit, running

APP_ID = "424242"
INSTALLATION = 7001
T0 = 1_773_000_000.0  # a fixed "now" for both sides; tests move it, never sleep


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def github(clock: Clock) -> Iterator[FakeGitHub]:
    app = FakeApp(APP_ID, app_key()[1], {INSTALLATION})
    state = FakeGitHub(token=None, app=app, clock=clock)
    for number in (7, 8):
        state.add_pull("acme/api", number, [commit(f"a{number}", "Fix login")], [changed("src/login.py")])
    with running(state) as server:
        yield server


def tokens(
    server: FakeGitHub,
    clock: Clock,
    *,
    key: str | None = None,
    installation: int = INSTALLATION,
    app_id: str = APP_ID,
    prefix: str = "",
    sleeps: list[float] | None = None,
) -> InstallationTokens:
    retry = RetryPolicy(attempts=3, sleep=(sleeps if sleeps is not None else []).append, rng=random.Random(1))
    pem = key if key is not None else app_key()[0]
    return InstallationTokens(server.url + prefix, app_id, installation, pem, retry=retry, clock=clock)


def source(server: FakeGitHub, auth: InstallationTokens, clock: Clock, prefix: str = "") -> GitHubSource:
    return GitHubSource(auth, server.url + prefix, retry=RetryPolicy(attempts=2, sleep=[].append), clock=clock)


def posts(server: FakeGitHub) -> list[str]:
    return [r.path for r in server.requests if r.method == "POST"]


def bearer(server: FakeGitHub, index: int) -> str:
    return server.requests[index].headers["authorization"].removeprefix("Bearer ")


def test_one_minted_token_reads_every_pull_request(github: FakeGitHub, clock: Clock) -> None:
    auth = tokens(github, clock)
    a, b = source(github, auth, clock), source(github, auth, clock)  # two reader threads' clients
    assert isinstance(a.merge_request("acme/api", 7), MergeRequestInfo)
    assert isinstance(b.merge_request("acme/api", 8), MergeRequestInfo)
    assert posts(github) == [f"/app/installations/{INSTALLATION}/access_tokens"]
    (issued,) = github.issued
    assert {r.headers["authorization"] for r in github.requests if r.method == "GET"} == {f"Bearer {issued}"}
    assert [r.status for r in github.requests] == [201] + [200] * 6
    assert a.stats.by_endpoint["github:app_token"] == 1 and a.stats.requests == 4 and b.stats.requests == 3


def test_the_jwt_is_the_one_github_documents(github: FakeGitHub, clock: Clock) -> None:
    source(github, tokens(github, clock), clock).merge_request("acme/api", 7)
    head, claims, signature = (bearer(github, 0) + "").split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(head) == {"alg": "RS256", "typ": "JWT"}
    assert decode(claims) == {"iat": int(T0) - 60, "exp": int(T0) + 540, "iss": APP_ID}
    assert github.jwt_refusals == [] and signature


def test_a_token_near_its_expiry_is_replaced_before_use(github: FakeGitHub, clock: Clock) -> None:
    auth = tokens(github, clock)
    src = source(github, auth, clock)
    src.merge_request("acme/api", 7)
    clock.now = T0 + 54 * 60  # six minutes left: still used
    src.merge_request("acme/api", 8)
    assert len(posts(github)) == 1
    clock.now = T0 + 56 * 60  # four minutes left: a request could outlive it
    assert isinstance(src.merge_request("acme/api", 7), MergeRequestInfo)
    assert len(posts(github)) == 2 and len(github.issued) == 2
    first, second = github.issued
    assert bearer(github, -1) == second != first
    assert all(r.status in (200, 201) for r in github.requests)


def test_the_fake_refuses_an_expired_token(github: FakeGitHub, clock: Clock) -> None:
    src = source(github, tokens(github, clock), clock)
    src.merge_request("acme/api", 7)
    (issued,) = github.issued
    clock.now = T0 + 3600
    answer = requests.get(f"{github.url}/repos/acme/api/pulls/7", headers={"Authorization": f"Bearer {issued}"})
    assert answer.status_code == 401


def test_a_refused_token_is_replaced_once(github: FakeGitHub, clock: Clock) -> None:
    src = source(github, tokens(github, clock), clock)
    src.merge_request("acme/api", 7)
    github.issued.clear()  # revoked behind our back
    assert isinstance(src.merge_request("acme/api", 8), MergeRequestInfo)
    assert [r.status for r in github.requests[4:]] == [401, 201, 200, 200, 200]


def test_a_fresh_token_refused_too_fails_the_run(github: FakeGitHub, clock: Clock) -> None:
    assert github.app is not None
    github.app.token_lifetime = 0  # every token is dead on arrival
    src = source(github, tokens(github, clock), clock)
    with pytest.raises(GitHubAppAuthError, match=rf"installation {INSTALLATION} \(github.installation_id\)"):
        src.merge_request("acme/api", 7)
    assert [(r.method, r.status) for r in github.requests] == [("POST", 201), ("GET", 401)] * 2


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"key": "other"}, "check github.app_id (424242) and that github.private_key is a current private key"),
        ({"app_id": "1"}, "check github.app_id (1)"),
        ({"installation": 99}, "GitHub App 424242 has no installation 99 (404): check github.installation_id"),
    ],
)
def test_wrong_credentials_fail_once_with_what_to_check(github: FakeGitHub, clock: Clock, change, names) -> None:
    key = app_key(change.pop("key"))[0] if "key" in change else None
    auth = tokens(github, clock, key=key, **change)
    src = source(github, auth, clock)
    with pytest.raises(GitHubAppAuthError) as caught:
        src.merge_request("acme/api", 7)
    assert names in str(caught.value) and "\n" not in str(caught.value)
    # The failure is kept: the run's other reads fail with it and GitHub is not asked again.
    with pytest.raises(GitHubAppAuthError):
        source(github, auth, clock).merge_request("acme/api", 8)
    assert len(github.requests) == 1 and github.requests[0].method == "POST"
    assert app_key()[0] not in str(caught.value) and "BEGIN" not in str(caught.value)


def test_the_token_endpoint_is_retried_on_server_errors(github: FakeGitHub, clock: Clock) -> None:
    github.faults.append(Fault(match="access_tokens", status=502, times=2))
    sleeps: list[float] = []
    info = source(github, tokens(github, clock, sleeps=sleeps), clock).merge_request("acme/api", 7)
    assert isinstance(info, MergeRequestInfo) and len(sleeps) == 2
    assert [r.status for r in github.requests if r.method == "POST"] == [502, 502, 201]


def test_a_token_endpoint_down_for_good_fails_after_the_retries(github: FakeGitHub, clock: Clock) -> None:
    github.faults.append(Fault(match="access_tokens", status=503, times=10))
    with pytest.raises(GitHubAppAuthError, match=r"answered 503 after retries"):
        source(github, tokens(github, clock), clock).merge_request("acme/api", 7)
    assert len(posts(github)) == 3  # the policy's three attempts


def test_enterprise_server_api_root(github: FakeGitHub, clock: Clock) -> None:
    auth = tokens(github, clock, prefix="/api/v3")
    assert isinstance(source(github, auth, clock, "/api/v3").merge_request("acme/api", 7), MergeRequestInfo)
    assert posts(github) == [f"/api/v3/app/installations/{INSTALLATION}/access_tokens"]


@pytest.mark.parametrize(("moved", "why"), [(-600, "'exp'"), (+120, "'iat'")])
def test_the_fake_refuses_an_expired_or_future_jwt(github: FakeGitHub, clock: Clock, moved: int, why: str) -> None:
    jwt = app_jwt(load_private_key(app_key()[0]), APP_ID, T0 + moved)
    url = f"{github.url}/app/installations/{INSTALLATION}/access_tokens"
    answer = requests.post(url, headers={"Authorization": f"Bearer {jwt}"})
    assert answer.status_code == 401 and why in github.jwt_refusals[0]
    fresh = app_jwt(load_private_key(app_key()[0]), APP_ID, T0)
    assert requests.post(url, headers={"Authorization": f"Bearer {fresh}"}).status_code == 201


def _pem(key: object, password: bytes | None = None) -> str:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def test_only_an_unencrypted_rsa_pem_is_a_key() -> None:
    good = app_key()[0]
    assert isinstance(load_private_key(good), rsa.RSAPrivateKey)
    assert isinstance(load_private_key(good.strip().replace("\n", "\\n")), rsa.RSAPrivateKey)  # one-line form
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "truncated": good[: len(good) // 2],
        "not a key": "ghp_0123456789abcdef",
        "encrypted": _pem(rsa_key, b"secret-pass"),
        "ec": _pem(ec.generate_private_key(ec.SECP256R1())),
    }
    for name, pem in bad.items():
        with pytest.raises(ValueError) as caught:
            load_private_key(pem)
        message = str(caught.value)
        assert "not shown" in message and not any(pem[i : i + 12] in message for i in range(0, len(pem) - 11)), name
        assert ("RSA" in message) == (name == "ec"), name


def test_nothing_shows_the_key_or_the_token(github: FakeGitHub, clock: Clock) -> None:
    auth = tokens(github, clock)
    src = source(github, auth, clock)
    src.merge_request("acme/api", 7)
    (issued,) = github.issued
    shown = f"{auth!r} {src!r} {auth._current!r}"
    assert issued not in shown and "BEGIN" not in shown and str(INSTALLATION) in shown
