"""The sharing page flags grant requests past their answer deadline, in a real browser.

A city of its own, without deliveries (grant requests need only the contracts): the ``dashboard``
fixture of conftest.py is replaced here by one with what ``visit`` reads (the server's URL and keys)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from datahub.access import Clients, GrantRequest
from datahub.access.grants import now_utc
from datahub.api import create_app
from datahub.citytime import city_time
from datahub.metadata import Grant
from datahub.serving.service import Service
from datahub.settings import Settings
from tests.api.conftest import serve


@dataclass
class Keys:
    keys: dict[str, str]


@dataclass
class DeadlineCity:
    url: str
    world: Keys
    service: Service
    late: int  # requested three weeks ago: past due
    fresh: int  # requested now


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeadlineCity]:
    settings = Settings(home=tmp_path_factory.mktemp("deadlines") / "var", demo_mode=True)
    with serve(create_app(settings)) as server:
        service: Service = server.app.state.service
        clients: Clients = server.app.state.clients
        keys = {"steward": clients.create("steward", "steward").api_key}
        consumer = clients.authenticate(clients.create("区级平台", "consumer").api_key)
        assert consumer is not None
        late = service.grants.request(consumer, GrantRequest("hotline_12345", "按辖区研判热线诉求"))
        fresh = service.grants.request(consumer, GrantRequest("gov_app_reports", "应急指挥调度"))
        requested = now_utc() - timedelta(days=21)
        platform = service.platform
        due = platform.dictionary.calendar.due(requested, platform.settings.grant_answer_days)
        with platform.metadata.session() as s:
            s.execute(
                update(Grant).where(Grant.id == late["grant_id"]).values(requested_at=requested, due_at=due)
            )
        yield DeadlineCity(server.url, Keys(keys), service, int(late["grant_id"]), int(fresh["grant_id"]))


def test_an_overdue_request_is_flagged_on_the_sharing_page(dashboard: DeadlineCity, visit: Any) -> None:
    v = visit("steward")
    assert v.open("/dashboard/sharing", shot="sharing-overdue").status == 200
    assert v.text("#overdue-count") == "已逾期 1"
    assert f"#{dashboard.late}" in v.text("#overdue-notice")
    assert f"#{dashboard.fresh}" not in v.text("#overdue-notice")
    late_row = v.page.locator(f"#grant-{dashboard.late}")
    assert late_row.get_attribute("class") == "overdue"
    assert "已逾期" in late_row.inner_text()
    fresh_row = v.text(f"#grant-{dashboard.fresh}")
    assert "已逾期" not in fresh_row
    fresh = dashboard.service.grants.get(dashboard.fresh, _steward(dashboard))
    due_day = city_time(datetime.fromisoformat(str(fresh["due_at"]).removesuffix("Z"))) - timedelta(days=1)
    assert f"{due_day:%Y-%m-%d} 24:00" in fresh_row

    # Approved now, after its deadline: it leaves the pending list and is shown as answered late.
    v.page.locator(f"form[action$='/grants/{dashboard.late}/approve'] button").click()
    v.page.wait_for_url("**/dashboard/sharing?done=approved*")
    v.screenshot("sharing-answered-late")
    assert v.page.locator("#overdue-count").count() == 0
    assert "逾期答复" in v.text("#decided")


def _steward(dashboard: DeadlineCity) -> Any:
    principal = dashboard.service.clients.authenticate(dashboard.world.keys["steward"])
    assert principal is not None
    return principal
