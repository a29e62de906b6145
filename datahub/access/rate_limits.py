"""Per-client rate limits shared by every API process on every host, through the metadata database.

A client may make ``limit`` requests in each second of the clock (a fixed window). The count of a
window lives in the metadata database (``rate_windows``), so all processes on all hosts draw on one
allowance. A process does not write the database for every request: it leases a slice of the window's
allowance (``LEASE_FRACTION`` of the limit, at least one request) in one short transaction and spends it
locally; when the slice is gone it leases the next, and once the window's allowance is leased out the
client is refused until the next second. Together the processes never allow more than ``limit`` in a
window; a slice leased but not spent by one process is lost to the others for that second (at most
``LEASE_FRACTION`` of the limit per process).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from datahub.errors import RateLimited
from datahub.metadata import MetadataStore
from datahub.metadata.models import RateWindow

LEASE_FRACTION = 0.05
"""The share of a client's per-second limit a process leases at once."""
KEEP_WINDOWS = 60  # seconds of windows kept in the database; older ones are deleted now and then


@dataclass
class _Lease:
    window: int
    left: int


class SharedRateLimiter:
    """``take(client_id, limit)`` for every request; RateLimited when the client's allowance for this
    second is spent on any process."""

    def __init__(self, store: MetadataStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._leased = 0

    def take(self, client_id: str, limit: int) -> None:
        now = self._clock()
        window = int(now)
        with self._lock:
            lease = self._leases.get(client_id)
            if lease is not None and lease.window == window and lease.left > 0:
                lease.left -= 1
                return
        granted = self._lease(client_id, window, limit)
        if granted < 1:
            wait = max(window + 1 - now, 0.001)
            raise RateLimited(
                f"more than {limit} requests per second; retry in {wait:.2f} s", retry_after=wait
            )
        with self._lock:
            self._leases[client_id] = _Lease(window, granted - 1)

    def _lease(self, client_id: str, window: int, limit: int) -> int:
        """Lease up to a slice of the window's allowance; how many requests were granted. Each step is
        a transaction of its own (a compare and set: no transaction waits on another's read)."""
        wanted = max(1, math.ceil(limit * LEASE_FRACTION))
        row = (RateWindow.client_id == client_id) & (RateWindow.window == window)
        with self.store.session() as s:
            opened = _insert(s, RateWindow).values(client_id=client_id, window=window, used=0)
            s.execute(opened.on_conflict_do_nothing())
        for _ in range(20):  # another process may lease between the read and the write: read again
            with self.store.session() as s:
                used = s.scalar(select(RateWindow.used).where(row)) or 0
            granted = min(wanted, limit - used)
            if granted < 1:
                return 0
            with self.store.session() as s:
                moved = s.execute(
                    update(RateWindow).where(row, RateWindow.used == used).values(used=used + granted)
                )
                if moved.rowcount:  # type: ignore[attr-defined]
                    self._leased += 1
                    if self._leased % 100 == 1:
                        s.execute(delete(RateWindow).where(RateWindow.window < window - KEEP_WINDOWS))
                    return granted
        return 0


def _insert(s: Session, table: type[RateWindow]) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL)."""
    if s.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
