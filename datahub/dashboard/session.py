"""Sign-in sessions of the dashboard: a signed cookie, a CSRF token bound to it, and who is signed in.

A steward signs in once with an API key (checked by :meth:`Clients.authenticate`); the dashboard then
keeps a cookie instead of the key. The cookie holds the client id, the expiry (8 hours after sign-in)
and a random nonce, signed with HMAC-SHA256 under a key derived from the platform secret the way the
audit log derives its own (``HMAC-SHA256(secret, KEY_CONTEXT)``), so the dashboard's key shares no raw
key material with pseudonyms or the audit chain. Nothing about a session is stored on the server: every
request checks the signature and the expiry, then reads the client again, so disabling a client ends
its sessions at once.

CSRF: every form that changes something carries ``HMAC(key, "csrf" | nonce)``, which only a page of
this session can know (the cookie is HttpOnly and SameSite=Strict as well). The sign-in form itself is
protected the same way by a nonce in a short-lived cookie of its own, so another site cannot sign a
browser in under its attacker's key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from datahub.access import Principal, Role
from datahub.metadata import Client, MetadataStore
from datahub.settings import derive_key

KEY_CONTEXT = b"datahub dashboard session v1"
"""The session key is ``HMAC-SHA256(platform secret, KEY_CONTEXT)``: see :func:`session_key`."""

SESSION_COOKIE = "datahub_dashboard"
LOGIN_COOKIE = "datahub_dashboard_login"
SESSION_LIFETIME = timedelta(hours=8)
LOGIN_LIFETIME = timedelta(hours=1)  # between opening the sign-in form and sending it
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def session_key(secret: bytes) -> bytes:
    """The dashboard's signing key, derived from the platform secret (``settings.secret_key``)."""
    return derive_key(secret, KEY_CONTEXT)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose it is, until when (Unix seconds), and its random nonce."""

    client_id: str
    expires_at: int
    nonce: str


class Sessions:
    """Issues and reads session cookies and their CSRF tokens."""

    def __init__(
        self,
        secret: bytes,
        lifetime: timedelta = SESSION_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = session_key(secret)
        self.lifetime = lifetime
        self._clock = clock

    def _mac(self, purpose: bytes, payload: bytes) -> str:
        return _b64(hmac.new(self._key, purpose + b"|" + payload, hashlib.sha256).digest())

    def issue(self, client_id: str) -> tuple[str, Session]:
        """A new session for ``client_id``: the cookie value and what it holds."""
        if not _CLIENT_ID.match(client_id):
            raise ValueError(f"not a client id: {client_id!r}")
        session = Session(
            client_id, int(self._clock() + self.lifetime.total_seconds()), secrets.token_urlsafe(16)
        )
        payload = f"{session.client_id}|{session.expires_at}|{session.nonce}".encode("ascii")
        return f"{_b64(payload)}.{self._mac(b'session', payload)}", session

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None when it is missing, forged, altered or expired."""
        if not cookie or len(cookie) > 400 or cookie.count(".") != 1:
            return None
        encoded, mac = cookie.split(".")
        try:
            payload = _unb64(encoded)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(b"session", payload)):
            return None
        parts = payload.decode("ascii", errors="replace").split("|")
        if len(parts) != 3 or not _CLIENT_ID.match(parts[0]) or not parts[1].isdigit():
            return None
        session = Session(parts[0], int(parts[1]), parts[2])
        return session if session.expires_at > self._clock() else None

    def csrf_token(self, session: Session) -> str:
        """The token every state-changing form of this session carries."""
        return self._mac(b"csrf", session.nonce.encode("ascii"))

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    @staticmethod
    def login_nonce() -> str:
        """The nonce of one sign-in form, kept in :data:`LOGIN_COOKIE` until the form is sent."""
        return secrets.token_urlsafe(16)

    def login_token(self, nonce: str) -> str:
        return self._mac(b"login", nonce.encode("utf-8"))

    def login_ok(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(str(token), self.login_token(str(nonce)))


def signed_in(store: MetadataStore, session: Session) -> Principal | None:
    """The client behind a session, read again on every request: None once it is disabled or gone."""
    with store.session() as s:
        row = s.scalars(select(Client).where(Client.id == session.client_id)).first()
        if row is None or row.disabled_at is not None:
            return None
        return Principal(row.id, row.name, Role(row.role), row.department, row.rate_limit)
