"""The dashboard in a real browser: headless Debian Chromium driven by Playwright, against a real uvicorn
server over the small published city of the API's tests (tests/api/world.py), plus two pending grants,
a data read and the contracts registered.

Every page a test opens is screenshotted (full page) into ``test-artifacts/dashboard/``. Every request
the browser makes goes through :class:`Visitor`'s route handler: anything not on the server's loopback
address (or a ``data:`` URL) is aborted and recorded, and the test fails on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, Response, Route, sync_playwright

from datahub.access import GrantRequest, Principal
from datahub.serving.service import Service
from tests.api.world import World, build_world

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
LOOPBACK = re.compile(r"^(http://127\.0\.0\.1:\d+/|data:)")


@dataclass
class Pending:
    """The grants the world's consumer requested, waiting for a steward."""

    for_approval: int
    for_leader: int


@dataclass
class DashboardWorld:
    world: World
    pending: Pending

    @property
    def url(self) -> str:
        return self.world.server.url

    @property
    def service(self) -> Service:
        service: Service = self.world.server.app.state.service
        return service


def _principal(world: World, name: str) -> Principal:
    clients = world.server.app.state.clients
    principal = clients.authenticate(world.keys[name])
    assert principal is not None
    return principal


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardWorld]:
    with build_world(tmp_path_factory.mktemp("dashboard")) as world:
        service: Service = world.server.app.state.service
        assert world.platform.registry.in_force()  # contracts/ seeded the registry on first use
        consumer = _principal(world, "consumer")
        grants = []
        for view, purpose in (("hotline_12345", "区级平台研判噪音投诉"), ("gov_app_reports", "应急指挥调度")):
            grant = service.grants.request(
                consumer, GrantRequest(view, purpose, ["work_order_id"] if view == "hotline_12345" else None)
            )
            service.record_grant(consumer, "grant.request", grant)
            grants.append(int(grant["grant_id"]))
        service.rows(consumer, "iot_sensor_readings", limit=25, purpose="空气质量监测")
        yield DashboardWorld(world, Pending(grants[0], grants[1]))


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield chromium
    chromium.close()


@dataclass
class Visitor:
    """One browser context (its own cookies) on the dashboard, recording every request it makes."""

    page: Page
    base: str
    test: str
    requested: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    shots: int = 0

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requested.append(url)
        if LOOPBACK.match(url) and (url.startswith("data:") or url.startswith(self.base + "/")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, path: str, *, shot: str | None = None) -> Response:
        response = self.page.goto(self.base + path)
        assert response is not None
        self.screenshot(shot or path)
        self.check_local()
        return response

    def check_local(self) -> None:
        assert not self.outside, f"the page requested resources outside the machine: {self.outside}"

    def screenshot(self, name: str) -> None:
        self.shots += 1
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "page"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.test}-{self.shots:02d}-{slug}.png"), full_page=True)

    def sign_in(self, key: str) -> Response | None:
        """Fill in the sign-in form (the one on the page, else a new one); the response the form's POST
        ended on, after redirects."""
        if "/dashboard/login" not in self.page.url:
            self.page.goto(self.base + "/dashboard/login")
        self.page.fill("#api_key", key)
        with self.page.expect_navigation() as navigation:
            self.page.click("form[action$='/login'] button[type=submit]")
        self.check_local()
        return navigation.value

    def text(self, selector: str) -> str:
        return self.page.locator(selector).inner_text()

    def csrf(self) -> str:
        value = self.page.locator("form[action$='/logout'] input[name=csrf]").get_attribute("value")
        assert value
        return value


@pytest.fixture
def visit(browser: Browser, dashboard: DashboardWorld, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``visit(who=None)``: a fresh browser context, signed in with ``who``'s key when given. Every
    context is checked at the end: no request left the machine."""
    made: list[tuple[Any, Visitor]] = []
    prefix = request.node.name.removeprefix("test_")
    for old in ARTIFACTS.glob(f"{prefix}-*.png"):  # this test's screenshots of an earlier run
        old.unlink()

    def make(who: str | None = None) -> Visitor:
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        visitor = Visitor(page, dashboard.url, f"{prefix}-{len(made) + 1}")
        context.route("**/*", visitor._route)
        made.append((context, visitor))
        if who is not None:
            visitor.sign_in(dashboard.world.keys[who])
        return visitor

    yield make
    for context, visitor in made:
        context.close()
        assert not visitor.outside, f"the page requested resources outside the machine: {visitor.outside}"
        assert visitor.requested, "the browser made no request at all"
