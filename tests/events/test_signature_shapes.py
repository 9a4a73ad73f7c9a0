"""Signatures of real-shaped error messages (OpenAI and Anthropic SDKs, httpx and requests, Kubernetes,
Python tracebacks, Go and git): occurrences of one failure that differ only in pods, ids, times,
addresses, sizes, paths or a model's dated snapshot share one signature; different failures (statuses,
exit codes, error types, error codes, workloads, models, functions) keep different ones; words that
happen to be hex are words."""

from __future__ import annotations

import pytest

from monitors.events.signature import normalise


def _traceback(error: str, function: str = "call_model") -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/app/agent/run.py", line 42, in main\n    run(task)\n'
        f'  File "/app/agent/llm.py", line 88, in {function}\n    return client.create(**kwargs)\n'
        f"{error}"
    )


# Each row: one failure as it arrives from different pods, hosts, times and requests.
SAME_FAILURE: dict[str, tuple[str, ...]] = {
    "openai rate limit": (
        "openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in "
        "organization org-AbC123xyz on tokens per min (TPM): Limit 30000, Used 29750, Requested 1200. Please try "
        "again in 1.9s.', 'type': 'tokens', 'param': None, 'code': 'rate_limit_exceeded'}}",
        "openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in "
        "organization org-AbC123xyz on tokens per min (TPM): Limit 30000, Used 28112, Requested 4410. Please try "
        "again in 230ms.', 'type': 'tokens', 'param': None, 'code': 'rate_limit_exceeded'}}",
    ),
    "anthropic overloaded": (
        "anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
        "'message': 'Overloaded'}, 'request_id': 'req_011CUv2yXyZ9aBcD'}",
        "anthropic.InternalServerError: Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', "
        "'message': 'Overloaded'}, 'request_id': 'req_011CV7kPq3rT8mNw'}",
    ),
    "anthropic JSON body": (
        'Error code: 400 - {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
        '212345 tokens > 200000 maximum"}}',
        'Error code: 400 - {"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: '
        '200417 tokens > 200000 maximum"}}',
    ),
    "httpx status error": (
        "Client error '404 Not Found' for url 'https://api.github.com/repos/acme/app/pulls/12'\n"
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404",
        "Client error '404 Not Found' for url 'https://api.github.com/repos/acme/web/pulls/57'\n"
        "For more information check: https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404",
    ),
    "httpx to a pod IP": (
        "httpx.ConnectError: All connection attempts failed (http://10.42.0.17:8080/v1/embed)",
        "httpx.ConnectError: All connection attempts failed (http://10.42.3.5:8080/v1/embed?batch=7)",
    ),
    "requests retries": (
        "HTTPSConnectionPool(host='api.github.com', port=443): Max retries exceeded with url: "
        "/repos/acme/app/pulls?page=2&per_page=100 (Caused by NewConnectionError('<urllib3.connection."
        "HTTPSConnection object at 0x7f8a1c2b3d40>: Failed to establish a new connection: [Errno 111] "
        "Connection refused'))",
        "HTTPSConnectionPool(host='api.github.com', port=443): Max retries exceeded with url: "
        "/repos/acme/web/pulls?page=3&per_page=100 (Caused by NewConnectionError('<urllib3.connection."
        "HTTPSConnection object at 0x7f3e00a1b2c0>: Failed to establish a new connection: [Errno 111] "
        "Connection refused'))",
    ),
    "requests read timeout on a test port": (
        "HTTPConnectionPool(host='localhost', port=38211): Read timed out. (read timeout=30)",
        "HTTPConnectionPool(host='localhost', port=41023): Read timed out. (read timeout=30)",
    ),
    "requests http error": (
        "404 Client Error: Not Found for url: https://gitlab.example.com/api/v4/projects/42/merge_requests/214",
        "404 Client Error: Not Found for url: https://gitlab.example.com/api/v4/projects/7/merge_requests/12",
    ),
    "kubelet back-off": (
        "Back-off restarting failed container sandbox in pod "
        "worker-7d9f8b6c5-x2k9p_agents(3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f)",
        "Back-off restarting failed container sandbox in pod "
        "worker-bx7kq2vn9-h8sb2_agents(0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f)",
    ),
    "pod OOM killed": (
        "Container sandbox in pod worker-7d9f8b6c5-x2k9p was OOMKilled (exit code 137)",
        "Container sandbox in pod worker-prcvbrssn-qtcvf was OOMKilled (exit code 137)",
        "Container sandbox in pod worker-3867429181-lmzqw was OOMKilled (exit code 137)",  # numeric hash
    ),
    "StatefulSet replicas": (
        "Back-off restarting failed container redis in pod redis-0_agents(3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f)",
        "Back-off restarting failed container redis in pod redis-2_agents(0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f)",
    ),
    "StatefulSet replicas with a namespace": (
        "Readiness probe failed for pod/agents/postgres-0: connection refused",
        "Readiness probe failed for pod/agents/postgres-1: connection refused",
    ),
    "StatefulSet pod DNS names": (
        "dial tcp: lookup postgres-0.postgres.agents.svc.cluster.local: no such host",
        "dial tcp: lookup postgres-1.postgres.agents.svc.cluster.local: no such host",
    ),
    "StatefulSet pod in a URL": (
        "could not connect to server: postgresql://postgres-0.postgres.agents.svc.cluster.local:5432/app",
        "could not connect to server: postgresql://postgres-12.postgres.agents.svc.cluster.local:5432/app",
    ),
    "dated snapshots of one OpenAI model": (
        "litellm.RateLimitError: rate limit reached for gpt-4o-2024-08-06 (request req_8f3a2b91)",
        "litellm.RateLimitError: rate limit reached for gpt-4o-2024-11-20 (request req_0c9d8e7f)",
    ),
    "OpenAI's four-digit snapshots": (
        "The model gpt-4-0613 has been deprecated.",
        "The model gpt-4-0314 has been deprecated.",
    ),
    "dated snapshots of one Anthropic model": (
        "anthropic overloaded for claude-3-5-sonnet-20241022, retrying in 2.5s",
        "anthropic overloaded for claude-3-5-sonnet-20240620, retrying in 4s",
    ),
    "Bedrock model ids": (
        "ThrottlingException: Too many tokens for anthropic.claude-3-5-sonnet-20241022-v2:0",
        "ThrottlingException: Too many tokens for anthropic.claude-3-5-sonnet-20240620-v2:0",
    ),
    "Mistral's dated models": ("mistral-large-2407 is unavailable", "mistral-large-2411 is unavailable"),
    "job pod": (
        "pod migrate-db-x7k2p failed: BackoffLimitExceeded",
        "pod migrate-db-qtcvf failed: BackoffLimitExceeded",
    ),
    "quota": (
        'pods "worker-7d9f8b6c5-x2k9p" is forbidden: exceeded quota: compute, requested: memory=2Gi, '
        "used: memory=14Gi, limited: memory=16Gi",
        'pods "worker-bx7kq2vn9-h8sb2" is forbidden: exceeded quota: compute, requested: memory=512Mi, '
        "used: memory=15.5Gi, limited: memory=16Gi",
    ),
    "scheduling": (
        "0/12 nodes are available: 3 Insufficient memory, 9 node(s) had untolerated taint {node-role: infra}.",
        "0/9 nodes are available: 2 Insufficient memory, 7 node(s) had untolerated taint {node-role: infra}.",
    ),
    "liveness probe": (
        'Liveness probe failed: Get "http://10.42.0.17:8080/healthz": dial tcp 10.42.0.17:8080: connect: '
        "connection refused",
        'Liveness probe failed: Get "http://10.42.3.5:8080/healthz": dial tcp 10.42.3.5:8080: connect: '
        "connection refused",
    ),
    "python file not found in a temp dir": (
        _traceback("FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmpa1b2c3d4/output.json'"),
        _traceback("FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmpk2_9xq1z/output.json'"),
    ),
    "python timeout": (
        _traceback("TimeoutError: timed out after 30.5s"),
        _traceback("TimeoutError: timed out after 1m2s"),
    ),
    "python temp file name": (
        "PermissionError: tmpa8xk2p_q.json is locked by another process",
        "PermissionError: tmp3kd9s0lz.json is locked by another process",
    ),
    "subprocess": (
        "Command '['pytest', '-x', 'tests/test_api.py']' returned non-zero exit status 1.",
        "Command '['pytest', '-x', 'tests/test_models.py']' returned non-zero exit status 1.",
    ),
    "go dial with a server IP": (
        'Get "https://api.github.com/repos/acme/app": dial tcp 140.82.112.6:443: i/o timeout',
        'Get "https://api.github.com/repos/acme/app": dial tcp 140.82.113.3:443: i/o timeout',
    ),
    "go reset with ephemeral ports": (
        "read tcp 10.1.2.3:54821->10.1.2.4:5432: read: connection reset by peer",
        "read tcp 10.1.7.9:40113->10.1.2.4:5432: read: connection reset by peer",
    ),
    "go IPv6": (
        "dial tcp [2001:db8::1]:443: connect: network is unreachable",
        "dial tcp [fe80::1ff:fe23:4567:890a%eth0]:443: connect: network is unreachable",
    ),
    "go bare IPv6": (
        "lookup api.internal on [::1]:53: no such host (resolver fd00:ec2::253)",
        "lookup api.internal on [::1]:53: no such host (resolver fd00:ec2::2)",
    ),
    "go panic": (
        "panic: runtime error: index out of range [5] with length 3",
        "panic: runtime error: index out of range [12] with length 12",
    ),
    "go temp dir": (
        "open /tmp/build1234567/go.mod: no such file or directory",
        "open /tmp/build7654321/go.mod: no such file or directory",
    ),
    "go time": (
        "lease lost at 2026-11-18 14:02:11.123456789 +0000 UTC",
        "lease lost at 2026-11-19 08:00:00.5 +0000 UTC",
    ),
    "git short SHAs": (
        "fatal: reference is not a tree: 4f9e2ab",
        "fatal: reference is not a tree: 9b1c7d0e2",
    ),
    "request ids": (
        "upstream failed (x-request-id 7f3a9c1)",
        "upstream failed (x-request-id 0be12f4d9a3c)",
    ),
    "HTTP dates": (
        "quota exhausted, retry after Tue, 01 Dec 2026 10:00:00 GMT",
        "quota exhausted, retry after Wed, 02 Dec 2026 23:59:59 GMT",
    ),
    "asctime": (
        "cron job missed its slot (Tue Dec  1 10:00:00 2026)",
        "cron job missed its slot (Wed Dec 16 09:30:12 2026)",
    ),
    "dates": ("no backup for 2026-11-18", "no backup for 2026-12-01"),
    "sizes": (
        "request entity too large: 12.4MB exceeds the limit",
        "request entity too large: 15728640B exceeds the limit",
        "request entity too large: 10KiB exceeds the limit",
    ),
    "durations": (
        "step took 1.5s, budget exceeded",
        "step took 230ms, budget exceeded",
        "step took 120µs, budget exceeded",
    ),
    "localhost ports": ("connect to localhost:38291 refused", "connect to localhost:40133 refused"),
    "e-mail addresses": ("invite for dana@example.org failed", "invite for bruno.silva+ci@corp.example.com failed"),
    "query strings": ("GET /api/search?q=foo&page=2 returned 500", "GET /api/search?q=bar returned 500"),
    "URL credentials": (
        "could not connect to postgresql://app:placeholder-pw@10.0.0.5:5432/agents",
        "could not connect to postgresql://app:other-placeholder@10.0.0.6:5432/agents",
    ),
}


@pytest.mark.parametrize("messages", SAME_FAILURE.values(), ids=SAME_FAILURE.keys())
def test_occurrences_of_one_failure_share_a_signature(messages: tuple[str, ...]) -> None:
    signatures = {normalise(m) for m in messages}
    assert len(signatures) == 1, signatures


# Each row: two failures that must stay two signatures (what tells them apart is in the comment).
DIFFERENT_FAILURES: dict[str, tuple[str, str]] = {
    "httpx status": (  # the status quoted in httpx's message
        "Client error '404 Not Found' for url 'https://api.github.com/repos/acme/app/pulls/12'",
        "Client error '429 Too Many Requests' for url 'https://api.github.com/repos/acme/app/pulls/12'",
    ),
    "requests status": (
        "404 Client Error: Not Found for url: https://api.github.com/repos/acme/app",
        "403 Client Error: Forbidden for url: https://api.github.com/repos/acme/app",
    ),
    "JSON status": ('upstream said {"status": 404}', 'upstream said {"status": 503}'),
    "status at the end of a sentence": ("upstream answered 502.", "upstream answered 504."),
    "openai error code, same status": (  # one class, one status, two causes
        "openai.RateLimitError: Error code: 429 - {'error': {'message': 'Rate limit reached.', 'type': 'tokens', "
        "'param': None, 'code': 'rate_limit_exceeded'}}",
        "openai.RateLimitError: Error code: 429 - {'error': {'message': 'You exceeded your current quota.', "
        "'type': 'insufficient_quota', 'param': None, 'code': 'insufficient_quota'}}",
    ),
    "anthropic error type, same status": (
        "Error code: 400 - {'type': 'error', 'error': {'type': 'invalid_request_error', 'message': 'bad'}}",
        "Error code: 400 - {'type': 'error', 'error': {'type': 'billing_error', 'message': 'bad'}}",
    ),
    "exit status": ("exit status 1", "exit status 2"),
    "exit status at the end of a sentence": (
        "Command '['git', 'push']' returned non-zero exit status 1.",
        "Command '['git', 'push']' returned non-zero exit status 128.",
    ),
    "exit code of a container": ("container exited with code 137", "container exited with code 1"),
    "signal": ("sandbox killed by signal 9", "sandbox killed by signal 15"),
    "errno": ("OSError: [Errno 28] write failed", "OSError: [Errno 5] write failed"),
    "SQLSTATE": ("ERROR: could not commit (SQLSTATE 40001)", "ERROR: could not commit (SQLSTATE 23505)"),
    "error code": ("MongoServerError: E11000 on insert", "MongoServerError: E11600 on insert"),
    "error class": ("httpx.ReadTimeout: timed out", "httpx.ConnectTimeout: timed out"),
    "innermost function": (
        _traceback("TimeoutError: timed out", "call_model"),
        _traceback("TimeoutError: timed out", "call_tool"),
    ),
    "workload of a pod": (
        "pod worker-7d9f8b6c5-x2k9p OOMKilled",
        "pod indexer-7d9f8b6c5-x2k9p OOMKilled",
    ),
    "service of a URL": (
        "Request timed out (upstream https://api.openai.com/v1/chat/completions)",
        "Request timed out (upstream https://api.anthropic.com/v1/messages)",
    ),
    "model": ("gpt-4o-mini overloaded", "gpt-4o overloaded"),
    "model of a dated snapshot": ("gpt-4o-2024-08-06 overloaded", "claude-3-5-sonnet-20241022 overloaded"),
    "model size of a dated snapshot": ("gpt-4o-mini-2024-07-18 overloaded", "gpt-4o-2024-08-06 overloaded"),
    "Anthropic generation of a dated snapshot": (
        "claude-sonnet-4-20250514 overloaded",
        "claude-opus-4-1-20250805 overloaded",
    ),
    "workload of a StatefulSet pod": ("pod redis-0 OOMKilled", "pod postgres-0 OOMKilled"),
    "model of a versioned name": ("gemini-1.5-pro-002 overloaded", "gemini-1.5-flash-002 overloaded"),
    "size of an open model": ("llama-3.1-70b-instruct timed out", "llama-3.1-405b-instruct timed out"),
    "open model family": ("qwen2.5-72b-instruct timed out", "deepseek-r1-distill-70b timed out"),
    "hex-looking words": ("record defaced by import", "record effaced by import"),
    "short hex-looking words": ("facade added", "decade added"),
}


@pytest.mark.parametrize(("first", "second"), DIFFERENT_FAILURES.values(), ids=DIFFERENT_FAILURES.keys())
def test_different_failures_keep_different_signatures(first: str, second: str) -> None:
    assert normalise(first) != normalise(second)


@pytest.mark.parametrize(
    "message",
    [
        "The facade added a decade of cafe bead to the deadbeef acceded record",
        "error[E0308]: mismatched types",
        "error TS2345: Argument of type is not assignable",
        "process exited with code 2",
        "Request timed out.",
        "Connection error.",
        "gpt-4o and claude-3-5-sonnet both overloaded",
        "gpt-4 and utf-8 are not pod names: web-2 is not either",  # an ordinal only after "pod" or in its DNS name
    ],
)
def test_messages_without_variable_parts_are_kept_as_they_are(message: str) -> None:
    assert normalise(message) == message


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        ("pod worker-7d9f8b6c5-x2k9p OOMKilled", "pod worker-<pod> OOMKilled"),
        ("dial tcp 10.42.0.17:8080: connect: connection refused", "dial tcp <ip>:<port>: connect: connection refused"),
        ("dial tcp [2001:db8::1]:443: i/o timeout", "dial tcp <ip>:<port>: i/o timeout"),
        ("retry after Tue, 01 Dec 2026 10:00:00 GMT", "retry after <time>"),
        ("fatal: reference is not a tree: 4f9e2ab", "fatal: reference is not a tree: <hex>"),
        ("PermissionError: tmpa8xk2p_q.json is locked", "PermissionError: <tmp>.json is locked"),
        ("GET /api/search?q=foo returned 500", "GET <path> returned 500"),
        ("query ?q=foo&page=2 failed", "query ?<query> failed"),
        (
            "could not connect to postgresql://app:placeholder-pw@10.0.0.5:5432/agents",  # the password never shows
            "could not connect to postgresql://<ip>:<port>/<path>",
        ),
        (
            "Request timed out after 17339 ms (upstream https://api.openai.com/v1/chat/completions)",
            "Request timed out after <n> ms (upstream https://api.openai.com/<path>)",  # the parenthesis stays
        ),
        (
            "Client error '404 Not Found' for url 'https://api.github.com/repos/acme/app/pulls/12'",
            "Client error '404 Not Found' for url '<value>'",
        ),
        (
            "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}",
            "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': '<value>'}}",
        ),
        ("lodash@5.0.0 not found", "lodash@<n> not found"),  # a package version, not an e-mail address
        ("pod redis-0 OOMKilled", "pod redis-<pod> OOMKilled"),
        ("pod agents/web-2 not ready", "pod agents/web-<pod> not ready"),
        ("lookup redis-1.redis.agents.svc: no such host", "lookup redis-<pod>.redis.agents.svc: no such host"),
        ("gpt-4o-2024-08-06 overloaded.", "gpt-4o-<date> overloaded."),
        ("claude-3-5-sonnet-20241022 overloaded", "claude-3-5-sonnet-<date> overloaded"),
        ("gpt-3.5-turbo-0125 overloaded", "gpt-3.5-turbo-<date> overloaded"),
        ("gpt-4-1106-preview overloaded", "gpt-4-<date>-preview overloaded"),
        ("gemini-1.5-pro-002 overloaded", "gemini-1.5-pro-002 overloaded"),  # a model's version, not an id
        ("model llama-3.1-70b-instruct: rate limited", "model llama-3.1-70b-instruct: rate limited"),
        ("claude-3-5-sonnet-v2@20241022 failed", "claude-3-5-sonnet-v2@<date> failed"),
        ("o3-mini-2025-01-31 refused", "o3-mini-<date> refused"),
        ("user philip-83412 not found", "user <id> not found"),  # no model family: "phi" must end there
    ],
)
def test_what_a_mask_replaced_is_named(message: str, signature: str) -> None:
    assert normalise(message) == signature
