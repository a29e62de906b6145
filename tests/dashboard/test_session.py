"""Sessions of the dashboard without a browser: signed cookies, expiry, CSRF and sign-in tokens, and the
client re-read on every request."""

from __future__ import annotations

from datetime import timedelta

import pytest

from datahub.access import Clients
from datahub.audit import audit_key
from datahub.dashboard.session import Session, Sessions, session_key, signed_in
from datahub.platform import Platform

SECRET = b"a-test-secret-of-the-platform"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_cookie_carries_the_client_and_its_expiry_and_reads_back() -> None:
    clock = Clock()
    sessions = Sessions(SECRET, clock=clock)
    cookie, session = sessions.issue("cl_0123456789abcdef")
    assert session.client_id == "cl_0123456789abcdef"
    assert session.expires_at == int(clock.now + 8 * 3600)
    assert sessions.read(cookie) == session
    assert "cl_0123456789abcdef" not in cookie  # encoded, and signed


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: "x" + c,  # payload changed
        lambda c: c.split(".")[0],  # no signature
        lambda c: c + ".extra",  # more parts
        lambda c: "",
        lambda c: "é" * 10 + "." + "é",  # not base64
    ],
)
def test_an_altered_cookie_is_no_session(tamper: object) -> None:
    sessions = Sessions(SECRET)
    cookie, _ = sessions.issue("cl_0123456789abcdef")
    assert sessions.read(tamper(cookie)) is None  # type: ignore[operator]


def test_a_cookie_expires_and_another_secret_does_not_read_it() -> None:
    clock = Clock()
    sessions = Sessions(SECRET, lifetime=timedelta(hours=8), clock=clock)
    cookie, _ = sessions.issue("cl_0123456789abcdef")
    clock.now += 8 * 3600 - 1
    assert sessions.read(cookie) is not None
    clock.now += 1
    assert sessions.read(cookie) is None
    assert Sessions(b"another secret", clock=Clock()).read(cookie) is None


def test_the_key_is_derived_from_the_platform_secret_apart_from_the_audit_key() -> None:
    assert session_key(SECRET) != audit_key(SECRET)
    assert session_key(SECRET) != SECRET
    with pytest.raises(ValueError):
        session_key(b"")


def test_csrf_tokens_are_bound_to_their_session() -> None:
    sessions = Sessions(SECRET)
    _, one = sessions.issue("cl_0123456789abcdef")
    _, two = sessions.issue("cl_0123456789abcdef")
    assert sessions.csrf_ok(one, sessions.csrf_token(one))
    assert not sessions.csrf_ok(one, sessions.csrf_token(two))
    assert not sessions.csrf_ok(one, None)
    assert not sessions.csrf_ok(one, "")
    forged = Session(one.client_id, one.expires_at, "guessed")
    assert not sessions.csrf_ok(one, sessions.csrf_token(forged))


def test_sign_in_tokens_are_bound_to_the_form_nonce() -> None:
    sessions = Sessions(SECRET)
    nonce = sessions.login_nonce()
    token = sessions.login_token(nonce)
    assert sessions.login_ok(nonce, token)
    assert not sessions.login_ok(sessions.login_nonce(), token)
    assert not sessions.login_ok(None, token)
    assert not sessions.login_ok(nonce, None)


def test_the_client_is_read_again_and_a_disabled_one_has_no_session(platform: Platform) -> None:
    clients = Clients(platform.metadata, platform.dictionary)
    made = clients.create("data-office", "steward")
    session = Session(made.client_id, 0, "n")
    principal = signed_in(platform.metadata, session)
    assert principal is not None and (principal.name, principal.role.value) == ("data-office", "steward")
    clients.disable(made.client_id)
    assert signed_in(platform.metadata, session) is None
    assert signed_in(platform.metadata, Session("cl_unknown", 0, "n")) is None
