"""Hostile cookies, tokens and keys against the real application under a real server, and sessions that
end on the server: a cookie, CSRF token, sign-in token or API key the platform did not issue (not
ASCII, sent as raw UTF-8 or latin-1 bytes, the wrong shape, too long, not base64) is "not signed in" or
"bad token", never a 500; a copied session cookie stops working once its session signs out or is
revoked. tests/dashboard/test_session.py tests the same rules without HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from datahub.access import Clients, GrantRequest
from datahub.api import create_app
from datahub.dashboard.session import LOGIN_COOKIE, SESSION_COOKIE, revoke_all
from datahub.metadata import Grant
from datahub.serving.service import Service
from datahub.settings import Settings
from tests.api.conftest import LiveServer, serve


@dataclass
class Site:
    server: LiveServer
    keys: dict[str, str]
    client_ids: dict[str, str]
    grant_id: int

    @property
    def service(self) -> Service:
        service: Service = self.server.app.state.service
        return service


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home: Path = tmp_path_factory.mktemp("hostile-session")
    app = create_app(Settings(home=home / "var", demo_mode=True))
    clients: Clients = app.state.clients
    keys, ids = {}, {}
    for name, role in (("steward", "steward"), ("admin", "admin"), ("consumer", "consumer")):
        made = clients.create(name, role)
        keys[name], ids[name] = made.api_key, made.client_id
    consumer = clients.authenticate(keys["consumer"])
    assert consumer is not None
    grant = app.state.service.grants.request(consumer, GrantRequest("hotline_12345", "区级平台研判噪音投诉"))
    with serve(app) as server:
        yield Site(server, keys, ids, int(grant["grant_id"]))
    app.state.platform.metadata.dispose()


def _send(site: Site, method: str, path: str, cookie: bytes = b"", **kwargs: object) -> httpx.Response:
    """One request from a browser with no cookie jar: exactly ``cookie`` as the raw Cookie header."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    if cookie:
        headers["Cookie"] = cookie
    with httpx.Client(base_url=site.server.url, timeout=30) as http:
        return http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]


def _login_form(http: httpx.Client) -> str:
    form = http.get("/dashboard/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert form.status_code == 200 and token, form.text[:500]
    return token.group(1)


def _sign_in(site: Site, who: str) -> tuple[httpx.Client, str]:
    """A browser signed in as ``who``: the client (its cookie jar holds the session) and its CSRF token."""
    http = httpx.Client(base_url=site.server.url, timeout=30)
    signed = http.post("/dashboard/login", data={"login_token": _login_form(http), "api_key": site.keys[who]})
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/", signed.text[:500]
    page = http.get("/dashboard/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text[:500]
    return http, csrf.group(1)


def _goes_to_sign_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")


GET_PAGES = [
    "/dashboard/",
    "/dashboard/datasets",
    "/dashboard/datasets/hotline_12345",
    "/dashboard/sharing",
    "/dashboard/kpis",
]

HOSTILE_COOKIES = [
    pytest.param("abcd.é".encode(), id="utf8-signature"),
    pytest.param("abcd.é".encode("latin-1"), id="latin1-signature"),
    pytest.param(b"abcd." + "é".encode() * 43, id="utf8-43"),
    pytest.param("中文.签名".encode(), id="chinese"),
    pytest.param(b"\xff\xfe.\xff\xfe", id="not-utf8"),
    pytest.param(b"A" * 5000 + b"." + b"B" * 43, id="too-long"),
    pytest.param(b"!!!!." + b"?" * 43, id="not-base64"),
    pytest.param(b"A." + b"B" * 43, id="no-whole-byte"),
    pytest.param(b"AAAA." + b"B" * 43, id="wrong-signature"),
    pytest.param(b'"abcd.\xc3\xa9"', id="quoted"),
]


@pytest.mark.parametrize("value", HOSTILE_COOKIES)
def test_a_hostile_session_cookie_is_not_signed_in_on_any_page(site: Site, value: bytes) -> None:
    cookie = SESSION_COOKIE.encode() + b"=" + value + b"; " + LOGIN_COOKIE.encode() + b"=" + value
    login = _send(site, "GET", "/dashboard/login", cookie)
    assert login.status_code == 200 and 'name="login_token"' in login.text
    for path in GET_PAGES:
        assert _goes_to_sign_in(_send(site, "GET", path, cookie)), path
    missing = _send(site, "GET", "/dashboard/no-such-page", cookie)
    assert missing.status_code == 404 and "找不到页面" in missing.text
    for path in ("/dashboard/logout", f"/dashboard/grants/{site.grant_id}/approve"):
        posted = _send(site, "POST", path, cookie, data={"csrf": value.decode("latin-1")})
        assert _goes_to_sign_in(posted), path
    posted = _send(site, "POST", "/dashboard/login", cookie, data={"login_token": "x", "api_key": "y"})
    assert posted.status_code == 400 and "登录表单已过期" in posted.text


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"login_token": "é"}, id="token-not-ascii"),
        pytest.param({"login_token": "中" * 43}, id="token-chinese"),
        pytest.param({"login_token": "A" * 15_000}, id="token-long"),
    ],
)
def test_a_hostile_sign_in_token_is_a_stale_form(site: Site, fields: dict[str, str]) -> None:
    with httpx.Client(base_url=site.server.url, timeout=30) as http:
        _login_form(http)
        sent = http.post("/dashboard/login", data={"api_key": site.keys["steward"], **fields})
    assert sent.status_code == 400 and "登录表单已过期" in sent.text
    assert SESSION_COOKIE not in sent.cookies


@pytest.mark.parametrize("nonce", ["é".encode(), "é".encode("latin-1"), "中文".encode(), b"A" * 3000])
def test_a_hostile_sign_in_cookie_is_a_stale_form(site: Site, nonce: bytes) -> None:
    with httpx.Client(base_url=site.server.url, timeout=30) as http:
        token = _login_form(http)
    sent = _send(
        site, "POST", "/dashboard/login", LOGIN_COOKIE.encode() + b"=" + nonce,
        data={"login_token": token, "api_key": site.keys["steward"]},
    )  # fmt: skip
    assert sent.status_code == 400 and "登录表单已过期" in sent.text


@pytest.mark.parametrize(
    "api_key", ["dh_中文密钥", "dh_" + "é" * 43, "é", "dh_" + "A" * 15_000, "\x00dh_", "dh_\u202e" * 10]
)
def test_a_hostile_key_on_the_sign_in_form_is_an_invalid_key(site: Site, api_key: str) -> None:
    with httpx.Client(base_url=site.server.url, timeout=30) as http:
        sent = http.post("/dashboard/login", data={"login_token": _login_form(http), "api_key": api_key})
    assert sent.status_code == 401 and "密钥无效或已停用" in sent.text
    assert SESSION_COOKIE not in sent.cookies


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"login_token=%FF%FE&api_key=%C3", id="not-utf8-escapes"),
        pytest.param(b"login_token=\xff\xfe&api_key=\xe9", id="not-utf8-bytes"),
        pytest.param("&".join(f"f{i}=1" for i in range(30)).encode(), id="too-many-fields"),
    ],
)
def test_a_malformed_sign_in_form_is_a_bad_request(site: Site, body: bytes) -> None:
    with httpx.Client(base_url=site.server.url, timeout=30) as http:
        _login_form(http)
        sent = http.post(
            "/dashboard/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert sent.status_code == 400 and "<html" in sent.text


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("é", id="not-ascii"),
        pytest.param("中" * 43, id="chinese"),
        pytest.param("\xe9" * 43, id="latin1"),
        pytest.param("A" * 15_000, id="long"),
    ],
)
def test_a_hostile_csrf_token_is_refused_and_the_session_goes_on(site: Site, token: str) -> None:
    http, _ = _sign_in(site, "steward")
    with closing(http):
        for path in ("/dashboard/logout", f"/dashboard/grants/{site.grant_id}/approve"):
            sent = http.post(path, data={"csrf": token, "note": "x"})
            assert sent.status_code == 400 and "表单已失效" in sent.text, path
        assert http.get("/dashboard/").status_code == 200
    with site.service.platform.metadata.session() as s:
        grant = s.get(Grant, site.grant_id)
        assert grant is not None and grant.status == "requested"


def _copied_cookie_is_over(site: Site, cookie: bytes, csrf: str) -> None:
    """Every page answers a copy of an ended session's cookie with the sign-in page, forms included."""
    login = _send(site, "GET", "/dashboard/login", cookie)
    assert login.status_code == 200 and 'name="login_token"' in login.text
    for path in GET_PAGES:
        assert _goes_to_sign_in(_send(site, "GET", path, cookie)), path
    for path in (f"/dashboard/grants/{site.grant_id}/approve", f"/dashboard/grants/{site.grant_id}/refuse"):
        assert _goes_to_sign_in(_send(site, "POST", path, cookie, data={"csrf": csrf, "note": "x"})), path
    assert _goes_to_sign_in(_send(site, "POST", "/dashboard/logout", cookie, data={"csrf": csrf}))
    with site.service.platform.metadata.session() as s:
        grant = s.get(Grant, site.grant_id)
        assert grant is not None and grant.status == "requested"


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(site: Site) -> None:
    http, csrf = _sign_in(site, "steward")
    elsewhere, _ = _sign_in(site, "steward")  # the same steward in another browser
    copied = f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}".encode()
    assert _send(site, "GET", "/dashboard/sharing", copied).status_code == 200  # the copy works, until …
    with closing(http):
        out = http.post("/dashboard/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/dashboard/login?signed_out=1"
    _copied_cookie_is_over(site, copied, csrf)
    with closing(elsewhere):
        assert elsewhere.get("/dashboard/").status_code == 200  # only that session ended


def test_revoking_a_clients_sessions_ends_every_browser_of_it(site: Site) -> None:
    browsers = [_sign_in(site, "admin") for _ in range(2)]
    other, _ = _sign_in(site, "steward")
    assert revoke_all(site.service.platform.metadata, site.client_ids["admin"]) == 2
    for http, csrf in browsers:
        with closing(http):
            _copied_cookie_is_over(site, f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}".encode(), csrf)
    with closing(other):
        assert other.get("/dashboard/").status_code == 200


HOSTILE_KEYS = [
    pytest.param("dh_é".encode(), id="utf8"),
    pytest.param("dh_é".encode("latin-1"), id="latin1"),
    pytest.param(b"dh_" + "中".encode() * 43, id="chinese"),
    pytest.param("é".encode(), id="no-prefix"),
    pytest.param(b"dh_" + b"A" * 60_000, id="huge"),
]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_a_hostile_api_key_is_a_401(site: Site, key: bytes) -> None:
    for headers in ({"Authorization": b"Bearer " + key}, {"X-API-Key": key}):
        sent = _send(site, "GET", "/api/v1/views", headers=headers)
        assert sent.status_code == 401, sent.text[:300]
        assert sent.json()["error"]["code"] == "unauthenticated"


def test_keys_that_cannot_be_keys_are_not_remembered(site: Site) -> None:
    """The key cache must not become a store for whatever a caller sends: malformed keys are refused
    before it, so thousands of huge ones cannot fill the server's memory."""
    clients: Clients = site.server.app.state.clients
    for i in range(20):
        key = f"dh_{i}".encode() + b"A" * 50_000
        assert _send(site, "GET", "/api/v1/views", headers={"X-API-Key": key}).status_code == 401
        assert clients.authenticate(f"dh_{i}é" + "A" * 40) is None
    assert not [k for k in clients._cache if len(k) > 200 or not k.isascii()]
