"""A run of another pod that takes a monitor's run lock and then hangs, until it is killed.

    python -m tests.reliability.lock_holder STORE_URL MONITOR HOSTNAME

It takes the lock the way a run does (`Store.acquire_lock` with the configured default lease), as
the host HOSTNAME (each Kubernetes pod has its own), prints "held", and sleeps until SIGKILLed.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime

from monitors.engine.config import StoreSettings


def main(store_url: str, monitor: str, hostname: str) -> None:
    socket.gethostname = lambda: hostname  # another pod: its pid means nothing on this host
    from monitors.store.store import Store

    store = Store.open(store_url)
    if not store.acquire_lock(monitor, now=datetime.now(UTC), lease=StoreSettings().lock_lease):
        sys.exit("lock not acquired")
    print("held", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:4])
