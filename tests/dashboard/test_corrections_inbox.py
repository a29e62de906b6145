"""校核纠错 in a real browser: the owner department's inbox with due dates and the overdue request
flagged, its accept and reject forms, the requester's view of the outcome, and the steward's view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from datahub.access import Principal
from datahub.access.corrections import CorrectionAsk, Corrections, now_utc
from datahub.metadata import CorrectionRequest
from tests.api.world import build_world
from tests.dashboard.conftest import DashboardWorld, Pending


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardWorld]:
    """The published city alone: no grants or contracts registered, which this page does not need."""
    with build_world(tmp_path_factory.mktemp("corrections-dashboard")) as world:
        yield DashboardWorld(world, Pending(0, 0))


def _principal(dashboard: DashboardWorld, name: str) -> Principal:
    found = dashboard.world.server.app.state.clients.authenticate(dashboard.world.keys[name])
    assert found is not None
    return found


def _ask(row: dict[str, Any], field: str, problem: str) -> CorrectionAsk:
    key = {"sensor_id": row["sensor_id"], "reading_time": row["reading_time"]}
    return CorrectionAsk("iot_sensor_readings", [key], field, problem, "现场核查记录")


def test_an_inbox_answered_on_time_and_late(dashboard: DashboardWorld, visit: Any) -> None:
    world, service = dashboard.world, dashboard.service
    world.client("dept_ee", "department", "EE", rate_limit=100_000)  # owns the sensor readings
    consumer, oc = _principal(dashboard, "consumer"), _principal(dashboard, "dept_oc")
    rows = service.rows(consumer, "iot_sensor_readings", limit=2).records()
    weeks_ago = now_utc() - timedelta(days=21)
    late = Corrections(service, clock=lambda: weeks_ago).request(
        consumer, _ask(rows[0], "value", "读数为负数")
    )
    # A department reads another's data as a consumer does, and reports on it.
    fresh = Corrections(service).request(oc, _ask(rows[1], "unit", "单位应为 μg/m³"))
    late_id, fresh_id = late["correction_id"], fresh["correction_id"]

    v = visit("dept_ee")
    v.open("/dashboard/corrections")
    assert v.text("#open-count") == "2" and v.text("#overdue-count") == "1"
    overdue_row = v.page.locator(f"#correction-{late_id}")
    assert overdue_row.get_attribute("class") == "warning" and "已超期" in overdue_row.inner_text()
    assert "读数为负数" in overdue_row.inner_text() and "待答复" in overdue_row.inner_text()
    fresh_row = v.page.locator(f"#correction-{fresh_id}")
    assert "已超期" not in fresh_row.inner_text() and "前" in fresh_row.inner_text()

    fresh_row.locator("input[name=reason]").fill("经核实，单位无误")
    with v.page.expect_navigation():
        fresh_row.locator("button.refuse").click()
    v.screenshot("rejected")
    assert "已驳回" in v.text("[role=status]")
    answered = v.page.locator(f"#answered #correction-{fresh_id}")
    assert "已驳回" in answered.inner_text() and "经核实，单位无误" in answered.inner_text()

    with v.page.expect_navigation():
        v.page.locator(f"#correction-{late_id} button.approve").click()
    v.screenshot("accepted late")
    assert "已受理" in v.text("[role=status]")
    assert "已受理，待更正" in v.text(f"#correction-{late_id}")
    assert v.text("#open-count") == "0" and v.text("#late-count") == "1"
    with world.platform.metadata.session() as s:
        stored = s.get(CorrectionRequest, late_id)
        assert stored is not None and stored.status == "accepted" and stored.answered_by == "dept_ee"

    # The sensor deliveries landed after the request (made three weeks ago): the department links one.
    offered = v.page.locator(f"#correction-{late_id} select[name=delivery] option").all_inner_texts()
    assert offered and all("iot_sensor_readings" in o for o in offered)
    with v.page.expect_navigation():
        v.page.locator(f"#correction-{late_id} form[action$='/corrected'] button").click()
    v.screenshot("corrected")
    closed = v.text(f"#answered #correction-{late_id}")
    assert "已更正" in closed and "超时答复" in closed and "更正交付" in closed
    with world.platform.metadata.session() as s:
        stored = s.get(CorrectionRequest, late_id)
        assert stored is not None and stored.status == "corrected" and stored.delivery_id

    # The requesting department sees the outcome among its own requests; its inbox holds none of them.
    requester = visit("dept_oc")
    requester.open("/dashboard/corrections")
    mine = requester.text(f"#mine-{fresh_id}")
    assert "已驳回" in mine and "经核实，单位无误" in mine
    assert requester.page.locator(f"#inbox #correction-{fresh_id}").count() == 0

    # The consuming system sees its outcome through the API: accepted, answered late.
    outcome = httpx.get(
        f"{dashboard.url}/api/v1/corrections/{late_id}",
        headers={"Authorization": f"Bearer {world.keys['consumer']}"},
    ).json()
    assert outcome["status"] == "corrected" and outcome["overdue"] is True

    # The steward sees both; a form without the session's CSRF token changes nothing.
    steward = visit("steward")
    steward.open("/dashboard/corrections")
    assert steward.page.locator(f"#answered #correction-{late_id}").count() == 1
    assert steward.page.locator(f"#answered #correction-{fresh_id}").count() == 1
    forged = steward.page.request.post(
        f"{dashboard.url}/dashboard/corrections/{late_id}/corrected", form={"delivery": "x"}
    )
    assert forged.status == 400 and "表单已失效" in forged.text()
    no_reason = steward.page.request.post(
        f"{dashboard.url}/dashboard/corrections/{late_id}/reject", form={"csrf": steward.csrf()}
    )
    assert no_reason.status == 422 and "须填写理由" in no_reason.text()
