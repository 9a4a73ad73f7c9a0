"""`run-monitor scheduler --listen`: the listener starts with the scheduler and fails its liveness check
once the scheduler is shutting down."""

from __future__ import annotations

import threading
import urllib.request
from urllib.error import HTTPError

import pytest

from monitors.app.cli.schedule import _start_listener
from monitors.contracts.errors import ConfigError
from monitors.engine.config import settings_from_dict
from monitors.store.store import Store


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except HTTPError as exc:
        return exc.code


def test_the_scheduler_listener_reports_alive_until_shutdown(sqlite_store: Store) -> None:
    stopping = threading.Event()
    settings = settings_from_dict({}, env={})
    listener = _start_listener("127.0.0.1:0", settings, sqlite_store, stopping)
    try:
        base = f"http://127.0.0.1:{listener.port}"
        assert _status(f"{base}/healthz") == 200
        assert _status(f"{base}/metrics") == 200
        stopping.set()
        with pytest.raises(HTTPError) as info:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert info.value.code == 503 and info.value.read() == b"the scheduler is shutting down\n"
    finally:
        listener.stop()


def test_no_listen_address_means_no_listener(sqlite_store: Store) -> None:
    assert _start_listener(None, settings_from_dict({}, env={}), sqlite_store, threading.Event()) is None


def test_a_bad_or_busy_address_is_a_config_error(sqlite_store: Store) -> None:
    settings = settings_from_dict({}, env={})
    with pytest.raises(ConfigError, match="not host:port"):
        _start_listener("9464", settings, sqlite_store, threading.Event())
    first = _start_listener("127.0.0.1:0", settings, sqlite_store, threading.Event())
    try:
        with pytest.raises(ConfigError, match="cannot listen"):
            _start_listener(f"127.0.0.1:{first.port}", settings, sqlite_store, threading.Event())
    finally:
        first.stop()
