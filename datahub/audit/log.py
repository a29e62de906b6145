"""The tamper-evident audit log: every data read of the sharing API and every grant decision, in a chain.

Each record of ``audit_log`` carries ``prev_hash`` (the previous record's ``hash``; 64 zeros for seq 1)
and ``hash = HMAC-SHA256(key, prev_hash || canonical JSON of the record's fields)``. Editing a record
changes its hash; deleting, inserting or moving one breaks the ``seq`` run or the ``prev_hash`` links;
and because the hash is keyed, someone who can write the database but does not hold the key cannot
recompute a consistent chain after an edit. :meth:`AuditLog.verify` walks the chain and names the
first bad record.

The chain alone cannot show that records were cut off its end (the shorter chain is still consistent).
The *anchor* covers that: a small file (``var/audit/HEAD``) holding the seq and hash of the end of the
log, signed with the key, moved forward after every append (by :class:`AuditWriter` at most every
``anchor_interval``, 0.1 s, while it is busy). ``verify`` checks that the log still reaches the
anchored record and that this record still has the anchored hash.

What the anchor protects against: someone who can write the database but not the anchor file (keep it
on other storage or under other permissions), or who can write both but holds neither the key (an
anchor they write is not signed) nor an old copy of the anchor. What it does not protect against:
anyone holding the key (they can rewrite log and anchor alike); replaying an old anchor file together
with a log cut back to that point; records appended after the anchor was last moved (a process killed
between its commit and its anchor write leaves the anchor a little behind: the log is then longer
than the anchor, which verifies). A deleted or damaged anchor is not silently recreated: verify
reports it until an operator has looked at the log and run ``reanchor``.

The *genesis marker* covers the log that disappears whole (every record and the anchor deleted): a
row of its own table ``audit_genesis``, written in the transaction of the first append, holding the
hash of record 1 and when it was written, signed with the key. Once it exists an empty log, a log whose
record 1 is another one, or a missing marker beside a non-empty log fails ``verify``.

Appends are serialised: a lock per database in this process, and in the database a write transaction
taken before anything is read (SQLite: ``BEGIN IMMEDIATE`` on a dedicated engine, entered under a file
lock beside the database so that processes queue without SQLite's polling; Postgres:
``pg_advisory_xact_lock``), so the read of the last seq and hash and the insert of the new records are
one atomic step, from any number of threads and processes.

:class:`AuditWriter` is the group-commit front for the API's hot path: a background thread appends
what is queued in batches; ``record(entry, wait=True)`` (or ``submit``) returns once the batch holding
the entry is committed, so a read is in the log before its rows leave.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    type_coerce,
)
from sqlalchemy.exc import DBAPIError

from datahub.errors import DatahubError
from datahub.metadata.models import AuditRecord
from datahub.metadata.store import MetadataStore
from datahub.settings import derive_key

if TYPE_CHECKING:
    from datahub.platform import Platform

try:  # POSIX: an inter-process lock around the anchor file's read-compare-replace
    import fcntl
except ImportError:  # pragma: no cover - Windows: the anchor is then guarded within one process only
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record (seq 1)."""

KEY_CONTEXT = b"datahub audit log v1"
"""The audit key is ``HMAC-SHA256(platform secret, KEY_CONTEXT)``: see :func:`audit_key`."""

ANCHOR_CONTEXT = b"datahub audit anchor v1\n"

GENESIS_CONTEXT = b"datahub audit genesis v1\n"

# Postgres: the transaction-level advisory lock every append takes (a fixed 64-bit number of our own).
PG_LOCK_ID = int.from_bytes(hashlib.sha256(b"datahub audit_log append").digest()[:8], "big", signed=True)

HASHED_FIELDS = (
    "seq",
    "at",
    "client_id",
    "client_name",
    "role",
    "action",
    "view",
    "columns",
    "filter",
    "rows",
    "purpose",
    "detail",
)
"""The fields of a record that go into its canonical JSON (everything but ``prev_hash`` and ``hash``)."""

RECORD_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")

# Length limits of the string columns (models.AuditRecord); Postgres enforces them, SQLite does not.
_MAX_LENGTHS = {"client_id": 40, "client_name": 100, "role": 20, "action": 40, "view": 100}

_TABLE = cast(Table, AuditRecord.__table__)
_COLUMNS = _TABLE.c

GENESIS_METADATA = MetaData()
"""The audit module's own table, kept apart from ``Base.metadata`` (which every ``MetadataStore`` creates
whether or not this module was imported): :class:`AuditLog` creates it when it opens a database."""

GENESIS_TABLE = Table(
    "audit_genesis",
    GENESIS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1: one marker per log
    Column("begun_at", String(40), nullable=False),  # when record 1 was written, ISO-8601 UTC
    Column("first_hash", String(64), nullable=False),  # the hash of record 1
    Column("mac", String(64), nullable=False),  # HMAC(key, GENESIS_CONTEXT || canonical JSON of the two)
)
"""The genesis marker: one row, written with record 1, that says a log was begun and with which record.
It is not in ``audit_log`` (deleting the records does not delete it) nor in the anchor file."""


class AuditWriteError(DatahubError):
    """Records could not be appended: raised to the caller waiting for them (``record(…, wait=True)``,
    ``submit``) and, for records nobody waited for, by ``AuditWriter.flush()``/``close()``. The API
    answers 503: a read whose record cannot be written is not served."""

    code = "audit_write_failed"
    http_status = 503


def audit_key(secret: bytes) -> bytes:
    """The audit log's key, derived from the platform secret (``settings.secret_key``) in one way:
    ``HMAC-SHA256(secret, b"datahub audit log v1")``. A separate derived key keeps the audit chain
    from sharing raw key material with the pseudonyms; changing the secret makes the existing log
    unverifiable with the new key."""
    return derive_key(secret, KEY_CONTEXT)


# --- canonical form: defined once, used by append and verify alike -----------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8 with ``ensure_ascii=False``, no NaN or infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def utc(at: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def format_time(at: datetime) -> str:
    """ISO-8601 in UTC with microseconds: ``2025-03-01T08:30:00.000000+00:00``."""
    return utc(at).isoformat(timespec="microseconds")


def record_hash(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    """``HMAC-SHA256(key, prev_hash || canonical JSON of the fields)`` as 64 hex digits. ``at`` may be
    a datetime (formatted by :func:`format_time`) or that string already."""
    body = {name: fields[name] for name in HASHED_FIELDS}
    if isinstance(body["at"], datetime):
        body["at"] = format_time(body["at"])
    message = prev_hash.encode("utf-8") + canonical_json(body)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What a caller supplies for one record; ``seq``, ``prev_hash`` and ``hash`` are assigned by
    :meth:`AuditLog.append`. ``at`` defaults to the moment the entry is made (not when it is written).

    ``action``: ``read``, ``export``, ``event``, ``open311``, ``grant.request``, ``grant.approve``, …;
    ``columns``: the columns returned; ``filter``: the filter as the caller gave it; ``rows``: rows
    returned; ``detail``: anything else as JSON (grant id, snapshot version, status, …).

    An entry is checked when made (lengths, JSON-serialisable ``detail``), so a bad one fails in the
    caller and not later in the write-behind thread."""

    action: str
    client_id: str | None = None
    client_name: str | None = None
    role: str | None = None
    view: str | None = None
    columns: Sequence[str] | None = None
    filter: str | None = None
    rows: int | None = None
    purpose: str | None = None
    detail: dict[str, Any] | None = None
    at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if not isinstance(self.action, str) or not self.action:
            raise ValueError("an audit entry needs an action")
        for name, limit in _MAX_LENGTHS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise ValueError(f"audit entry {name} must be a string of at most {limit} characters")
        for name in ("filter", "purpose"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"audit entry {name} must be a string")
        if self.rows is not None and (isinstance(self.rows, bool) or not isinstance(self.rows, int)):
            raise ValueError("audit entry rows must be an integer")
        if not isinstance(self.at, datetime):
            raise ValueError("audit entry at must be a datetime")
        object.__setattr__(self, "at", utc(self.at))
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns):
                raise ValueError("audit entry columns must be a list of column names")
            object.__setattr__(self, "columns", list(self.columns))
        if self.detail is not None:
            if not isinstance(self.detail, dict):
                raise ValueError("audit entry detail must be a dict")
            try:
                # What is stored is what JSON gives back (tuples become lists, keys strings): hash that.
                normal = json.loads(json.dumps(self.detail, ensure_ascii=False, allow_nan=False))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"audit entry detail is not JSON: {exc}") from None
            object.__setattr__(self, "detail", normal)


@dataclass(frozen=True)
class Verification:
    """The result of :meth:`AuditLog.verify`."""

    ok: bool
    checked: int  # records read and found good before the first bad one (all of them when ok)
    last_seq: int  # the last seq of the log (0 when empty), as far as it was read
    first_bad_seq: int | None = None
    reason: str | None = None
    anchor_seq: int | None = None
    last_hash: str | None = None  # the hash of record last_seq

    @property
    def message(self) -> str:
        if self.ok:
            anchored = f", anchored at seq {self.anchor_seq}" if self.anchor_seq is not None else ""
            return f"audit log intact: {self.checked} records{anchored}"
        if self.first_bad_seq is None:
            return f"audit log not verified: {self.reason} (the chain of {self.checked} records is intact)"
        return (
            f"audit log broken: record {self.first_bad_seq}: {self.reason} "
            f"({self.checked} records before it verify)"
        )


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str


class AnchorError(Exception):
    """The anchor file exists but cannot be trusted (unreadable, or not signed with the audit key)."""


@dataclass(frozen=True)
class Genesis:
    """The genesis marker: the log was begun at ``begun_at`` with a record 1 whose hash is ``first_hash``."""

    begun_at: str
    first_hash: str


class GenesisError(Exception):
    """The genesis marker exists but cannot be trusted (not signed with the audit key, or several)."""


# --- one lock per database within the process --------------------------------------------------------

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _process_lock(engine: Engine) -> threading.Lock:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        name = "sqlite:" + os.path.realpath(url.database)
    else:
        name = url.render_as_string(hide_password=False)
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(name, threading.Lock())


def _sqlite_writer_engine(store: MetadataStore) -> Engine:
    """A separate engine for appends whose every transaction starts with ``BEGIN IMMEDIATE``.

    pysqlite's own transaction handling begins a *deferred* transaction at the first INSERT; a
    transaction that reads (the last seq) and then writes cannot take the write lock when another
    connection committed after its read, and fails at once with 'database is locked'. So the driver's
    handling is switched off (``isolation_level = None``) on this engine's connections only and the
    transaction begun explicitly, taking the write lock before the read (waiting up to busy_timeout)."""
    url = store.engine.url
    database = url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database or url.query.get("mode") == "memory":
        raise ValueError("the audit log needs an SQLite database file (not an in-memory database)")
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block (none where there is no fcntl)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _create_genesis_table(engine: Engine) -> None:
    try:
        GENESIS_METADATA.create_all(engine)
    except DBAPIError:
        # Another process created the table between our check and our CREATE: check again.
        GENESIS_METADATA.create_all(engine)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _raw_columns() -> list[Any]:
    """The table's columns, read without SQLAlchemy's conversions for ``at``, ``columns`` and
    ``detail``: a tampered value that does not parse must become a finding, not an exception."""
    raw = {"at", "columns", "detail"}
    return [
        type_coerce(_COLUMNS[name], Text).label(name) if name in raw else _COLUMNS[name]
        for name in RECORD_FIELDS
    ]


class AuditLog:
    """The audit log in the metadata database, keyed with ``key`` (see :func:`audit_key`) and anchored
    in the file ``anchor`` (``None``: no anchor, so deletions from the end go unseen).

    Thread-safe; open one per process and database (on SQLite it keeps an engine of its own for
    appends: ``close()`` it when done). ``open_audit_log(platform)`` opens the platform's."""

    def __init__(self, store: MetadataStore, key: bytes, anchor: Path | None = None) -> None:
        if not key:
            raise ValueError("the audit log needs a key")
        self.store = store
        self.key = key
        self.anchor = Path(anchor) if anchor is not None else None
        self._dialect = store.engine.dialect.name
        self._write_engine = _sqlite_writer_engine(store) if self._dialect == "sqlite" else store.engine
        self._lock = _process_lock(store.engine)
        # SQLite: appends of several processes queue on a file lock beside the database, woken as soon
        # as it is free, rather than in SQLite's busy handler, which polls with sleeps of up to 100 ms
        # (a tail of hundreds of milliseconds when API processes append many times a second).
        database = store.engine.url.database
        self._append_lock_path = (
            Path(database + ".audit-lock") if self._dialect == "sqlite" and database else None
        )
        self._append_lock_fd: int | None = None
        _create_genesis_table(store.engine)

    def close(self) -> None:
        """Closes the connections of the append engine (the store's engine stays open)."""
        if self._write_engine is not self.store.engine:
            self._write_engine.dispose()
        with self._lock:
            if self._append_lock_fd is not None:
                self._close_lock_fd()
                self._append_lock_fd = None

    @contextlib.contextmanager
    def _append_file_lock(self) -> Iterator[None]:
        """The inter-process lock of appends (SQLite on POSIX; called with ``self._lock`` held)."""
        if self._append_lock_path is None or fcntl is None:  # Postgres: the advisory lock
            yield
            return
        if self._append_lock_fd is None:
            self._append_lock_fd = os.open(self._append_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._close_lock_fd = weakref.finalize(self, os.close, self._append_lock_fd)
        fcntl.flock(self._append_lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._append_lock_fd, fcntl.LOCK_UN)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- append -------------------------------------------------------------------------------------

    def append(
        self,
        entries: Iterable[AuditEntry],
        *,
        committed: Callable[[list[int]], None] | None = None,
        move_anchor: bool = True,
    ) -> list[int]:
        """Writes the entries as the next records, in order, in one transaction; returns their seqs.

        ``committed`` is called with the seqs as soon as the transaction is committed, before the
        anchor is moved (what a caller waiting for the records needs is the commit). With
        ``move_anchor=False`` the anchor stays where it is (a log longer than its anchor verifies): for
        a writer that moves it once for several appends."""
        if isinstance(entries, AuditEntry):
            entries = [entries]
        batch = list(entries)
        if not batch:
            return []
        for entry in batch:
            if not isinstance(entry, AuditEntry):
                raise TypeError(f"append takes AuditEntry objects, not {type(entry).__name__}")
        with self._lock:
            with self._append_file_lock(), self._write_engine.connect() as conn:
                if self._dialect == "postgresql":
                    # READ COMMITTED, so the read below sees what was committed while we waited.
                    conn.execution_options(isolation_level="READ COMMITTED")
                    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
                # On SQLite the begin hook has taken the write lock by now (autobegin, BEGIN IMMEDIATE).
                last = conn.execute(
                    select(_COLUMNS.seq, _COLUMNS.hash).order_by(_COLUMNS.seq.desc()).limit(1)
                ).first()
                before_seq, prev_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
                before = Anchor(before_seq, prev_hash)
                rows = []
                seq = before_seq
                for entry in batch:
                    seq += 1
                    row: dict[str, Any] = {
                        "seq": seq,
                        "at": entry.at,
                        "client_id": entry.client_id,
                        "client_name": entry.client_name,
                        "role": entry.role,
                        "action": entry.action,
                        "view": entry.view,
                        "columns": entry.columns,
                        "filter": entry.filter,
                        "rows": entry.rows,
                        "purpose": entry.purpose,
                        "detail": entry.detail,
                    }
                    row["prev_hash"] = prev_hash
                    row["hash"] = prev_hash = record_hash(self.key, prev_hash, row)
                    row["at"] = entry.at.replace(tzinfo=None)  # stored as naive UTC
                    rows.append(row)
                conn.execute(insert(_TABLE), rows)
                if before_seq == 0:
                    self._write_genesis(conn, rows[0])
                conn.commit()
            seqs = list(range(before_seq + 1, seq + 1))
            if committed is not None:
                committed(seqs)
            # The append of record 1 always anchors: a missing anchor is created only for an empty log.
            if (move_anchor or before_seq == 0) and self.anchor is not None and self._anchor_holds(before):
                self._move_anchor(Anchor(seq, prev_hash))
        return seqs

    def advance_anchor(self) -> None:
        """Moves the anchor to the end of the log if it still holds (see ``append(move_anchor=False)``)."""
        if self.anchor is None:
            return
        with self._lock:
            end = self.head()
            if end is not None and self._anchor_holds(end):
                self._move_anchor(end)

    # --- the genesis marker -------------------------------------------------------------------------

    def _genesis_mac(self, genesis: Genesis) -> str:
        message = GENESIS_CONTEXT + canonical_json(
            {"begun_at": genesis.begun_at, "first_hash": genesis.first_hash}
        )
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def _write_genesis(self, conn: Connection, first: dict[str, Any]) -> None:
        """Inside the append that writes record 1: the marker, unless one is there already (a log that
        was emptied and begun again keeps the old marker, so verify keeps reporting it)."""
        if conn.execute(select(func.count()).select_from(GENESIS_TABLE)).scalar_one():
            log.error("audit log begun again over an existing genesis marker: marker kept (see verify)")
            return
        genesis = Genesis(format_time(_utcnow()), str(first["hash"]))
        conn.execute(
            insert(GENESIS_TABLE).values(
                id=1, begun_at=genesis.begun_at, first_hash=genesis.first_hash, mac=self._genesis_mac(genesis)
            )
        )

    def read_genesis(self) -> Genesis | None:
        """The genesis marker, or None when there is none (a log never written to, or a deleted marker);
        raises :class:`GenesisError` when it is not signed with this log's key."""
        columns = GENESIS_TABLE.c
        with self.store.engine.connect() as conn:
            found = conn.execute(
                select(columns.begun_at, columns.first_hash, columns.mac).order_by(columns.id).limit(2)
            ).all()
        if not found:
            return None
        if len(found) > 1:
            raise GenesisError("the audit genesis marker is not one row (audit_genesis edited)")
        begun_at, first_hash, mac = (str(value) for value in found[0])
        genesis = Genesis(begun_at, first_hash)
        if not hmac.compare_digest(mac.encode(), self._genesis_mac(genesis).encode()):
            raise GenesisError(
                "the audit genesis marker is not signed with the audit key (audit_genesis edited)"
            )
        return genesis

    def _replace_genesis(self, first_hash: str) -> None:
        """For ``reanchor``: a marker for the log as it is now (record 1 with ``first_hash``)."""
        genesis = Genesis(format_time(_utcnow()), first_hash)
        with self._lock, self._write_engine.connect() as conn:
            conn.execute(GENESIS_TABLE.delete())
            conn.execute(
                insert(GENESIS_TABLE).values(
                    id=1, begun_at=genesis.begun_at, first_hash=first_hash, mac=self._genesis_mac(genesis)
                )
            )
            conn.commit()

    # --- the anchor ---------------------------------------------------------------------------------

    def _anchor_mac(self, seq: int, hash_: str) -> str:
        message = ANCHOR_CONTEXT + canonical_json({"hash": hash_, "seq": seq})
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def read_anchor(self) -> Anchor | None:
        """The anchor, or None when there is no anchor file; raises :class:`AnchorError` when the file
        cannot be read or is not signed with this log's key."""
        if self.anchor is None or not self.anchor.exists():
            return None
        try:
            data = json.loads(self.anchor.read_text(encoding="utf-8"))
            seq, hash_, mac = int(data["seq"]), str(data["hash"]), str(data["mac"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnchorError(f"the anchor file {self.anchor} cannot be read ({exc})") from None
        if not hmac.compare_digest(mac.encode(), self._anchor_mac(seq, hash_).encode()):
            raise AnchorError(f"the anchor file {self.anchor} is not signed with the audit key (edited)")
        return Anchor(seq, hash_)

    def write_anchor(self, anchor: Anchor) -> None:
        """Replaces the anchor file atomically (temporary file, fsync, rename)."""
        assert self.anchor is not None
        self.anchor.parent.mkdir(parents=True, exist_ok=True)
        body = {"seq": anchor.seq, "hash": anchor.hash, "mac": self._anchor_mac(anchor.seq, anchor.hash)}
        tmp = self.anchor.with_name(f".{self.anchor.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(body) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.anchor)
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _anchor_file_lock(self) -> Iterator[None]:
        assert self.anchor is not None
        self.anchor.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.anchor.with_name(self.anchor.name + ".lock")):
            yield

    def _anchor_holds(self, before: Anchor) -> bool:
        """Whether the anchor still matches the log as this append found it (``before``: the seq and
        hash of its last record then; looked at after the append's commit, under the process's append
        lock): a missing anchor only for an empty log, else a readable, signed anchor that names that
        record or one still there with the anchored hash. When it does not hold, the records are
        still written but the anchor is left as it is, so verify keeps reporting it: a log cut back
        and appended to again must not carry its anchor past the cut (the anchored record is then
        gone, or another one)."""
        try:
            current = self.read_anchor()
        except AnchorError as exc:
            log.error("audit anchor not moved: %s", exc)
            return False
        except OSError as exc:
            log.error("audit anchor not moved: %s", exc)
            return False
        if current is None:
            if before.seq == 0:
                return True
            log.error("audit anchor %s is missing: not recreated (see `reanchor`)", self.anchor)
            return False
        if current == before:  # the anchor named the end of the log as the append's transaction read it
            return True
        with self.store.engine.connect() as conn:
            anchored = conn.execute(select(_COLUMNS.hash).where(_COLUMNS.seq == current.seq)).scalar()
        if anchored is None:
            log.error(
                "audit log ends at seq %d but the anchor says %d: anchor not moved", before.seq, current.seq
            )
            return False
        if anchored != current.hash:
            log.error("audit record %d does not have the anchored hash: anchor not moved", current.seq)
            return False
        return True

    def _move_anchor(self, new: Anchor) -> None:
        """Moves the anchor forward to ``new``, never back (other processes append too)."""
        try:
            with self._anchor_file_lock():
                try:
                    current = self.read_anchor()
                except AnchorError as exc:
                    log.error("audit anchor not moved: %s", exc)
                    return
                if current is not None and current.seq >= new.seq:
                    return
                self.write_anchor(new)
        except OSError:
            # The records are committed: a failed anchor write leaves the anchor behind, which verifies.
            log.exception("could not write the audit anchor %s", self.anchor)

    def reanchor(self) -> Verification:
        """Verifies the chain (ignoring the anchor) and, when it is intact, anchors its current end and
        writes a genesis marker if it has none (or one not signed with the key). For an operator after
        a lost or broken anchor file or marker: it accepts the log as it is now. It does not accept a log
        that its genesis marker shows to have been deleted (empty, or begun again with another record 1)."""
        try:
            genesis = self.read_genesis()
        except GenesisError:
            genesis, unsigned = None, True
        else:
            unsigned = False
        result = self._verify_chain(chunk_size=5000, anchor=None, genesis=genesis)
        if not result.ok:
            return result
        if result.last_seq == 0:
            if genesis is not None or unsigned:
                return self._emptied(genesis, "; reanchor does not accept a deleted log")
        elif genesis is None:
            with self.store.engine.connect() as conn:
                first = conn.execute(select(_COLUMNS.hash).where(_COLUMNS.seq == 1)).scalar_one()
            self._replace_genesis(str(first))
        if self.anchor is None:
            return result
        with self._anchor_file_lock():
            if result.last_hash is None:  # an empty log: the next append (seq 1) creates the anchor
                self.anchor.unlink(missing_ok=True)
                return result
            # Records appended since the walk are after this point: a log longer than its anchor verifies.
            self.write_anchor(Anchor(result.last_seq, result.last_hash))
        return Verification(
            True, result.checked, result.last_seq, anchor_seq=result.last_seq, last_hash=result.last_hash
        )

    @staticmethod
    def _emptied(genesis: Genesis | None, more: str = "") -> Verification:
        begun = f"says it was begun at {genesis.begun_at}" if genesis else "is there"
        return Verification(
            False,
            0,
            0,
            1,
            f"the log is empty but its genesis marker {begun} (every record deleted){more}",
        )

    def head(self) -> Anchor | None:
        """The seq and hash of the last record, or None for an empty log."""
        with self.store.engine.connect() as conn:
            last = conn.execute(
                select(_COLUMNS.seq, _COLUMNS.hash).order_by(_COLUMNS.seq.desc()).limit(1)
            ).first()
        return Anchor(int(last[0]), str(last[1])) if last else None

    # --- verify -------------------------------------------------------------------------------------

    def verify(self, chunk_size: int = 5000) -> Verification:
        """Walks the whole log in seq order, ``chunk_size`` records at a time, and stops at the first
        bad record: a gap or an out-of-order seq, a ``prev_hash`` that is not the previous record's
        hash, a hash that does not match the record's fields under the key, a record that does not
        parse, a record 1 that is not the one the genesis marker names; then checks that a log which
        was begun (it has a genesis marker) is not empty, the end of the log against the anchor, and
        that a non-empty log has its genesis marker."""
        try:
            anchor = self.read_anchor()
        except AnchorError as exc:
            anchor_problem: str | None = str(exc)
            anchor = None
        else:
            anchor_problem = None
        try:
            genesis = self.read_genesis()
        except GenesisError as exc:
            genesis_problem: str | None = str(exc)
            genesis = None
        else:
            genesis_problem = None
        result = self._verify_chain(chunk_size, anchor, genesis)
        if not result.ok:
            return result
        if result.last_seq == 0 and (genesis is not None or genesis_problem is not None):
            return self._emptied(genesis)
        if genesis_problem is not None:
            return Verification(False, result.checked, result.last_seq, None, genesis_problem)
        if self.anchor is not None:
            if anchor_problem is not None:
                return Verification(False, result.checked, result.last_seq, None, anchor_problem)
            if anchor is None and result.last_seq > 0:
                return Verification(
                    False,
                    result.checked,
                    result.last_seq,
                    None,
                    f"the anchor file {self.anchor} is missing but the log has {result.last_seq} records "
                    "(anchor deleted; run reanchor once the log is known to be complete)",
                )
        if genesis is None and result.last_seq > 0:
            return Verification(
                False,
                result.checked,
                result.last_seq,
                None,
                f"the genesis marker is missing but the log has {result.last_seq} records (audit_genesis "
                "emptied, or a log begun before markers existed; run reanchor once the log is known to "
                "be complete)",
            )
        return result

    def _verify_chain(self, chunk_size: int, anchor: Anchor | None, genesis: Genesis | None) -> Verification:
        expected = 1
        prev_hash = GENESIS_HASH
        checked = 0
        anchored_hash: str | None = None
        columns = _raw_columns()
        while True:
            with self.store.engine.connect() as conn:
                chunk = conn.execute(
                    select(*columns).where(_COLUMNS.seq >= expected).order_by(_COLUMNS.seq).limit(chunk_size)
                ).all()
            for row in chunk:
                record = dict(row._mapping)
                seq = record["seq"]
                bad = self._check(record, expected, prev_hash)
                if bad is not None:
                    bad_seq, reason = bad
                    return Verification(False, checked, expected - 1, bad_seq, reason)
                if seq == 1 and genesis is not None and record["hash"] != genesis.first_hash:
                    return Verification(
                        False,
                        0,
                        0,
                        1,
                        f"not the record 1 of the genesis marker (begun at {genesis.begun_at}): the log "
                        "was deleted and begun again",
                    )
                if anchor is not None and seq == anchor.seq:
                    anchored_hash = record["hash"]
                prev_hash = record["hash"]
                checked += 1
                expected += 1
            if len(chunk) < chunk_size:
                break
        last_seq = expected - 1
        # A record with a seq below 1 sorts before seq 1 and the walk above starts at 1: look for it.
        with self.store.engine.connect() as conn:
            stray = conn.execute(select(func.min(_COLUMNS.seq)).where(_COLUMNS.seq < 1)).scalar()
        if stray is not None:
            return Verification(False, 0, last_seq, stray, f"unexpected seq {stray} (record inserted)")
        if anchor is not None:
            if last_seq < anchor.seq:
                return Verification(
                    False,
                    checked,
                    last_seq,
                    last_seq + 1,
                    f"log ends at seq {last_seq} but the anchor says {anchor.seq} "
                    "(records deleted from the end)",
                    anchor.seq,
                )
            if anchored_hash != anchor.hash:
                return Verification(
                    False,
                    anchor.seq - 1,
                    last_seq,
                    anchor.seq,
                    "hash differs from the anchored hash (log rewritten from here on)",
                    anchor.seq,
                )
        return Verification(
            True,
            checked,
            last_seq,
            anchor_seq=anchor.seq if anchor else None,
            last_hash=prev_hash if last_seq else None,
        )

    def _check(self, record: dict[str, Any], expected: int, prev_hash: str) -> tuple[int, str] | None:
        seq = record["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            return expected, f"seq {seq!r} is not a number (record edited)"
        if seq > expected:
            return expected, (
                f"gap in sequence (record deleted): seq {expected} is missing, the next record is {seq}"
            )
        if seq < expected:  # pragma: no cover - the query starts at `expected` and seq is unique
            return seq, f"unexpected seq {seq} (record inserted)"
        if record["prev_hash"] != prev_hash:
            return seq, (
                "prev_hash does not match the previous record's hash (record inserted, deleted or moved)"
            )
        try:
            fields = {name: record[name] for name in HASHED_FIELDS}
            fields["at"] = format_time(_as_datetime(record["at"]))
            fields["columns"] = _as_json(record["columns"])
            fields["detail"] = _as_json(record["detail"])
            computed = record_hash(self.key, record["prev_hash"], fields)
        except (TypeError, ValueError) as exc:
            return seq, f"record does not parse (record edited): {exc}"
        if not hmac.compare_digest(str(record["hash"]).encode(), computed.encode()):
            return seq, "hash mismatch (record edited)"
        return None

    # --- query --------------------------------------------------------------------------------------

    def query(
        self,
        *,
        client_id: str | None = None,
        view: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Records newest first (highest seq first) as plain JSON-ready dicts (``at`` as ISO-8601 UTC).

        ``since`` is inclusive and ``until`` exclusive (naive datetimes are UTC). Page with ``limit``
        and ``offset``, or (stable while records arrive) pass the smallest seq of a page as
        ``before_seq`` to get the next one."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        statement = select(*_raw_columns())
        if client_id is not None:
            statement = statement.where(_COLUMNS.client_id == client_id)
        if view is not None:
            statement = statement.where(_COLUMNS.view == view)
        if action is not None:
            statement = statement.where(_COLUMNS.action == action)
        if since is not None:
            statement = statement.where(_COLUMNS.at >= utc(since).replace(tzinfo=None))
        if until is not None:
            statement = statement.where(_COLUMNS.at < utc(until).replace(tzinfo=None))
        if before_seq is not None:
            statement = statement.where(_COLUMNS.seq < before_seq)
        statement = statement.order_by(_COLUMNS.seq.desc()).limit(limit).offset(offset)
        with self.store.engine.connect() as conn:
            rows = conn.execute(statement).all()
        return [_plain(dict(row._mapping)) for row in rows]

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["at"] = format_time(_as_datetime(record["at"]))
    out["columns"] = _as_json(record["columns"])
    out["detail"] = _as_json(record["detail"])
    return out


# --- write-behind ------------------------------------------------------------------------------------


class AuditWriter:
    """Group-commit front of an :class:`AuditLog` for the API's hot path.

    One background thread appends what is queued in batches, in the order entries were recorded.
    ``record(entry, wait=True)`` enqueues and returns once the batch holding the entry is committed
    (``submit(entry)`` gives the same as a future of the record's seq, for a caller on an event loop);
    it raises :class:`AuditWriteError` when that batch could not be written, so the caller can refuse
    to answer. While anyone waits the thread does not sit out ``interval``: it writes what is queued at
    once, and what arrives meanwhile goes into the next batch, so concurrent reads share commits.

    ``record(entry)`` without ``wait`` only enqueues (write-behind, for records whose loss a crash may
    cost, such as the end of an export whose start is already committed): it is written in a batch when
    ``batch_size`` entries wait, or ``interval`` seconds after the first of them. Such entries still
    queued when the process is killed (SIGKILL, power loss) are lost; entries recorded with ``wait``
    cannot be lost that way once ``record`` has returned.

    The anchor is moved at most every ``anchor_interval`` seconds, by a batch or, when the queue is
    empty, on its own (the anchor's file write and fsync would otherwise cost each batch as much as
    its commit), and at once by ``flush()`` and ``close()``: it lags the log by about that much.

    ``flush()`` waits until everything recorded before it is written; ``close()`` flushes and stops
    the thread (also run at interpreter exit). A batch that cannot be appended is retried ``retries``
    times, then given up: its waiting callers get the error; for its other entries the error is logged
    and kept, and the next ``flush()``/``close()`` raises it as :class:`AuditWriteError`. With
    ``max_pending`` entries queued, ``record`` blocks until the thread catches up."""

    def __init__(
        self,
        log: AuditLog,
        *,
        batch_size: int = 500,
        interval: float = 0.05,
        max_pending: int = 100_000,
        retries: int = 2,
        retry_delay: float = 0.2,
        anchor_interval: float = 0.1,
    ) -> None:
        if batch_size < 1 or max_pending < batch_size:
            raise ValueError("batch_size must be at least 1 and max_pending at least batch_size")
        self.log = log
        self.batch_size = batch_size
        self.interval = interval
        self.max_pending = max_pending
        self.retries = retries
        self.retry_delay = retry_delay
        self.anchor_interval = anchor_interval
        self._anchored = 0.0  # time.monotonic() of the anchor's last move
        self._anchor_due = False  # records were appended since
        self._pending: deque[tuple[AuditEntry, Future[int] | None]] = deque()
        self._cond = threading.Condition()
        self._enqueued = 0  # entries ever recorded
        self._done = 0  # entries written or given up on
        self._flushing = 0  # flush() calls waiting
        self._waiting = 0  # queued entries whose caller waits for their commit
        self._closing = False
        self._errors: list[BaseException] = []
        self._lost = 0
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        self._atexit = lambda: _close_at_exit(ref)
        atexit.register(self._atexit)

    def record(self, entry: AuditEntry, *, wait: bool = False) -> None:
        """Queues the entry; with ``wait``, returns once it is committed (raises :class:`AuditWriteError`
        when it could not be)."""
        if wait:
            self.submit(entry).result()
        else:
            self._enqueue(entry, None)

    def submit(self, entry: AuditEntry) -> Future[int]:
        """Queues the entry and returns a future of its seq, done once its batch is committed (or with
        :class:`AuditWriteError`). ``asyncio.wrap_future`` awaits it on an event loop. Cancelling the
        future does not take the entry back."""
        done: Future[int] = Future()
        self._enqueue(entry, done)
        return done

    def _enqueue(self, entry: AuditEntry, done: Future[int] | None) -> None:
        if not isinstance(entry, AuditEntry):
            raise TypeError(f"record takes an AuditEntry, not {type(entry).__name__}")
        with self._cond:
            if self._closing:
                raise RuntimeError("the audit writer is closed")
            if done is not None and not self._thread.is_alive():
                raise AuditWriteError("the audit writer thread stopped")
            while len(self._pending) >= self.max_pending and self._thread.is_alive():
                self._cond.wait()
            self._pending.append((entry, done))
            self._enqueued += 1
            if done is not None:
                self._waiting += 1
            if done is not None or len(self._pending) == 1 or len(self._pending) >= self.batch_size:
                self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._enqueued - self._done

    def flush(self, timeout: float | None = None) -> None:
        """Waits until every entry recorded so far is written and anchored; raises
        :class:`AuditWriteError` for entries nobody waited for that the thread failed to write since
        the last flush (and forgets them)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            self._flushing += 1
            self._cond.notify_all()
            try:
                while (self._done < target or self._anchor_due) and self._thread.is_alive():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(f"audit writer: {target - self._done} entries still unwritten")
                    self._cond.wait(remaining)
            finally:
                self._flushing -= 1
            if self._done < target:
                self._errors.append(RuntimeError("the audit writer thread stopped"))
                self._lost += target - self._done
            self._raise_errors()

    def close(self, timeout: float | None = None) -> None:
        """Flushes, stops the thread and raises what flush raises. Idempotent."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"audit writer: {self.pending} entries still unwritten")
        atexit.unregister(self._atexit)
        with self._cond:
            if self._done < self._enqueued and not self._thread.is_alive():
                self._errors.append(RuntimeError("the audit writer thread stopped"))
                self._lost += self._enqueued - self._done
                self._done = self._enqueued
            self._raise_errors()

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _raise_errors(self) -> None:
        if not self._errors:
            return
        errors, lost = self._errors, self._lost
        self._errors, self._lost = [], 0
        raise AuditWriteError(
            f"the audit writer could not write {lost} records ({len(errors)} failures; first: {errors[0]!r})"
        ) from errors[0]

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._pending:
                        if self._anchor_due and (
                            self._closing
                            or self._flushing
                            or time.monotonic() >= self._anchored + self.anchor_interval
                        ):
                            break
                        if self._closing:  # nothing left
                            return
                        due = self._anchored + self.anchor_interval - time.monotonic()
                        self._cond.wait(max(due, 0) if self._anchor_due else None)
                    if not self._pending:  # idle, with the anchor behind: move it now
                        batch = []
                    else:
                        # Collect for `interval` after the first entry unless a batch is full or one waits.
                        deadline = time.monotonic() + self.interval
                        while (
                            len(self._pending) < self.batch_size
                            and not self._closing
                            and not self._flushing
                            and not self._waiting
                            and (remaining := deadline - time.monotonic()) > 0
                        ):
                            self._cond.wait(remaining)
                        batch = [
                            self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))
                        ]
                        self._waiting -= sum(1 for _, done in batch if done is not None)
                        self._cond.notify_all()  # room for blocked `record` calls
                if not batch:
                    self._advance_anchor()
                    continue
                for _, done in batch:
                    if done is not None:
                        done.set_running_or_notify_cancel()  # from now on it cannot be cancelled
                self._write(batch)
        finally:
            with self._cond:  # the thread is ending: nobody is left waiting for an entry it will not write
                stranded = list(self._pending)
                self._anchor_due = False
                self._cond.notify_all()
            for _, done in stranded:
                if done is not None and done.set_running_or_notify_cancel():
                    done.set_exception(AuditWriteError("the audit writer thread stopped"))

    def _advance_anchor(self) -> None:
        now = time.monotonic()
        try:
            self.log.advance_anchor()
        except Exception:
            log.exception("could not move the audit anchor")
        with self._cond:
            self._anchored, self._anchor_due = now, False
            self._cond.notify_all()

    def _write(self, batch: list[tuple[AuditEntry, Future[int] | None]]) -> None:
        """Appends the batch (retrying); its waiting callers are answered at the commit."""
        entries = [entry for entry, _ in batch]
        written: list[int] = []

        def committed(seqs: list[int]) -> None:
            written.extend(seqs)
            for (_, done), seq in zip(batch, seqs, strict=True):
                if done is not None and not done.cancelled():  # cancelled before the batch was taken
                    done.set_result(seq)

        # The anchor (a file replaced and fsynced) is moved at most every `anchor_interval`; `_run`
        # moves it when the queue has been empty that long. A flush or close moves it at once.
        now = time.monotonic()
        move_anchor = bool(self._flushing or self._closing) or now - self._anchored >= self.anchor_interval
        error: BaseException | None = None
        for attempt in range(self.retries + 1):
            try:
                self.log.append(entries, committed=committed, move_anchor=move_anchor)
                break
            except Exception as exc:
                if written:  # committed: what failed came after (the anchor), and is not retried
                    log.exception("audit append of %d records: failed after its commit", len(entries))
                    break
                if attempt < self.retries:
                    log.warning("audit append of %d records failed (%r); retrying", len(entries), exc)
                    time.sleep(self.retry_delay * (2**attempt))
                    continue
                log.exception("audit append of %d records failed; they are lost", len(entries))
                error = exc
        unwaited = 0
        for _, done in batch:
            if done is None:
                unwaited += 1
            elif error is not None and not done.cancelled():
                failure = AuditWriteError(f"the audit record could not be written: {error!r}")
                failure.__cause__ = error
                done.set_exception(failure)
        with self._cond:
            if error is not None and unwaited:
                self._errors.append(error)
                self._lost += unwaited
            elif error is None and move_anchor:
                self._anchored, self._anchor_due = now, False
            elif error is None:
                self._anchor_due = True
            self._done += len(batch)
            self._cond.notify_all()


def _close_at_exit(ref: weakref.ref[AuditWriter]) -> None:
    writer = ref()
    if writer is not None:
        try:
            writer.close(timeout=30)
        except Exception:
            log.exception("audit writer: records lost at exit")


# --- the platform's audit log ------------------------------------------------------------------------


def anchor_path(var: Path) -> Path:
    """Where the platform keeps the anchor: ``var/audit/HEAD``."""
    return var / "audit" / "HEAD"


def open_audit_log(platform: Platform) -> AuditLog:
    """The platform's audit log: its metadata database, the key derived from ``settings.secret_key``
    and the anchor ``var/audit/HEAD``."""
    return AuditLog(
        platform.metadata, audit_key(platform.settings.secret_key), anchor_path(platform.settings.var)
    )
