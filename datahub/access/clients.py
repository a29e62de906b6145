"""API clients: who may call the sharing API, with which role, and how their key is checked.

A key is ``dh_`` + 43 characters of ``secrets.token_urlsafe(32)`` (256 random bits). Only its SHA-256
is stored: a key that random cannot be found from its hash by guessing, so a slow password hash would
only slow down every request. ``key_prefix`` (the first 12 characters) finds the row; the hashes are
compared in constant time. The key is shown once, when the client is created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from datahub.dictionary import Dictionary
from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.errors import Conflict, InputError, NotFound
from datahub.metadata import Client, MetadataStore

KEY_PREFIX = "dh_"
PREFIX_LENGTH = 12
KEY_MAX = 200  # characters; keys made here have 46
DEFAULT_RATE_LIMIT = 200  # requests per second, with a burst of as many
_CACHE_SECONDS = 5.0  # a disabled client is refused at most this long after


class Role(StrEnum):
    steward = "steward"  # the city's big-data office: sees everything, approves grants
    department = "department"  # a data provider, bound to one department code
    consumer = "consumer"  # a consuming system (operations centre, district platform, emergency command)
    leader = "leader"  # leadership: summaries, quality and reports
    admin = "admin"  # runs the platform: clients, and everything a steward does


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, as routes see it."""

    client_id: str
    name: str
    role: Role
    department: str | None
    rate_limit: int


@dataclass(frozen=True)
class NewClient:
    client_id: str
    name: str
    role: Role
    department: str | None
    api_key: str  # shown once; only its hash is kept


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _well_formed(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) <= KEY_MAX and key.isascii()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _principal(row: Client) -> Principal:
    return Principal(row.id, row.name, Role(row.role), row.department, row.rate_limit)


class Clients:
    """Create, list, disable and authenticate clients (keys checked against their stored hash)."""

    def __init__(self, store: MetadataStore, dictionary: Dictionary) -> None:
        self.store = store
        self.dictionary = dictionary
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        role: str,
        department: str | None = None,
        *,
        rate_limit: int = DEFAULT_RATE_LIMIT,
    ) -> NewClient:
        name = name.strip()
        if not name or len(name) > 100:
            raise InputError("a client name is 1 to 100 characters", path="name")
        try:
            parsed = Role(role)
        except ValueError:
            raise InputError(f"unknown role '{role}' (roles: {', '.join(Role)})", path="role") from None
        if parsed is Role.department:
            if not department:
                raise InputError("role department needs --department CODE", path="department")
            if department not in self.dictionary.codes(DEPARTMENT_TABLE):
                raise InputError(f"unknown department '{department}'", path="department")
        elif department is not None:
            raise InputError(f"only role department takes a department, not role {role}", path="department")
        if rate_limit < 1:
            raise InputError("the rate limit is at least 1 request per second", path="rate_limit")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        client_id = "cl_" + secrets.token_hex(8)
        with self.store.session() as s:
            if s.scalar(select(Client.id).where(Client.name == name)) is not None:
                raise Conflict(f"a client named '{name}' exists already", path="name")
            s.add(
                Client(
                    id=client_id,
                    name=name,
                    role=parsed.value,
                    department=department,
                    key_prefix=key[:PREFIX_LENGTH],
                    key_hash=_hash(key),
                    rate_limit=rate_limit,
                    created_at=_now(),
                )
            )
        return NewClient(client_id, name, parsed, department, key)

    def authenticate(self, key: str) -> Principal | None:
        """The client holding ``key``, or None (unknown, malformed or disabled key).

        Results are cached for a few seconds per key, so a request does not cost a database read. A key
        that cannot be one (not ASCII, not ``dh_…``, too long) is refused before the cache, which would
        otherwise keep whatever a caller sends."""
        if not _well_formed(key):
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
        found = self._lookup(key)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now, found)
        return found

    def _lookup(self, key: str) -> Principal | None:
        digest = _hash(key)
        with self.store.session() as s:
            rows = s.scalars(select(Client).where(Client.key_prefix == key[:PREFIX_LENGTH])).all()
            for row in rows:
                if hmac.compare_digest(row.key_hash, digest) and row.disabled_at is None:
                    return _principal(row)
        return None

    def get(self, client_id: str) -> Principal:
        with self.store.session() as s:
            row = s.get(Client, client_id)
            if row is None:
                raise NotFound(f"unknown client '{client_id}'")
            return _principal(row)

    def find(self) -> list[dict[str, object]]:
        with self.store.session() as s:
            rows = s.scalars(select(Client).order_by(Client.created_at)).all()
            return [
                {
                    "client_id": r.id,
                    "name": r.name,
                    "role": r.role,
                    "department": r.department,
                    "rate_limit": r.rate_limit,
                    "created_at": r.created_at.isoformat(),
                    "disabled": r.disabled_at is not None,
                }
                for r in rows
            ]

    def disable(self, client_id: str) -> None:
        with self.store.session() as s:
            row = s.get(Client, client_id)
            if row is None:
                raise NotFound(f"unknown client '{client_id}'")
            row.disabled_at = _now()
        with self._lock:
            self._cache.clear()
