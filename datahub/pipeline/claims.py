"""Claims on deliveries, held as leases a later run takes over once their holder is gone.

A stage claims a delivery by moving it from the status it waits in to the stage's claimed status
(``conformed`` → ``checking``), naming its holder (host, process id, the process's start time and a
token of the stage run) and a lease time. While the stage runs, a heartbeat thread moves the lease on.
A claim is taken over when its holder is gone:

- on this host, the holder's process no longer runs (or the pid now belongs to another process),
  or, for this very process, the stage run that took it has ended without finishing it;
- on any host, the lease ran out (a holder on another host that stopped renewing it: killed, cut
  off, or stopped for longer than :data:`LEASE`).

Each stage's work is redone from its start by the run that takes a claim over (the stages are written
to be redone), and a stage commits its result only while it still holds the claim.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from datahub.metadata import Delivery, DeliveryStatus, MetadataStore

LEASE = timedelta(seconds=120)
"""How long a claim holds without a heartbeat (a holder on another host is presumed gone after it)."""
HEARTBEAT = 20.0
"""Seconds between two renewals of the leases of the claims a process holds."""

HOST = socket.gethostname()


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _started(pid: int) -> str:
    """When a process started (clock ticks since boot, from /proc), or "" when it does not run."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: str
    token: str

    def __str__(self) -> str:
        return f"{self.host}/{self.pid}/{self.started}/{self.token}"

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        parts = (text or "").rsplit("/", 3)
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])


_held: dict[str, tuple[MetadataStore, str]] = {}  # token → (store, holder) of the running stage runs
_guard = threading.Lock()
_heartbeat: threading.Thread | None = None


def alive(claimed_by: str | None, lease_until: datetime | None, at: datetime | None = None) -> bool:
    """Whether the holder of a claim may still be working on it."""
    holder = Holder.parse(claimed_by)
    if holder is None or lease_until is None or lease_until < (at or now()):
        return False
    if holder.host != HOST:
        return True
    if holder.pid == os.getpid():
        with _guard:
            return holder.token in _held
    return _started(holder.pid) == holder.started


def _renew() -> None:
    while True:
        threading.Event().wait(HEARTBEAT)
        with _guard:
            held = list(_held.values())
        for store, holder in held:
            try:
                with store.session() as s:
                    s.execute(
                        update(Delivery)
                        .where(Delivery.claimed_by == holder, Delivery.status.in_(DeliveryStatus.CLAIMED))
                        .values(lease_until=now() + LEASE)
                    )
            except Exception:  # the database is away for a moment: the next beat tries again
                continue


@contextmanager
def holding(store: MetadataStore) -> Iterator[str]:
    """A holder for the claims of one stage run; its claims count as alive until the run ends."""
    global _heartbeat
    pid = os.getpid()
    holder = str(Holder(HOST, pid, _started(pid), secrets.token_hex(6)))
    token = holder.rsplit("/", 1)[1]
    with _guard:
        _held[token] = (store, holder)
        if _heartbeat is None or not _heartbeat.is_alive():
            _heartbeat = threading.Thread(target=_renew, name="claim-heartbeat", daemon=True)
            _heartbeat.start()
    try:
        yield holder
    finally:
        with _guard:
            _held.pop(token, None)
