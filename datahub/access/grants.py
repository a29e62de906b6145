"""Grants: a client's right to read a conditional view, requested by the client and decided by a steward.

requested ──approve──▶ approved ──revoke──▶ revoked
    └──────refuse───▶ refused        (an approved grant past ``expires_at`` no longer counts)

Expiry and revocation are read on every request (nothing is cached), so they take effect on the next one.

A request is to be answered within ``settings.grant_answer_days`` working days (《政务数据共享条例》): it is
due (``due_at``) at the end of that working day after the day it was made, counted on the dictionary's
working-day calendar; it is overdue while it waits past then, and stays marked overdue when it was
answered late.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select

from datahub.access.clients import Principal, Role
from datahub.citytime import city_time
from datahub.contracts import Dataset, SharingClass
from datahub.dictionary import WorkCalendar
from datahub.errors import Conflict, Forbidden, InputError, NotFound
from datahub.metadata import Grant, GrantStatus, MetadataStore

REQUESTERS = (Role.consumer, Role.department, Role.leader)
DECIDERS = (Role.steward, Role.admin)
PURPOSE_MAX = 2_000


def now_utc() -> datetime:
    """Naive UTC, as the metadata database stores times."""
    return datetime.now(UTC).replace(tzinfo=None)


def replace_signal(signal: Path | None) -> None:
    """After a commit: replace the signal file, so every process drops its cached grants."""
    if signal is None:
        return
    signal.parent.mkdir(parents=True, exist_ok=True)
    tmp = signal.with_name(f".{signal.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(str(time.time_ns()), encoding="utf-8")
    os.replace(tmp, signal)


def signal_stamp(signal: Path | None) -> tuple[int, int] | None:
    """What identifies the signal file's last replacement (None without a signal file)."""
    if signal is None:
        return None
    try:
        stat = os.stat(signal)
    except FileNotFoundError:
        return (0, 0)
    return (stat.st_ino, stat.st_mtime_ns)


@dataclass(frozen=True)
class GrantRequest:
    view: str
    purpose: str
    columns: list[str] | None = None
    row_filter: str | None = None
    legal_basis: str | None = None
    expires_at: datetime | None = None


def overdue(g: Grant, now: datetime) -> bool:
    """Still waiting for an answer past ``due_at``, or answered (approved or refused) after it. A request
    withdrawn by its client, or made before deadlines were kept, is never overdue."""
    if g.due_at is None:
        return False
    if g.decided_at is not None:
        return g.decided_at > g.due_at
    return g.status == GrantStatus.requested and now > g.due_at


def last_answer_day(due_at: datetime) -> date:
    """The city day by whose end a request is due (``due_at`` is 24:00 city time that day)."""
    return (city_time(due_at) - timedelta(microseconds=1)).date()


def answer_state(grant: dict[str, Any]) -> str:
    """In words, from a grant_dict: ``overdue`` (waiting past due), ``answered late`` or ``""``."""
    if not grant["overdue"]:
        return ""
    return "overdue" if grant["status"] == GrantStatus.requested else "answered late"


def grant_dict(g: Grant) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() + "Z" if value else None

    now = now_utc()
    expired = g.expires_at is not None and g.expires_at <= now
    return {
        "grant_id": g.id,
        "client_id": g.client_id,
        "view": g.view,
        "purpose": g.purpose,
        "columns": g.columns,
        "row_filter": g.row_filter,
        "legal_basis": g.legal_basis,
        "expires_at": iso(g.expires_at),
        "status": g.status,
        "active": g.status == GrantStatus.approved and not expired,
        "requested_at": iso(g.requested_at),
        "due_at": iso(g.due_at),
        "overdue": overdue(g, now),
        "decided_at": iso(g.decided_at),
        "decided_by": g.decided_by,
        "decision_note": g.decision_note,
        "revoked_at": iso(g.revoked_at),
        "revoked_by": g.revoked_by,
    }


class Grants:
    """The grant lifecycle over the metadata database.

    ``check_filter(view, text)`` is given by the serving layer: it raises when a row filter does not
    compile against the view's columns, so a grant never holds a filter that would fail at read time."""

    def __init__(
        self,
        store: MetadataStore,
        views: Callable[[], dict[str, Dataset]],
        check_filter: Callable[[Dataset, str], None],
        signal: Path | None = None,
        calendar: WorkCalendar | None = None,
        answer_days: int = 5,
    ) -> None:
        """``signal``: a file every decision replaces (the API and the CLI share it), so active grants can
        be cached until it changes; without one, every ``active`` call reads the database. A request is
        due ``answer_days`` working days of ``calendar`` (default: weekends only) after its day."""
        self.store = store
        self.calendar = calendar or WorkCalendar()
        self.answer_days = answer_days
        self.views = views
        self.check_filter = check_filter
        self.signal = signal
        self._cache: dict[tuple[str, str | None], tuple[tuple[int, int], list[Grant]]] = {}
        self._lock = threading.Lock()

    def _changed(self) -> None:
        replace_signal(self.signal)

    def _stamp(self) -> tuple[int, int] | None:
        return signal_stamp(self.signal)

    def request(self, caller: Principal, ask: GrantRequest) -> dict[str, Any]:
        if caller.role not in REQUESTERS:
            raise Forbidden(
                f"role '{caller.role}' does not request grants (roles that do: consumer, department, leader)"
            )
        view = self.views().get(ask.view)
        if view is None:
            raise NotFound(f"unknown view '{ask.view}'")
        if view.sharing_class is SharingClass.not_shared:
            raise Forbidden(
                f"'{view.name}' is not shared (不予共享): it is read only by its owner and stewards"
            )
        purpose = ask.purpose.strip()
        if not purpose or len(purpose) > PURPOSE_MAX:
            raise InputError(f"state the purpose in 1 to {PURPOSE_MAX} characters", path="purpose")
        known = [c.name for c in view.columns]
        if ask.columns is not None:
            unknown = [c for c in ask.columns if c not in known]
            if unknown or not ask.columns or len(set(ask.columns)) != len(ask.columns):
                raise InputError(
                    f"columns must be distinct columns of {view.name}; unknown: {', '.join(unknown) or '-'}",
                    path="columns",
                )
        if ask.row_filter is not None:
            self.check_filter(view, ask.row_filter)
        if ask.expires_at is not None and ask.expires_at <= now_utc():
            raise InputError("expires_at is in the past", path="expires_at")
        if ask.legal_basis is not None and not ask.legal_basis.strip():
            raise InputError("legal_basis, when given, must say something", path="legal_basis")
        requested_at = now_utc()
        with self.store.session() as s:
            grant = Grant(
                client_id=caller.client_id,
                view=view.name,
                purpose=purpose,
                columns=ask.columns,
                row_filter=ask.row_filter,
                legal_basis=ask.legal_basis.strip() if ask.legal_basis else None,
                expires_at=ask.expires_at,
                status=GrantStatus.requested,
                requested_at=requested_at,
                due_at=self.calendar.due(requested_at, self.answer_days),
            )
            s.add(grant)
            s.flush()
            out = grant_dict(grant)
        self._changed()
        return out

    def _decide(self, grant_id: int, caller: Principal, status: str, note: str | None) -> dict[str, Any]:
        if caller.role not in DECIDERS:
            raise Forbidden(f"role '{caller.role}' may not decide grants (stewards and admins do)")
        with self.store.session() as s:
            grant = s.get(Grant, grant_id)
            if grant is None:
                raise NotFound(f"unknown grant {grant_id}")
            if grant.status != GrantStatus.requested:
                raise Conflict(f"grant {grant_id} is {grant.status} already")
            grant.status = status
            grant.decided_at = now_utc()
            grant.decided_by = caller.name
            grant.decision_note = note
            out = grant_dict(grant)
        self._changed()
        return out

    def approve(self, grant_id: int, caller: Principal, note: str | None = None) -> dict[str, Any]:
        return self._decide(grant_id, caller, GrantStatus.approved, note)

    def refuse(self, grant_id: int, caller: Principal, note: str | None = None) -> dict[str, Any]:
        return self._decide(grant_id, caller, GrantStatus.refused, note)

    def revoke(self, grant_id: int, caller: Principal) -> dict[str, Any]:
        """Stewards and admins revoke any grant; a client revokes its own."""
        with self.store.session() as s:
            grant = s.get(Grant, grant_id)
            if grant is None or (caller.role not in DECIDERS and grant.client_id != caller.client_id):
                raise NotFound(f"unknown grant {grant_id}")
            if grant.status not in (GrantStatus.approved, GrantStatus.requested):
                raise Conflict(f"grant {grant_id} is {grant.status}: nothing to revoke")
            grant.status = GrantStatus.revoked
            grant.revoked_at = now_utc()
            grant.revoked_by = caller.name
            out = grant_dict(grant)
        self._changed()
        return out

    def get(self, grant_id: int, caller: Principal) -> dict[str, Any]:
        with self.store.session() as s:
            grant = s.get(Grant, grant_id)
            if grant is None or (caller.role not in DECIDERS and grant.client_id != caller.client_id):
                raise NotFound(f"unknown grant {grant_id}")
            return grant_dict(grant)

    def find(
        self, caller: Principal, *, status: str | None = None, view: str | None = None
    ) -> list[dict[str, object]]:
        """Stewards and admins see every grant; any other client its own."""
        query = select(Grant).order_by(Grant.id.desc())
        if caller.role not in DECIDERS:
            query = query.where(Grant.client_id == caller.client_id)
        if status is not None:
            query = query.where(Grant.status == status)
        if view is not None:
            query = query.where(Grant.view == view)
        with self.store.session() as s:
            return [grant_dict(g) for g in s.scalars(query).all()]

    def active(self, client_id: str, view: str | None = None) -> list[Grant]:
        """Approved grants of ``client_id`` that have not expired (on ``view`` when given).

        Asked on every request, so revocation and expiry count at once: the approved grants are read
        again whenever the signal file has been replaced since (or always, without one), and expiry is
        judged now, on every call."""
        stamp = self._stamp()
        with self._lock:
            cached = self._cache.get((client_id, view))
        if stamp is not None and cached is not None and cached[0] == stamp:
            approved = cached[1]
        else:
            values = {"client_id": client_id}
            if view is not None:
                values["view"] = view
            with self.store.engine.connect() as connection:
                rows = connection.execute(_APPROVED_ON_VIEW if view is not None else _APPROVED, values)
                approved = [Grant(**row) for row in rows.mappings().all()]
            if stamp is not None:
                with self._lock:
                    if len(self._cache) > 10_000:
                        self._cache.clear()
                    self._cache[(client_id, view)] = (stamp, approved)
        now = now_utc()
        return [g for g in approved if g.expires_at is None or g.expires_at > now]


_APPROVED = (
    select(*(getattr(Grant, c.key) for c in Grant.__table__.columns))
    .where(Grant.client_id == bindparam("client_id"), Grant.status == GrantStatus.approved)
    .order_by(Grant.id)
)
_APPROVED_ON_VIEW = _APPROVED.where(Grant.view == bindparam("view"))
