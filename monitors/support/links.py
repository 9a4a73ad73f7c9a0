"""Links into Langfuse built from ids an agent chose: each id is one path segment, percent-encoded.

A trace id is whatever the agent's SDK sent. Pasted raw into a URL, "../../settings/api-keys" or
"x?y#z" would point the "Langfuse trace" link at any page of the Langfuse host; encoded with no safe
characters ('/', '?', '#', '%' and '..' included) it can only name a trace.
"""

from __future__ import annotations

from urllib.parse import quote


def segment(value: str) -> str:
    """`value` as a single URL path segment; '.' and '..' cannot climb because '.' is encoded too."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


def langfuse_trace_url(host: str, project_id: str, trace_id: str) -> str:
    return f"{host.rstrip('/')}/project/{segment(project_id)}/traces/{segment(trace_id)}"
