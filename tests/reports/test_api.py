"""GET /api/v1/reports/{month}.pdf and .html on a real server: who may read them, what they answer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from datahub.access import Clients
from datahub.api import create_app
from tests.api.conftest import serve
from tests.reports.world import MONTH, ReportWorld

ROLES = ("steward", "admin", "leader", "consumer", "department")


@pytest.fixture(scope="module")
def http(world: ReportWorld) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]]]]:
    clients = Clients(world.platform.metadata, world.platform.dictionary)
    keys = {
        role: clients.create(f"report-{role}", role, "OC" if role == "department" else None).api_key
        for role in ROLES
    }
    headers = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    with (
        serve(create_app(world.platform.settings)) as server,
        httpx.Client(base_url=server.url, timeout=120) as c,
    ):
        yield c, headers


def test_stewards_admins_and_leaders_get_the_pdf_and_html(http: tuple[httpx.Client, dict]) -> None:
    client, headers = http
    for role in ("steward", "admin", "leader"):
        pdf = client.get(f"/api/v1/reports/{MONTH}.pdf", headers=headers[role])
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        html = client.get(f"/api/v1/reports/{MONTH}.html", headers=headers[role])
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "城市数据质量月通报" in html.text


@pytest.mark.parametrize("role", ["consumer", "department"])
def test_other_roles_are_refused(http: tuple[httpx.Client, dict], role: str) -> None:
    client, headers = http
    for suffix in ("pdf", "html"):
        response = client.get(f"/api/v1/reports/{MONTH}.{suffix}", headers=headers[role])
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/reports/{MONTH}.pdf").status_code == 401


@pytest.mark.parametrize(
    ("month", "status"),
    [
        ("2025-01", 404),
        ("2026-13", 422),
        ("2026-1x", 422),
        ("October", 422),
        ("0000-01", 422),
        ("9999-12", 422),
    ],
)
def test_unknown_and_malformed_months(http: tuple[httpx.Client, dict], month: str, status: int) -> None:
    client, headers = http
    response = client.get(f"/api/v1/reports/{month}.pdf", headers=headers["steward"])
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_the_report_is_cached_until_the_metadata_changes(
    world: ReportWorld, http: tuple[httpx.Client, dict]
) -> None:
    client, headers = http
    first = client.get(f"/api/v1/reports/{MONTH}.pdf", headers=headers["steward"])
    second = client.get(f"/api/v1/reports/{MONTH}.pdf", headers=headers["steward"])
    assert first.content == second.content
    cached = sorted((world.platform.settings.reports_dir / "cache").glob(f"{MONTH}-*"))
    assert len(cached) == 1
