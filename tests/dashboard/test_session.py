"""Sessions of the dashboard without a browser: signed cookies, expiry, CSRF and sign-in tokens, the
session row in the metadata database (revoked by signing out, pruned once expired) and the client
re-read on every request; cookies and tokens the dashboard did not issue are no session, never an error."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from datahub.access import Clients
from datahub.audit import audit_key
from datahub.cli import app
from datahub.dashboard.session import Session, Sessions, revoke_all, session_key
from datahub.dictionary import Dictionary
from datahub.errors import NotFound
from datahub.metadata import DashboardSession, MetadataStore
from datahub.platform import Platform

SECRET = b"a-test-secret-of-the-platform"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    made = MetadataStore(f"sqlite:///{tmp_path / 'metadata.db'}")
    yield made
    made.dispose()


@pytest.fixture
def clients(store: MetadataStore, dictionary: Dictionary) -> Clients:
    return Clients(store, dictionary)


@pytest.fixture
def steward(clients: Clients) -> str:
    return clients.create("data-office", "steward").client_id


def _signed(payload: bytes, secret: bytes = SECRET) -> str:
    """A cookie over ``payload`` with a valid signature: what only the holder of the secret can make."""
    mac = hmac.new(session_key(secret), b"session|" + payload, hashlib.sha256).digest()
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{encoded}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _rows(store: MetadataStore) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(DashboardSession)) or 0)


def test_a_cookie_carries_the_client_and_its_expiry_and_reads_back(
    store: MetadataStore, steward: str
) -> None:
    clock = Clock()
    sessions = Sessions(SECRET, store, clock=clock)
    cookie, session = sessions.issue(steward)
    assert session.client_id == steward
    assert session.expires_at == int(clock.now + 8 * 3600)
    assert sessions.read(cookie) == session
    assert steward not in cookie  # encoded, and signed
    principal = sessions.signed_in(session)
    assert principal is not None and principal.client_id == steward
    with store.session() as s:  # the server keeps the nonce's hash, never the nonce
        row = s.scalars(select(DashboardSession)).one()
        assert row.client_id == steward and row.revoked_at is None
        assert session.nonce not in row.id and row.id == hashlib.sha256(session.nonce.encode()).hexdigest()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: "x" + c,  # payload changed
        lambda c: c.split(".")[0],  # no signature
        lambda c: c + ".extra",  # more parts
        lambda c: "",
        lambda c: "é" * 10 + "." + "é",  # not base64
        lambda c: c.split(".")[0] + ".é",  # a signature that is not ASCII: no TypeError
        lambda c: c.split(".")[0] + "." + "\xe9" * 43,  # latin-1 text, as a raw byte cookie reads
        lambda c: c.split(".")[0] + "." + "中" * 43,
        lambda c: "中文." + c.split(".")[1],
        lambda c: c + "\n",  # a line break after a valid cookie
        lambda c: "A" * 5000 + "." + c.split(".")[1],  # too long
        lambda c: "A." + c.split(".")[1],  # base64 of no whole byte
        lambda c: "!!!!." + c.split(".")[1],
        lambda c: c.replace(".", "..", 1),
    ],
)
def test_an_altered_cookie_is_no_session(tamper: object, store: MetadataStore, steward: str) -> None:
    sessions = Sessions(SECRET, store)
    cookie, _ = sessions.issue(steward)
    assert sessions.read(tamper(cookie)) is None  # type: ignore[operator]


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe|1900000000|AAAAAAAAAAAAAAAAAAAAAA",  # not text
        "cl_x|\u00b2\u00b3|AAAAAAAAAAAAAAAAAAAAAA".encode(),  # digits that int() refuses
        "cl_x|\u0661\u0662|AAAAAAAAAAAAAAAAAAAAAA".encode(),  # Arabic-Indic digits
        b"cl_x\n|1900000000|AAAAAAAAAAAAAAAAAAAAAA",  # a line break in the client id
        b"cl_x|1900000000|AAAAAAAAAAAAAAAAAAAAAA|more",
        b"cl_x|1900000000|short",
        b"cl_x|99999999999999999999999999|AAAAAAAAAAAAAAAAAAAAAA",
        b"",
    ],
)
def test_a_signed_cookie_of_another_shape_is_no_session(payload: bytes, store: MetadataStore) -> None:
    assert Sessions(SECRET, store).read(_signed(payload)) is None


def test_the_signing_helper_makes_what_the_dashboard_reads(store: MetadataStore) -> None:
    session = Sessions(SECRET, store).read(_signed(b"cl_x|1900000000|AAAAAAAAAAAAAAAAAAAAAA"))
    assert session == Session("cl_x", 1_900_000_000, "AAAAAAAAAAAAAAAAAAAAAA")


def test_a_cookie_expires_and_another_secret_does_not_read_it(store: MetadataStore, steward: str) -> None:
    clock = Clock()
    sessions = Sessions(SECRET, store, lifetime=timedelta(hours=8), clock=clock)
    cookie, session = sessions.issue(steward)
    clock.now += 8 * 3600 - 1
    assert sessions.read(cookie) is not None and sessions.signed_in(session) is not None
    clock.now += 1
    assert sessions.read(cookie) is None
    assert sessions.signed_in(session) is None  # the row has expired too
    assert Sessions(b"another secret", store, clock=Clock()).read(cookie) is None


def test_the_key_is_derived_from_the_platform_secret_apart_from_the_audit_key() -> None:
    assert session_key(SECRET) != audit_key(SECRET)
    assert session_key(SECRET) != SECRET
    with pytest.raises(ValueError):
        session_key(b"")


def test_csrf_tokens_are_bound_to_their_session(store: MetadataStore, steward: str) -> None:
    sessions = Sessions(SECRET, store)
    _, one = sessions.issue(steward)
    _, two = sessions.issue(steward)
    assert sessions.csrf_ok(one, sessions.csrf_token(one))
    assert not sessions.csrf_ok(one, sessions.csrf_token(two))
    assert not sessions.csrf_ok(one, None)
    assert not sessions.csrf_ok(one, "")
    forged = Session(one.client_id, one.expires_at, "guessed")
    assert not sessions.csrf_ok(one, sessions.csrf_token(forged))


HOSTILE_TOKENS = ["é", "\xe9" * 43, "中" * 43, "A" * 42 + "é", "A" * 100_000, "A" * 43 + "\n"]


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
def test_a_csrf_token_of_another_shape_is_refused(token: str, store: MetadataStore, steward: str) -> None:
    sessions = Sessions(SECRET, store)
    _, session = sessions.issue(steward)
    assert not sessions.csrf_ok(session, token)
    assert not sessions.csrf_ok(session, sessions.csrf_token(session) + "é")


def test_sign_in_tokens_are_bound_to_the_form_nonce(store: MetadataStore) -> None:
    sessions = Sessions(SECRET, store)
    nonce = sessions.login_nonce()
    token = sessions.login_token(nonce)
    assert sessions.login_ok(nonce, token)
    assert not sessions.login_ok(sessions.login_nonce(), token)
    assert not sessions.login_ok(None, token)
    assert not sessions.login_ok(nonce, None)


@pytest.mark.parametrize("token", HOSTILE_TOKENS)
def test_a_sign_in_token_or_nonce_of_another_shape_is_refused(token: str, store: MetadataStore) -> None:
    sessions = Sessions(SECRET, store)
    nonce = sessions.login_nonce()
    assert not sessions.login_ok(nonce, token)
    assert not sessions.login_ok(token, sessions.login_token(nonce))
    assert not sessions.login_ok(token, token)


def test_the_client_is_read_again_and_a_disabled_one_has_no_session(
    store: MetadataStore, clients: Clients, steward: str
) -> None:
    sessions = Sessions(SECRET, store)
    _, session = sessions.issue(steward)
    principal = sessions.signed_in(session)
    assert principal is not None and (principal.name, principal.role.value) == ("data-office", "steward")
    clients.disable(steward)
    assert sessions.signed_in(session) is None
    assert sessions.signed_in(Session("cl_unknown", session.expires_at, session.nonce)) is None


def test_a_revoked_session_is_over_though_its_cookie_is_still_signed_and_unexpired(
    store: MetadataStore, steward: str
) -> None:
    sessions = Sessions(SECRET, store)
    cookie, session = sessions.issue(steward)
    _, other = sessions.issue(steward)  # the same steward in another browser
    sessions.revoke(session)
    assert sessions.read(cookie) == session  # signature and expiry still hold
    assert sessions.signed_in(session) is None
    assert sessions.signed_in(other) is not None
    sessions.revoke(session)  # twice is harmless


def test_a_session_the_server_never_issued_is_over(store: MetadataStore, steward: str) -> None:
    """A cookie signed with the platform secret (say, by an earlier release that kept no rows) but
    without its row is not a session."""
    sessions = Sessions(SECRET, store)
    cookie = _signed(f"{steward}|1900000000|AAAAAAAAAAAAAAAAAAAAAA".encode())
    session = sessions.read(cookie)
    assert session is not None and sessions.signed_in(session) is None


def test_every_session_of_a_client_can_be_revoked(
    store: MetadataStore, clients: Clients, steward: str
) -> None:
    sessions = Sessions(SECRET, store)
    mine = [sessions.issue(steward)[1] for _ in range(3)]
    sessions.revoke(mine[0])
    admin = clients.create("platform-admin", "admin").client_id
    _, theirs = sessions.issue(admin)
    assert revoke_all(store, steward) == 2  # the one signed out already is not counted again
    assert all(sessions.signed_in(s) is None for s in mine)
    assert sessions.signed_in(theirs) is not None
    assert revoke_all(store, steward) == 0
    with pytest.raises(NotFound):
        revoke_all(store, "cl_unknown")


def test_expired_sessions_are_pruned_when_someone_signs_in(store: MetadataStore, steward: str) -> None:
    clock = Clock()
    sessions = Sessions(SECRET, store, lifetime=timedelta(hours=8), clock=clock)
    old = [sessions.issue(steward)[1] for _ in range(3)]
    sessions.revoke(old[0])
    clock.now += 4 * 3600
    _, recent = sessions.issue(steward)
    assert _rows(store) == 4
    clock.now += 4 * 3600  # the first three have expired, the recent one has not
    _, newest = sessions.issue(steward)
    assert _rows(store) == 2
    assert sessions.signed_in(recent) is not None and sessions.signed_in(newest) is not None


def test_a_database_made_before_sessions_were_kept_gets_their_table(
    tmp_path: Path, dictionary: Dictionary
) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    old = MetadataStore(url)
    with old.engine.begin() as conn:
        conn.execute(text("DROP TABLE dashboard_sessions"))
    old.dispose()
    store = MetadataStore(url)
    try:
        steward = Clients(store, dictionary).create("data-office", "steward").client_id
        sessions = Sessions(SECRET, store)
        _, session = sessions.issue(steward)
        assert sessions.signed_in(session) is not None
    finally:
        store.dispose()


def test_the_console_signs_a_client_out_of_every_dashboard_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    platform = Platform()
    try:
        made = Clients(platform.metadata, platform.dictionary).create("data-office", "steward")
        steward = made.client_id
        sessions = Sessions(platform.settings.secret_key, platform.metadata)
        signed = [sessions.issue(steward)[1] for _ in range(2)]
        done = CliRunner().invoke(app, ["client", "sign-out", steward])
        assert done.exit_code == 0, done.output
        assert "2" in done.output
        assert all(sessions.signed_in(s) is None for s in signed)
        # Signing out is not disabling: the key still signs in.
        assert Clients(platform.metadata, platform.dictionary).authenticate(made.api_key) is not None
        unknown = CliRunner().invoke(app, ["client", "sign-out", "cl_unknown"])
        assert unknown.exit_code == 2 and "[not_found]" in unknown.output
    finally:
        platform.metadata.dispose()


def test_sessions_on_postgres(postgres_database: str, dictionary: Dictionary) -> None:
    store = MetadataStore(postgres_database)
    try:
        steward = Clients(store, dictionary).create("data-office", "steward").client_id
        clock = Clock(time.time())  # revoke_all reads the real clock
        sessions = Sessions(SECRET, store, lifetime=timedelta(hours=8), clock=clock)
        _, first = sessions.issue(steward)
        _, second = sessions.issue(steward)
        assert sessions.signed_in(first) is not None
        sessions.revoke(first)
        assert sessions.signed_in(first) is None and sessions.signed_in(second) is not None
        clock.now += 9 * 3600
        _, third = sessions.issue(steward)  # prunes the first two
        assert _rows(store) == 1
        assert revoke_all(store, steward) == 1
        assert sessions.signed_in(third) is None
    finally:
        store.dispose()
