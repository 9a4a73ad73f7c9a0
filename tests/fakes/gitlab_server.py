"""A fake GitLab REST API on 127.0.0.1 serving what python-gitlab calls for goal-drift.

Endpoints (GitLab API v4, the project path URL-encoded as one segment, e.g. `group%2Fapp`):
    GET /api/v4/projects/<project>/merge_requests/<iid>
    GET /api/v4/projects/<project>/merge_requests/<iid>/commits?page=&per_page=
    GET /api/v4/projects/<project>/merge_requests/<iid>/diffs?page=&per_page=   (the MR's `diffs` list)
The commits and diffs lists are paginated like GitLab: X-Page, X-Per-Page, X-Prev-Page, X-Next-Page,
X-Total and X-Total-Pages headers and a `Link` header (rel="prev"/"next"/"first"/"last"). Past
COUNTED_ROWS rows GitLab counts no further: X-Total, X-Total-Pages and rel="last" are left out.

Data uses the OfflineGitLab fixture format (`{"projects": {path: {"merge_requests": {iid: {...}}}}}`),
so one dict drives the fake server and the offline source alike. Every request needs the PRIVATE-TOKEN
header (401 otherwise); `forbidden` projects answer 403; `faults` script errors and delays; every
request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.faults import Fault, take_fault

COUNTED_ROWS = 10_000  # GitLab leaves a list's total out past this many rows (a COUNT limited for speed)
_ROUTE = re.compile(
    r"^/api/v4/projects/(?P<project>[^/]+)/merge_requests/(?P<iid>[^/]+)(?P<sub>/commits|/diffs|/changes)?$"
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int


class FakeGitLab:
    """State of the fake server; tests mutate `projects`, `forbidden`, `faults` between calls."""

    def __init__(self, projects: dict[str, Any] | None = None, *, token: str = "glpat-test-token") -> None:
        self.projects: dict[str, Any] = projects or {}
        self.token = token
        self.forbidden: set[str] = set()
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.url = ""
        # A self-hosted GitLab under a path (`https://host/gitlab`, its external_url): every route
        # and every pagination link carries the prefix.
        self.prefix = ""
        # False: a GitLab before 15.7, which has no `/diffs` route (404) and serves `/changes` instead.
        self.diffs_route = True
        self._lock = threading.Lock()

    def add_mr(self, repo: str, iid: int, commits: list[dict[str, Any]], **attrs: Any) -> None:
        """`attrs` may hold `diffs`: GitLab diff entries (old_path, new_path, diff, new_file, ...), and
        `changes_count` (GitLab's file count, a string; by default the number of `diffs`)."""
        mr = {"title": f"MR {iid}", "description": "", "state": "opened", **attrs, "commits": commits}
        mr.setdefault("web_url", f"https://gitlab.example.com/{repo}/-/merge_requests/{iid}")
        self.projects.setdefault(repo, {"merge_requests": {}})["merge_requests"][str(iid)] = mr

    def _take_fault(self, path: str) -> Fault | None:
        return take_fault(self.faults, self._lock, path)

    def handle(self, path: str, query: dict[str, list[str]], headers: dict[str, str], host: str) -> tuple:
        fault = self._take_fault(path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status != 200 or fault.body is not None:
                body = fault.body if fault.body is not None else json.dumps({"message": f"{fault.status}"})
                return fault.status, fault.headers, body
            # else: a slow but otherwise normal answer
        if headers.get("private-token") != self.token:
            return 401, {}, json.dumps({"message": "401 Unauthorized"})
        if not path.startswith(self.prefix + "/"):
            return 404, {}, json.dumps({"error": "404 Not Found"})
        match = _ROUTE.match(path.removeprefix(self.prefix))
        if not match:
            return 404, {}, json.dumps({"error": "404 Not Found"})
        repo, iid = unquote(match["project"]), match["iid"]
        if repo in self.forbidden:
            return 403, {}, json.dumps({"message": "403 Forbidden"})
        project = self.projects.get(repo)
        mr = (project or {}).get("merge_requests", {}).get(iid)
        if project is None:
            return 404, {}, json.dumps({"message": "404 Project Not Found"})
        if mr is None:
            return 404, {}, json.dumps({"message": "404 Not found"})
        if match["sub"] == "/commits":
            return self._commits_page(path, query, mr["commits"], host)
        if match["sub"] == "/diffs":
            if not self.diffs_route:
                return 404, {}, json.dumps({"error": "404 Not Found"})
            return self._commits_page(path, query, mr.get("diffs", []), host)
        if match["sub"] == "/changes":  # the MR with every change, unpaged (deprecated in 15.7)
            return 200, {}, json.dumps(self._mr_json(repo, int(iid), mr) | {"changes": mr.get("diffs", [])})
        return 200, {}, json.dumps(self._mr_json(repo, int(iid), mr))

    @staticmethod
    def _mr_json(repo: str, iid: int, mr: dict[str, Any]) -> dict[str, Any]:
        # GitLab's `sha` is the source branch's head: the newest commit.
        dated = sorted((c for c in mr["commits"] if "id" in c), key=lambda c: c.get("committed_date") or "")
        shas = [c["id"] for c in reversed(dated)]
        return {
            "id": 1000 + iid,
            "iid": iid,
            "project_id": abs(hash(repo)) % 10000,
            "title": mr["title"],
            "description": mr.get("description", ""),
            "state": mr.get("state", "opened"),
            "web_url": mr["web_url"],
            "sha": shas[0] if shas else None,
            # A string, as GitLab sends it: "1000+" past the files it keeps a diff of (set it in `attrs`).
            "changes_count": mr.get("changes_count", str(len(mr.get("diffs", [])))),
            "source_branch": f"agent/{iid}",
            "target_branch": "main",
        }

    def _commits_page(self, path: str, query: dict[str, list[str]], commits: list, host: str) -> tuple:
        page = max(1, int(query.get("page", ["1"])[0]))
        per_page = max(1, min(100, int(query.get("per_page", ["20"])[0])))
        pages = max(1, -(-len(commits) // per_page))
        chunk = commits[(page - 1) * per_page : page * per_page]
        counted = len(commits) <= COUNTED_ROWS
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Next-Page": str(page + 1) if page < pages else "",
            **({"X-Total": str(len(commits)), "X-Total-Pages": str(pages)} if counted else {}),
        }
        rels = {"prev": page - 1} if page > 1 else {}
        rels |= ({"next": page + 1} if page < pages else {}) | {"first": 1}
        rels |= {"last": pages} if counted else {}
        headers["Link"] = ", ".join(
            f'<http://{host}{path}?page={n}&per_page={per_page}>; rel="{rel}"' for rel, n in rels.items()
        )
        return 200, headers, json.dumps(chunk)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        state = self.server.state
        status, extra, body = state.handle(parts.path, parse_qs(parts.query), headers, self.headers["Host"])
        state.requests.append(Recorded("GET", parts.path, parse_qs(parts.query), headers, status))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeGitLab


@contextmanager
def running(state: FakeGitLab) -> Iterator[FakeGitLab]:
    """Serve `state` on 127.0.0.1 (a free port) for the duration of the block; sets `state.url`."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{state.prefix}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
