"""Answer deadlines of grant requests: ``due_at`` from the working-day calendar, ``overdue`` in the
library, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from datahub.access import Clients, GrantRequest, Grants, Principal, Role
from datahub.access.grants import now_utc, overdue
from datahub.api import create_app
from datahub.citytime import city_time, recorded_time
from datahub.cli import app
from datahub.contracts import Dataset
from datahub.dictionary import WorkCalendar
from datahub.metadata import Grant, GrantStatus
from datahub.platform import Platform
from datahub.serving.service import Service
from datahub.settings import Settings
from tests.api.conftest import serve


def _views(platform: Platform) -> dict[str, Dataset]:
    return {d.name: d for d in platform.catalog}


def _consumer(platform: Platform, name: str = "ops") -> Principal:
    clients = Clients(platform.metadata, platform.dictionary)
    found = clients.authenticate(clients.create(name, "consumer").api_key)
    assert found is not None
    return found


def _due(grant: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(grant["due_at"]).removesuffix("Z"))


def test_due_at_skips_a_holiday(platform: Platform) -> None:
    today = city_time(now_utc()).date()
    # A ten-day holiday from tomorrow, and no working weekend: the first working day after it is due.
    holiday = frozenset(today + timedelta(days=i) for i in range(1, 11))
    calendar = WorkCalendar(holidays=holiday)
    grants = Grants(
        platform.metadata, lambda: _views(platform), lambda v, t: None, calendar=calendar, answer_days=1
    )
    made = grants.request(_consumer(platform), GrantRequest("hotline_12345", "研判"))
    first_after = today + timedelta(days=11)
    while first_after.weekday() >= 5:
        first_after += timedelta(days=1)
    assert _due(made) == recorded_time(datetime.combine(first_after + timedelta(days=1), datetime.min.time()))
    assert city_time(_due(made)).date() == first_after + timedelta(days=1)  # 24:00 of the due day
    assert made["overdue"] is False


def test_the_service_counts_on_the_dictionary_calendar_and_the_setting(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / "var", demo_mode=True, grant_answer_days=3))
    service = Service(platform)
    try:
        made = service.grants.request(_consumer(platform), GrantRequest("hotline_12345", "研判"))
        requested = datetime.fromisoformat(str(made["requested_at"]).removesuffix("Z"))
        assert _due(made) == platform.dictionary.calendar.due(requested, 3)
    finally:
        service.close()
        platform.metadata.dispose()


@pytest.mark.parametrize(
    ("status", "decided", "expected"),
    [
        (GrantStatus.requested, None, True),  # still waiting, past due
        (GrantStatus.approved, timedelta(hours=1), True),  # answered after due: late
        (GrantStatus.refused, timedelta(hours=-1), False),  # answered in time
        (GrantStatus.revoked, None, False),  # withdrawn by its client before an answer
    ],
)
def test_overdue(status: str, decided: timedelta | None, expected: bool) -> None:
    due = datetime(2026, 2, 27, 16)
    grant = Grant(status=status, due_at=due, decided_at=due + decided if decided is not None else None)
    assert overdue(grant, due + timedelta(days=3)) is expected
    assert overdue(Grant(status=GrantStatus.requested, due_at=due), due - timedelta(seconds=1)) is False
    assert overdue(Grant(status=GrantStatus.requested, due_at=None), due + timedelta(days=9)) is False


def _past_due(platform: Platform, grant_id: int) -> None:
    """Time passes: the request was made three weeks ago, so its deadline has gone by."""
    requested = now_utc() - timedelta(days=21)
    due = platform.dictionary.calendar.due(requested, platform.settings.grant_answer_days)
    with platform.metadata.session() as s:
        s.execute(update(Grant).where(Grant.id == grant_id).values(requested_at=requested, due_at=due))


@dataclass
class Sharing:
    platform: Platform
    http: httpx.Client
    keys: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture(scope="module")
def sharing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sharing]:
    settings = Settings(home=tmp_path_factory.mktemp("deadlines") / "var", demo_mode=True)
    with serve(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        platform = server.app.state.service.platform
        clients: Clients = server.app.state.clients
        keys = {
            name: clients.create(name, role).api_key
            for name, role in (("steward", "steward"), ("ops", "consumer"))
        }
        yield Sharing(platform, http, keys)


def test_the_api_shows_due_at_and_flags_an_overdue_request(sharing: Sharing) -> None:
    body = {"view": "hotline_12345", "purpose": "区级平台研判"}
    made = sharing.http.post("/api/v1/grants", json=body, headers=sharing.headers("ops"))
    assert made.status_code == 201, made.text
    grant = made.json()
    assert grant["overdue"] is False
    requested = datetime.fromisoformat(grant["requested_at"].removesuffix("Z"))
    assert _due(grant) == sharing.platform.dictionary.calendar.due(requested, 5)

    _past_due(sharing.platform, grant["grant_id"])
    late = sharing.http.get(f"/api/v1/grants/{grant['grant_id']}", headers=sharing.headers("ops")).json()
    assert late["overdue"] is True and late["status"] == "requested"
    listed = sharing.http.get("/api/v1/grants", headers=sharing.headers("steward")).json()["data"]
    assert [g["overdue"] for g in listed if g["grant_id"] == grant["grant_id"]] == [True]

    # Answered late: still flagged once approved.
    approved = sharing.http.post(
        f"/api/v1/grants/{grant['grant_id']}/approve", json={}, headers=sharing.headers("steward")
    ).json()
    assert approved["status"] == "approved" and approved["overdue"] is True

    # Answered in time: not flagged.
    other = sharing.http.post("/api/v1/grants", json=body, headers=sharing.headers("ops")).json()
    refused = sharing.http.post(
        f"/api/v1/grants/{other['grant_id']}/refuse", json={}, headers=sharing.headers("steward")
    ).json()
    assert refused["overdue"] is False


def test_grant_list_shows_due_and_overdue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")
    platform = Platform()
    consumer = _consumer(platform)
    grants = Grants(
        platform.metadata, lambda: _views(platform), lambda v, t: None, calendar=platform.dictionary.calendar
    )
    late = grants.request(consumer, GrantRequest("hotline_12345", "研判"))["grant_id"]
    fresh = grants.request(consumer, GrantRequest("gov_app_reports", "研判"))
    _past_due(platform, late)
    runner = CliRunner()

    listed = runner.invoke(app, ["grant", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    by_id = {g["grant_id"]: g for g in json.loads(listed.stdout)}
    assert by_id[late]["overdue"] is True and by_id[fresh["grant_id"]]["overdue"] is False
    assert by_id[fresh["grant_id"]]["due_at"] == fresh["due_at"]

    table = runner.invoke(app, ["grant", "list"])
    assert table.exit_code == 0, table.output
    assert "due by" in table.output
    rows = {line.split("│")[1].strip(): line for line in table.output.splitlines() if line.count("│") > 5}
    assert "overdue" in rows[str(late)]
    assert "overdue" not in rows[str(fresh["grant_id"])]
    fresh_due = city_time(_due(fresh)).date() - timedelta(days=1)
    assert str(fresh_due) in rows[str(fresh["grant_id"])]

    only = runner.invoke(app, ["grant", "list", "--overdue", "--json"])
    assert [g["grant_id"] for g in json.loads(only.stdout)] == [late]
    platform.metadata.dispose()


def test_a_request_before_deadlines_were_kept_is_never_overdue(platform: Platform) -> None:
    grants = Grants(platform.metadata, lambda: _views(platform), lambda v, t: None)
    made = grants.request(_consumer(platform), GrantRequest("hotline_12345", "研判"))
    with platform.metadata.session() as s:
        s.execute(
            update(Grant)
            .where(Grant.id == made["grant_id"])
            .values(due_at=None, requested_at=datetime.combine(date(2024, 1, 2), datetime.min.time()))
        )
    again = grants.get(made["grant_id"], Principal("steward", "steward", Role.steward, None, 100))
    assert again["due_at"] is None and again["overdue"] is False
