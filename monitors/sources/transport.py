"""An httpx transport whose requests end within a total budget, not just a per-read timeout.

httpx's timeouts are per phase and per socket read, so a server that trickles one byte a second keeps
a request (and the run) alive forever. Here every socket operation of a request gets at most what is
left of the request's budget, set when the request starts (`start_request`, called from an httpx
request hook): once it is spent the next read or write raises httpcore's ReadTimeout/WriteTimeout,
which httpx turns into its own TimeoutException, so callers retry or report it like any timeout.
"""

from __future__ import annotations

import ssl
import typing
from contextvars import ContextVar

import httpcore
import httpx

from monitors.support.deadline import Deadline

_REQUEST: ContextVar[Deadline | None] = ContextVar("monitors_request_deadline", default=None)


def start_request(seconds: float) -> None:
    """Give the request about to be sent on this thread `seconds` in total, from now."""
    _REQUEST.set(Deadline.after(seconds))


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _REQUEST.get()
    if deadline is None:
        return timeout
    left = deadline.remaining()
    if left <= 0:
        raise error(f"no complete answer within {deadline.describe()}")
    return left if timeout is None else min(timeout, left)


def _spent(error: type[Exception]) -> None:
    """Raise `error` naming the budget when it is what ran out (not the read's own timeout)."""
    deadline = _REQUEST.get()
    if deadline is not None and deadline.expired:
        raise error(f"no complete answer within {deadline.describe()}") from None


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout:
            _spent(httpcore.ReadTimeout)
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))
        except httpcore.WriteTimeout:
            _spent(httpcore.WriteTimeout)
            raise

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return _BoundedStream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class BoundedTransport(httpx.HTTPTransport):
    """httpx.HTTPTransport over our network backend (direct connections; proxies from the environment
    are mounted by httpx with its own transports)."""

    def __init__(self) -> None:
        super().__init__()
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
        # httpx takes no network backend; the httpcore pool it drives does, so build that pool here.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_BoundedBackend(),
        )
