"""A fake GitHub REST API on 127.0.0.1 serving what goal-drift reads from pull requests.

Endpoints (reference/github-pulls-openapi.json), optionally under an Enterprise prefix (`/api/v3`):
    GET /repos/{owner}/{repo}/pulls/{n}
    GET /repos/{owner}/{repo}/pulls/{n}/commits?per_page=&page=   (oldest first, at most 250 as GitHub)
    GET /repos/{owner}/{repo}/commits/{sha}                        (a commit of one of the pulls)
    GET /repos/{owner}/{repo}/pulls/{n}/files?per_page=&page=
    POST /app/installations/{installation_id}/access_tokens          (GitHub App authentication)
    GET /repos/{owner}/{repo}/installation                           (the app's installation on a repository)
Lists are paged like GitHub: a `Link` header with rel="next"/"last"/"prev"/"first" when there is more
than one page; default page size 30, at most 100.

Responses start from the spec's own examples (so every required field is present) with our values
laid over them; a test validates them against the spec. Every request needs `Authorization: Bearer
<token>` (401 otherwise); `forbidden` repos answer 403; `faults` script errors, rate limits and delays;
every request is recorded. Rate-limit headers are sent on every answer, as GitHub does.

GitHub App: with `app` set, the token endpoint checks the JWT as GitHub does (RS256 signature by the
app's key, `iss` the app, `iat` not in the future, `exp` in the future and at most 10 minutes ahead;
401 otherwise; 404 for an installation the app does not have) and issues installation tokens that
expire `app.token_lifetime` seconds later by `clock`. The pull endpoints take those tokens until they
expire (401 after), besides the fixed `token`. An installation given `accounts` covers only those owners:
its tokens get 404 elsewhere (GitHub hides what a token cannot see), and `GET .../installation` with the
app's JWT finds it by owner (404 when no installation of the app covers the repository).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import functools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.faults import Fault, take_fault
from tests.fakes.serve import serve

SPEC_PATH = Path(__file__).resolve().parents[2] / "reference" / "github-pulls-openapi.json"
_ROUTE = re.compile(r"^(?P<prefix>/api/v3)?/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<n>\d+)(?P<sub>/commits|/files)?$")
_TOKEN_ROUTE = re.compile(r"^(?:/api/v3)?/app/installations/(?P<installation>\d+)/access_tokens$")
_INSTALLATION_ROUTE = re.compile(r"^(?:/api/v3)?/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)/installation$")
_COMMIT_ROUTE = re.compile(r"^(?:/api/v3)?/repos/(?P<repo>[^/]+/[^/]+)/commits/(?P<sha>[^/]+)$")
PR_COMMITS_LISTED = 250  # GitHub lists at most 250 commits of a pull request
JWT_MAX_AHEAD = 600  # GitHub refuses a JWT that expires more than 10 minutes ahead


def _examples() -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    examples = spec["components"]["examples"]
    return {
        "pull": examples["pull-request"]["value"],
        "commit": examples["commit-items"]["value"][0],
        "file": examples["diff-entry-items"]["value"][0],
    }


EXAMPLES = _examples()


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    method: str = "GET"


@functools.cache
def app_key(name: str = "app") -> tuple[str, rsa.RSAPublicKey]:
    """A test GitHub App's RSA key, one per name per test session: (private PEM, public key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode("ascii"), key.public_key()


@dataclass
class FakeApp:
    """A GitHub App the fake knows: its id, the public half of its key, its installations."""

    app_id: str
    public_key: rsa.RSAPublicKey
    installations: set[int] = field(default_factory=set)
    token_lifetime: float = 3600.0
    # installation -> the owners (users or organisations) it is installed on; absent: every owner
    accounts: dict[int, set[str]] = field(default_factory=dict)

    def covers(self, installation: int, owner: str) -> bool:
        owners = self.accounts.get(installation)
        return owners is None or owner.lower() in {o.lower() for o in owners}


def commit(sha: str, message: str, date: str = "2026-03-10T07:00:00Z") -> dict[str, Any]:
    return {"sha": sha, "message": message, "date": date}


def changed(
    path: str, status: str = "modified", additions: int = 1, deletions: int = 0, patch: str | None = ""
) -> dict:
    """A file entry; patch None leaves it out (GitHub does so for large or binary files)."""
    entry: dict[str, Any] = {"filename": path, "status": status, "additions": additions, "deletions": deletions}
    if patch is not None:
        entry["patch"] = patch
    return entry


class FakeGitHub:
    """State of the fake server; tests mutate `pulls`, `forbidden`, `faults` between calls."""

    def __init__(
        self,
        *,
        token: str | None = "ghp_test_token",
        host: str = "https://github.example.com",
        app: FakeApp | None = None,
        clock: Callable[[], float] = time.time,
        token_prefix: str = "ghs_",
    ) -> None:
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.token = token
        self.app = app
        self.clock = clock
        self.token_prefix = token_prefix  # what issued tokens start with (a marker to look for in leaks)
        self.issued: dict[str, float] = {}  # installation token: when it expires
        self.issued_for: dict[str, int] = {}  # installation token: its installation
        self.jwt_refusals: list[str] = []
        self.web = host
        self.forbidden: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.url = ""
        self._lock = threading.Lock()

    def add_pull(
        self, repo: str, number: int, commits: list[dict], files: list[dict], *, title: str = "", body: str = ""
    ) -> None:
        """`commits` oldest first (as GitHub lists them), from `commit()`; `files` from `changed()`."""
        self.pulls[(repo, number)] = {
            "title": title or f"PR {number}",
            "body": body,
            "commits": commits,
            "files": files,
        }

    def _take_fault(self, path: str) -> Fault | None:
        return take_fault(self.faults, self._lock, path)

    def handle(self, path: str, query: dict[str, list[str]], headers: dict[str, str], host: str) -> tuple:
        fault = self._take_fault(path)
        if fault is not None:
            time.sleep(fault.delay)
            body = fault.body if fault.body is not None else json.dumps({"message": f"fault {fault.status}"})
            return fault.status, fault.headers, body
        installation = _INSTALLATION_ROUTE.match(path)
        if installation is not None:
            return self._repo_installation(installation["owner"], installation["name"], headers)
        if not self._authorized(headers.get("authorization", "")):
            return 401, {}, json.dumps({"message": "Bad credentials", "documentation_url": "https://docs.github.com"})
        if commit := _COMMIT_ROUTE.match(path):
            if not self._token_sees(headers.get("authorization", ""), commit["repo"]):
                return 404, {}, json.dumps({"message": "Not Found"})
            return self._commit(commit["repo"], commit["sha"])
        match = _ROUTE.match(path)
        if not match:
            return 404, {}, json.dumps({"message": "Not Found"})
        repo, number = match["repo"], int(match["n"])
        if not self._token_sees(headers.get("authorization", ""), repo):
            return 404, {}, json.dumps({"message": "Not Found"})
        if repo in self.forbidden:
            return 403, {}, json.dumps({"message": "Resource not accessible by personal access token"})
        pull = self.pulls.get((repo, number))
        if pull is None:
            return 404, {}, json.dumps({"message": "Not Found"})
        if match["sub"] == "/commits":
            listed = pull["commits"][:PR_COMMITS_LISTED]
            return self._page(path, query, [self._commit_json(repo, c) for c in listed], host)
        if match["sub"] == "/files":
            return self._page(path, query, [self._file_json(repo, f) for f in pull["files"]], host)
        return 200, {}, json.dumps(self._pull_json(repo, number, pull))

    def _commit(self, repo: str, sha: str) -> tuple:
        if repo in self.forbidden:
            return 403, {}, json.dumps({"message": "Resource not accessible by personal access token"})
        for (pull_repo, _), pull in self.pulls.items():
            for item in pull["commits"] if pull_repo == repo else ():
                if item["sha"] == sha:
                    return 200, {}, json.dumps(self._commit_json(repo, item))
        return 404, {}, json.dumps({"message": "No commit found for SHA: " + sha})

    def _authorized(self, header: str) -> bool:
        if self.token is not None and header == f"Bearer {self.token}":
            return True
        expires = self.issued.get(header.removeprefix("Bearer "))
        return expires is not None and self.clock() < expires

    def _token_sees(self, header: str, repo: str) -> bool:
        installation = self.issued_for.get(header.removeprefix("Bearer "))
        return installation is None or self.app is None or self.app.covers(installation, repo.split("/")[0])

    def _repo_installation(self, owner: str, name: str, headers: dict[str, str]) -> tuple:
        """`GET /repos/{owner}/{repo}/installation`: the app's installation there, for the app's JWT."""
        if self.app is None:
            return 404, {}, json.dumps({"message": "Not Found"})
        refusal = self._jwt_refusal(headers.get("authorization", ""))
        if refusal is not None:
            self.jwt_refusals.append(refusal)
            return 401, {}, json.dumps({"message": refusal, "documentation_url": "https://docs.github.com"})
        found = [i for i in sorted(self.app.installations) if self.app.covers(i, owner)]
        if not found:
            return 404, {}, json.dumps({"message": "Not Found"})
        body = {
            "id": found[0],
            "account": {"login": owner, "type": "Organization"},
            "app_id": int(self.app.app_id) if self.app.app_id.isdigit() else None,
            "target_type": "Organization",
            "repository_selection": "all",
            "permissions": {"pull_requests": "read", "contents": "read"},
        }
        return 200, {}, json.dumps(body)

    def handle_post(self, path: str, headers: dict[str, str]) -> tuple:
        """The GitHub App token endpoint: an installation token for a valid JWT of the app."""
        fault = self._take_fault(path)
        if fault is not None:
            time.sleep(fault.delay)
            body = fault.body if fault.body is not None else json.dumps({"message": f"fault {fault.status}"})
            return fault.status, fault.headers, body
        match = _TOKEN_ROUTE.match(path)
        if not match or self.app is None:
            return 404, {}, json.dumps({"message": "Not Found"})
        refusal = self._jwt_refusal(headers.get("authorization", ""))
        if refusal is not None:
            self.jwt_refusals.append(refusal)
            return 401, {}, json.dumps({"message": refusal, "documentation_url": "https://docs.github.com"})
        if int(match["installation"]) not in self.app.installations:
            return 404, {}, json.dumps({"message": "Not Found"})
        token = f"{self.token_prefix}{secrets.token_urlsafe(27)}"
        expires = self.clock() + self.app.token_lifetime
        with self._lock:
            self.issued[token] = expires
            self.issued_for[token] = int(match["installation"])
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"token": token, "expires_at": stamp, "permissions": {"pull_requests": "read", "contents": "read"}}
        return 201, {}, json.dumps({**body, "repository_selection": "all"})

    def _jwt_refusal(self, header: str) -> str | None:
        """Why GitHub would refuse this app JWT, or None when it is good."""
        assert self.app is not None
        undecodable = "A JSON web token could not be decoded"
        parts = header.removeprefix("Bearer ").split(".")
        if not header.startswith("Bearer ") or len(parts) != 3:
            return undecodable
        try:
            head, claims = (json.loads(_unb64(p)) for p in parts[:2])
            self.app.public_key.verify(
                _unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, binascii.Error, InvalidSignature):
            return undecodable
        if not isinstance(head, dict) or head.get("alg") != "RS256" or not isinstance(claims, dict):
            return undecodable
        iat, exp, now = claims.get("iat"), claims.get("exp"), self.clock()
        if str(claims.get("iss")) != self.app.app_id:
            return "'Issuer' claim ('iss') must be the app's id"
        if not isinstance(iat, int) or iat > now:
            return "'Issued at' claim ('iat') must be an Integer representing a time in the past"
        if not isinstance(exp, int) or exp <= now:
            return "'Expiration time' claim ('exp') must be a numeric value representing the future time"
        if exp > now + JWT_MAX_AHEAD:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    def _pull_json(self, repo: str, number: int, pull: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(EXAMPLES["pull"])
        head = pull["commits"][-1]["sha"] if pull["commits"] else "0" * 40
        out.update(
            number=number,
            title=pull["title"],
            body=pull["body"],
            state="open",
            html_url=f"{self.web}/{repo}/pull/{number}",
            url=f"{self.url}/repos/{repo}/pulls/{number}",
            commits=len(pull["commits"]),
            changed_files=len(pull["files"]),
            additions=sum(f["additions"] for f in pull["files"]),
            deletions=sum(f["deletions"] for f in pull["files"]),
            merged=False,
            merged_at=None,
            # The spec's example team lacks the `type` its own schema requires; agents' PRs rarely
            # request teams anyway.
            requested_teams=[],
        )
        out["head"] = {**out["head"], "sha": head}
        return out

    @staticmethod
    def _commit_json(repo: str, item: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(EXAMPLES["commit"])
        out["sha"] = item["sha"]
        out["commit"] = {**out["commit"], "message": item["message"]}
        out["commit"]["committer"] = {**out["commit"]["committer"], "date": item["date"]}
        out["commit"]["author"] = {**out["commit"]["author"], "date": item["date"]}
        return out

    @staticmethod
    def _file_json(repo: str, item: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(EXAMPLES["file"])
        out.pop("patch", None)
        out.update({k: v for k, v in item.items()})
        out["changes"] = (item["additions"] or 0) + (item["deletions"] or 0)
        return out

    def _page(self, path: str, query: dict[str, list[str]], items: list, host: str) -> tuple:
        page = max(1, int(query.get("page", ["1"])[0]))
        per_page = max(1, min(100, int(query.get("per_page", ["30"])[0])))
        pages = max(1, -(-len(items) // per_page))
        links = []
        for rel, target in (("prev", page - 1), ("next", page + 1), ("first", 1), ("last", pages)):
            if pages > 1 and 1 <= target <= pages and (rel not in ("first", "prev") or page > 1):
                links.append(f'<http://{host}{path}?{urlencode({"per_page": per_page, "page": target})}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, headers, json.dumps(items[(page - 1) * per_page : page * per_page])


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = parse_qs(parts.query)
            status, extra, body = state.handle(parts.path, query, headers, self.headers["Host"])
            state.requests.append(Recorded(parts.path, query, headers, status))
            self._answer(status, extra, body)

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, extra, body = state.handle_post(parts.path, headers)
            state.requests.append(Recorded(parts.path, {}, headers, status, "POST"))
            self._answer(status, extra, body)

        def _answer(self, status: int, extra: dict[str, str], body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            base = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999", "X-RateLimit-Resource": "core"}
            for key, value in {**base, **extra}.items():
                self.send_header(key, value)
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(state: FakeGitHub) -> Iterator[FakeGitHub]:
    """Serve `state` on 127.0.0.1 (a free port) for the duration of the block; sets `state.url`."""
    server, thread = serve(_handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
