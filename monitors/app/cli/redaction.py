"""What an error line may not show: the secrets the command knows of, and anything shaped like one.

An unexpected error's message (and, with -v, its traceback) may quote a request, a URL or a config
value. Before it reaches the terminal, every secret of the loaded config (each SecretStr: keys, tokens,
webhook URLs, the store URL's password) and every environment variable named like a secret is masked in each form
a request may carry it (see `credential_forms`), then `scrub_credentials` masks what merely looks like one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import click
from pydantic import BaseModel, SecretStr

SETTINGS = "monitors.settings"  # ctx.meta key: the settings the command loaded, if it got that far
MIN_SECRET = 6  # shorter values ("1", "true") are not secrets and would mask ordinary words
# Variables named like a secret; a URL variable (MONITORS_STORE_URL) is masked by its password's shape instead.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PRIVATE|CREDENTIAL|API_?KEY|_KEY$|WEBHOOK", re.I)


def remember_settings(settings: Any) -> None:
    """Note the settings a command loaded, so an error line can mask their secrets."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[SETTINGS] = settings


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with every secret the command knows of (see the module) and every credential-shaped value
    masked as `***`."""
    from monitors.sources.http import credential_forms
    from monitors.support.safe_text import scrub_credentials

    ctx = click.get_current_context(silent=True)
    settings = ctx.meta.get(SETTINGS) if ctx is not None else None
    known = set(_settings_secrets(settings)) | set(_secret_environment(os.environ if environ is None else environ))
    forms = {form for value in known if len(value) >= MIN_SECRET for form in credential_forms(value, "")}
    for form in sorted(forms, key=len, reverse=True):  # longest first: no part of a secret is left behind
        text = text.replace(form, "***")
    return scrub_credentials(text)


def _settings_secrets(settings: Any) -> Iterator[str]:
    """Every secret of the settings; of the store URL only its password: a SQLite file's path or a
    database's host says where the store is, which an error about it must show."""
    if settings is None:
        return
    store_url = settings.store.url.get_secret_value()
    yield from (value for value in _secret_values(settings) if value != store_url)
    from monitors.store.urls import url_password

    if password := url_password(store_url):
        yield password


def _secret_values(node: Any) -> Iterator[str]:
    if isinstance(node, SecretStr):
        yield node.get_secret_value()
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:  # excluded fields too: the channels' validated configs
            yield from _secret_values(getattr(node, name, None))
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _secret_values(value)
    elif isinstance(node, list | tuple | set):
        for value in node:
            yield from _secret_values(value)


def _secret_environment(environ: Mapping[str, str]) -> Iterator[str]:
    for name, value in environ.items():
        if _SECRET_NAME.search(name) and value:
            yield value
