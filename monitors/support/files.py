"""Files we write that a person or a job reads later (exports, reports): private, whole, and ours.

`private_file(target)` yields a binary handle on a new temporary file beside `target`, created with
O_CREAT|O_EXCL and mode 0600 (never following a symlink someone planted under a predictable name),
and moves it over `target` only once written completely. The rename replaces `target` itself: a
symlink at `target` is replaced, never followed. Exports and reports hold trace content: not for
every local user to read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def private_file(target: Path) -> Iterator[IO[bytes]]:
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def write_private_text(target: Path, text: str) -> None:
    with private_file(target) as handle:
        handle.write(text.encode("utf-8"))
