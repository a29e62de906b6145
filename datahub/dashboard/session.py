"""Sign-in sessions of the dashboard: a signed cookie, its row on the server, a CSRF token bound to it,
and who is signed in.

A steward signs in once with an API key (checked by :meth:`Clients.authenticate`); the dashboard then
keeps a cookie instead of the key. The cookie holds the client id, the expiry (8 hours after sign-in)
and a random nonce, signed with HMAC-SHA256 under a key derived from the platform secret the way the
audit log derives its own (``HMAC-SHA256(secret, KEY_CONTEXT)``), so the dashboard's key shares no raw
key material with pseudonyms or the audit chain. The server keeps one row per session
(:class:`~datahub.metadata.DashboardSession`, keyed by the SHA-256 of the nonce). Every request checks
the cookie's shape, signature and expiry, then reads the row and the client in one query: signing out
revokes the row, so a copy of the cookie ends with it; :func:`revoke_all` ends every session of a
client, and disabling a client ends them at once. Expired rows are deleted when someone signs in.

Anything a browser sends is checked for the exact shape the dashboard issues (URL-safe base64 of the
right length, ASCII only) before any comparison: a cookie or token of another shape is "not signed in"
or "bad token", never an error.

CSRF: every form that changes something carries ``HMAC(key, "csrf" | nonce)``, which only a page of
this session can know (the cookie is HttpOnly and SameSite=Strict as well). The sign-in form itself is
protected the same way by a nonce in a short-lived cookie of its own, so another site cannot sign a
browser in under its attacker's key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from datahub.access import Principal, Role
from datahub.errors import NotFound
from datahub.metadata import Client, DashboardSession, MetadataStore
from datahub.settings import derive_key

KEY_CONTEXT = b"datahub dashboard session v1"
"""The session key is ``HMAC-SHA256(platform secret, KEY_CONTEXT)``: see :func:`session_key`."""

SESSION_COOKIE = "datahub_dashboard"
LOGIN_COOKIE = "datahub_dashboard_login"
SESSION_LIFETIME = timedelta(hours=8)
LOGIN_LIFETIME = timedelta(hours=1)  # between opening the sign-in form and sending it

# The shapes the dashboard issues; anything else is refused before it is decoded or compared.
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16)
_MAC = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes of HMAC-SHA256, unpadded URL-safe base64
_COOKIE = re.compile(r"([A-Za-z0-9_-]{2,200})\.([A-Za-z0-9_-]{43})")
_PAYLOAD = re.compile(r"([A-Za-z0-9_-]{1,40})\|([0-9]{1,12})\|([A-Za-z0-9_-]{22})")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def session_key(secret: bytes) -> bytes:
    """The dashboard's signing key, derived from the platform secret (``settings.secret_key``)."""
    return derive_key(secret, KEY_CONTEXT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same(given: str | None, shape: re.Pattern[str], expected: str) -> bool:
    """``given`` has the shape of what was issued and equals ``expected`` (compared in constant time)."""
    return given is not None and shape.fullmatch(given) is not None and hmac.compare_digest(given, expected)


def _utc(seconds: float) -> datetime:
    """Unix seconds as the naive UTC time the metadata database stores."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _row_id(session: Session) -> str:
    return hashlib.sha256(session.nonce.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose it is, until when (Unix seconds), and its random nonce."""

    client_id: str
    expires_at: int
    nonce: str


class Sessions:
    """Issues, reads and revokes session cookies (with their rows in ``store``) and their CSRF tokens."""

    def __init__(
        self,
        secret: bytes,
        store: MetadataStore,
        lifetime: timedelta = SESSION_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = session_key(secret)
        self.store = store
        self.lifetime = lifetime
        self._clock = clock

    def _mac(self, purpose: bytes, payload: bytes) -> str:
        return _b64(hmac.new(self._key, purpose + b"|" + payload, hashlib.sha256).digest())

    def issue(self, client_id: str) -> tuple[str, Session]:
        """A new session for ``client_id``, recorded on the server: the cookie value and what it holds.

        Sessions that have expired, anyone's, are deleted on the way: signing in is rare enough for
        that to cost nothing, and often enough to keep the table small."""
        if not _CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"not a client id: {client_id!r}")
        now = self._clock()
        session = Session(client_id, int(now + self.lifetime.total_seconds()), secrets.token_urlsafe(16))
        with self.store.session() as s:
            s.execute(delete(DashboardSession).where(DashboardSession.expires_at <= _utc(now)))
            s.add(
                DashboardSession(
                    id=_row_id(session),
                    client_id=client_id,
                    created_at=_utc(now),
                    expires_at=_utc(session.expires_at),
                )
            )
        payload = f"{session.client_id}|{session.expires_at}|{session.nonce}".encode("ascii")
        return f"{_b64(payload)}.{self._mac(b'session', payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, of another shape, forged, altered or
        expired. Whether the server still knows it is :meth:`signed_in`'s question."""
        found = _COOKIE.fullmatch(cookie) if cookie else None
        if found is None:
            return None
        try:
            payload = _unb64(found.group(1))
        except binascii.Error:
            return None
        if not hmac.compare_digest(found.group(2), self._mac(b"session", payload)):
            return None
        parts = _PAYLOAD.fullmatch(payload.decode("ascii", errors="replace"))
        if parts is None:
            return None
        session = Session(parts.group(1), int(parts.group(2)), parts.group(3))
        return session if session.expires_at > self._clock() else None

    def signed_in(self, session: Session) -> Principal | None:
        """The client behind a session, read again on every request: None once the session is signed
        out, revoked, expired or unknown to the server, or its client is disabled or gone."""
        with self.store.session() as s:
            row = s.scalars(
                select(Client)
                .join(DashboardSession, DashboardSession.client_id == Client.id)
                .where(
                    DashboardSession.id == _row_id(session),
                    DashboardSession.client_id == session.client_id,
                    DashboardSession.revoked_at.is_(None),
                    DashboardSession.expires_at > _utc(self._clock()),
                    Client.disabled_at.is_(None),
                )
            ).first()
            if row is None:
                return None
            return Principal(row.id, row.name, Role(row.role), row.department, row.rate_limit)

    def revoke(self, session: Session) -> None:
        """Sign out: the session ends on the server, for every copy of its cookie."""
        with self.store.session() as s:
            s.execute(
                update(DashboardSession)
                .where(DashboardSession.id == _row_id(session), DashboardSession.revoked_at.is_(None))
                .values(revoked_at=_utc(self._clock()))
            )

    def csrf_token(self, session: Session) -> str:
        """The token every state-changing form of this session carries."""
        return self._mac(b"csrf", session.nonce.encode("ascii"))

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return _same(token, _MAC, self.csrf_token(session))

    @staticmethod
    def login_nonce() -> str:
        """The nonce of one sign-in form, kept in :data:`LOGIN_COOKIE` until the form is sent."""
        return secrets.token_urlsafe(16)

    def login_token(self, nonce: str) -> str:
        return self._mac(b"login", nonce.encode("ascii"))

    def login_ok(self, nonce: str | None, token: str | None) -> bool:
        if nonce is None or _NONCE.fullmatch(nonce) is None:
            return False
        return _same(token, _MAC, self.login_token(nonce))


def revoke_all(store: MetadataStore, client_id: str) -> int:
    """End every dashboard session of a client (its key keeps working): how many were still open."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.session() as s:
        if s.get(Client, client_id) is None:
            raise NotFound(f"unknown client '{client_id}'")
        done = s.execute(
            update(DashboardSession)
            .where(
                DashboardSession.client_id == client_id,
                DashboardSession.revoked_at.is_(None),
                DashboardSession.expires_at > now,
            )
            .values(revoked_at=now)
        )
        return int(done.rowcount)  # type: ignore[attr-defined]
