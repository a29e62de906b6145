"""校核纠错: correction requests from the consumer to the owner department and back, over the real API on
the small published city of the API's tests; their deadlines, overdue cases and the monthly report."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from datahub import pipeline
from datahub.access import GrantRequest, Principal
from datahub.access.corrections import CorrectionAsk, Corrections, correction_figures, seed_correction
from datahub.cli import app
from datahub.metadata import CorrectionRequest
from datahub.reports.figures import month_figures, recorded_bounds
from datahub.reports.render import render_html
from datahub.serving.service import Service
from tests.api.world import World, build_world
from tests.hotline_rows import valid_row, write_hotline

API = "/api/v1"
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("corrections")) as built:
        built.client("dept_ee", "department", "EE", rate_limit=100_000)  # owns the sensor readings
        yield built


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=30) as client:
        yield client


def _service(world: World) -> Service:
    service: Service = world.server.app.state.service
    return service


def _principal(world: World, name: str) -> Principal:
    found = world.server.app.state.clients.authenticate(world.keys[name])
    assert found is not None
    return found


def _grant(world: World, who: str, view: str, **terms: Any) -> int:
    """An approved grant of ``who`` on ``view``."""
    service = _service(world)
    grant = service.grants.request(_principal(world, who), GrantRequest(view, "核对共享数据", **terms))
    return int(service.grants.approve(int(grant["grant_id"]), _principal(world, "steward"))["grant_id"])


def _rows(http: httpx.Client, world: World, who: str, view: str, limit: int = 3) -> list[dict[str, Any]]:
    answer = http.get(f"{API}/views/{view}/rows", params={"limit": limit}, headers=world.headers(who))
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["data"]
    return rows


def _file(http: httpx.Client, world: World, who: str, **body: Any) -> httpx.Response:
    return http.post(f"{API}/corrections", json=body, headers=world.headers(who))


def _fix_rows(world: World, first: int) -> list[dict[str, str]]:
    """Hotline rows a department re-delivers (enough of them that k-anonymity withholds none)."""
    return [valid_row(world.platform.dictionary, first + i) for i in range(6)]


def _audit(world: World, correction_id: int) -> list[str]:
    """The audit actions recorded for a request, oldest first."""
    records = _service(world).audit_records(limit=1000)
    return [
        r["action"]
        for r in reversed(records)
        if r["action"].startswith("correction.") and (r["detail"] or {}).get("correction_id") == correction_id
    ]


# ------------------------------------------------------------------------------------- round trips


def test_accepted_then_corrected_by_a_linked_delivery(
    http: httpx.Client, world: World, tmp_path: Path
) -> None:
    consumer = world.client("district-jh", "consumer", rate_limit=100_000)
    assert consumer
    _grant(world, "district-jh", "hotline_12345")
    row = _rows(http, world, "district-jh", "hotline_12345")[0]
    filed = _file(
        http,
        world,
        "district-jh",
        view="hotline_12345",
        keys=[row["work_order_id"]],
        field="district_code",
        problem="地址在江汉区，所属区代码有误",
        evidence="现场核实记录 JH-1021",
    )
    assert filed.status_code == 201, filed.text
    made = filed.json()
    number = made["correction_id"]
    assert made["status"] == "open" and made["owner_department"] == "OC"
    assert made["source_dataset"] == "hotline_12345" and made["keys"] == [
        {"work_order_id": row["work_order_id"]}
    ]
    assert made["due_at"] > made["requested_at"] and made["overdue"] is False

    # The owner department's inbox has it; another department neither sees nor answers it.
    inbox = http.get(f"{API}/corrections", params={"status": "open"}, headers=world.headers("dept_oc")).json()
    assert number in [c["correction_id"] for c in inbox["data"]]
    assert http.get(f"{API}/corrections/{number}", headers=world.headers("dept_ps")).status_code == 404
    other = http.get(f"{API}/corrections", headers=world.headers("dept_ps")).json()
    assert number not in [c["correction_id"] for c in other["data"]]
    refused = http.post(f"{API}/corrections/{number}/accept", headers=world.headers("consumer"))
    assert refused.status_code == 404  # not the requester, not the owner: it does not exist for them

    accepted = http.post(
        f"{API}/corrections/{number}/accept",
        json={"note": "属实，将重新交付"},
        headers=world.headers("dept_oc"),
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted" and accepted.json()["answered_by"] == "dept_oc"
    mine = http.get(f"{API}/corrections/{number}", headers=world.headers("district-jh")).json()
    assert mine["status"] == "accepted" and mine["answer"] == "属实，将重新交付"

    # The department corrects through a delivery of the dataset, then links it.
    hotline = world.platform.catalog.get("hotline_12345")
    fixed = pipeline.ingest_file(
        world.platform,
        hotline.name,
        write_hotline(tmp_path / "fix.csv", _fix_rows(world, 995_000), hotline),
    )
    assert fixed.status == "published"
    wrong = http.post(
        f"{API}/corrections/{number}/corrected", json={"delivery": "nope"}, headers=world.headers("dept_oc")
    )
    assert wrong.status_code == 422 and wrong.json()["error"]["path"] == "delivery"
    linked = http.post(
        f"{API}/corrections/{number}/corrected",
        json={"delivery": fixed.delivery_id},
        headers=world.headers("dept_oc"),
    )
    assert linked.status_code == 200, linked.text
    seen = http.get(f"{API}/corrections", headers=world.headers("district-jh")).json()["data"]
    outcome = next(c for c in seen if c["correction_id"] == number)
    assert outcome["status"] == "corrected" and outcome["delivery_id"] == fixed.delivery_id
    assert _audit(world, number) == ["correction.request", "correction.accept", "correction.corrected"]


def test_rejected_with_a_reason(http: httpx.Client, world: World) -> None:
    row = _rows(http, world, "consumer", "iot_sensor_readings")[0]  # unconditional: read without a grant
    key = {"sensor_id": row["sensor_id"], "reading_time": row["reading_time"]}
    filed = _file(
        http, world, "consumer", view="iot_sensor_readings", keys=[key], field="value", problem="读数异常"
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["correction_id"]
    assert filed.json()["owner_department"] == "EE"

    no_reason = http.post(f"{API}/corrections/{number}/reject", headers=world.headers("dept_ee"))
    assert no_reason.status_code == 422
    blank = http.post(
        f"{API}/corrections/{number}/reject", json={"reason": "  "}, headers=world.headers("dept_ee")
    )
    assert blank.status_code == 422 and blank.json()["error"]["path"] == "reason"
    rejected = http.post(
        f"{API}/corrections/{number}/reject",
        json={"reason": "经核实，传感器读数正常"},
        headers=world.headers("dept_ee"),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = http.post(f"{API}/corrections/{number}/accept", headers=world.headers("steward"))
    assert again.status_code == 409
    mine = http.get(f"{API}/corrections/{number}", headers=world.headers("consumer")).json()
    assert mine["status"] == "rejected" and mine["answer"] == "经核实，传感器读数正常"
    assert _audit(world, number) == ["correction.request", "correction.reject"]


def test_accept_with_the_delivery_at_once_and_the_steward_sees_all(
    http: httpx.Client, world: World, tmp_path: Path
) -> None:
    row = _rows(http, world, "consumer", "iot_sensor_readings")[1]
    key = {"sensor_id": row["sensor_id"], "reading_time": row["reading_time"]}
    number = _file(
        http, world, "consumer", view="iot_sensor_readings", keys=[key], field="unit", problem="单位有误"
    ).json()["correction_id"]
    hotline = world.platform.catalog.get("hotline_12345")
    other = pipeline.ingest_file(
        world.platform,
        hotline.name,
        write_hotline(tmp_path / "x.csv", _fix_rows(world, 995_100), hotline),
    )
    wrong = http.post(
        f"{API}/corrections/{number}/accept",
        json={"delivery": other.delivery_id},
        headers=world.headers("dept_ee"),
    )
    assert wrong.status_code == 422 and "iot_sensor_readings" in wrong.json()["error"]["message"]
    assert (
        http.get(f"{API}/corrections/{number}", headers=world.headers("dept_ee")).json()["status"] == "open"
    )
    every = http.get(f"{API}/corrections", headers=world.headers("steward")).json()["data"]
    assert number in [c["correction_id"] for c in every]


# -------------------------------------------------------------------------------------- validation


def test_who_may_file_and_what(http: httpx.Client, world: World) -> None:
    world.client("narrow", "consumer", rate_limit=100_000)
    hotline_rows = _rows(http, world, "steward", "hotline_12345", limit=50)
    district = hotline_rows[0]["district_code"]
    elsewhere = next(r for r in hotline_rows if r["district_code"] != district)
    _grant(
        world,
        "narrow",
        "hotline_12345",
        columns=["work_order_id", "district_code"],
        row_filter=f"district_code = '{district}'",
    )
    mine = hotline_rows[0]["work_order_id"]
    base = {"view": "hotline_12345", "field": "district_code", "problem": "有误"}

    def error(who: str, **body: Any) -> tuple[int, str | None, str]:
        answer = _file(http, world, who, **{**base, **body})
        found = answer.json()["error"]
        return answer.status_code, found["path"], found["message"]

    assert _file(http, world, "narrow", **base, keys=[mine]).status_code == 201
    status, path, message = error("narrow", keys=[mine], field="caller_name")
    assert (status, path) == (422, "field") and "caller_name" in message
    status, path, message = error("narrow", keys=["GD-NO-SUCH"])
    assert (status, path) == (422, "keys[0]") and "GD-NO-SUCH" in message
    status, path, _ = error("narrow", keys=[mine, elsewhere["work_order_id"]])  # outside its row filter
    assert (status, path) == (422, "keys[1]")
    status, path, _ = error("narrow", keys=[mine, mine])
    assert (status, path) == (422, "keys[1]")
    status, path, _ = error("narrow", keys=[{"work_order": mine}])
    assert (status, path) == (422, "keys[0]")
    assert error("consumer", keys=[mine])[0] == 403  # conditional, and no grant
    assert error("dept_oc", keys=[mine])[0] == 403  # its own data: it corrects by a delivery
    assert error("steward", keys=[mine])[0] == 403  # stewards answer, they do not file
    assert error("narrow", view="no_such_view", keys=[mine])[0] == 404
    status, path, _ = error("consumer", view="iot_sensor_readings", field="value", keys=["SN-1"])
    assert (status, path) == (422, "keys[0]")  # a two-column key given as one value
    status, path, _ = error(
        "consumer",
        view="iot_sensor_readings",
        field="value",
        keys=[{"sensor_id": "SN-1", "reading_time": "yesterday"}],
    )
    assert (status, path) == (422, "keys[0].reading_time")
    status, path, _ = error("narrow", keys=[mine], problem="   ")
    assert (status, path) == (422, "problem")
    status, path, _ = error("narrow", keys=[])
    assert status == 422 and path is not None and "keys" in path


def test_a_derived_view_goes_to_the_department_owning_the_rows(http: httpx.Client, world: World) -> None:
    """events_unified lists each event's source records: an event from a sensor alert is answered by the
    sensors' owner (EE); event_kpis_daily has none, so its owner (OC) answers."""
    world.client("ops", "consumer", rate_limit=100_000)
    _grant(world, "ops", "events_unified")
    _grant(world, "ops", "event_kpis_daily")
    events = world.platform.lake.scan_current("events_unified")
    assert events is not None
    from_sensor = (
        events.filter(pl.col("source_records").list.first().str.starts_with("sensor_alerts:"))
        .select("event_id")
        .head(1)
        .collect()
        .item()
    )
    made = _file(
        http, world, "ops", view="events_unified", keys=[from_sensor], field="address", problem="x"
    ).json()
    assert (made["owner_department"], made["source_dataset"]) == ("EE", "iot_sensor_readings")
    kpi = _rows(http, world, "ops", "event_kpis_daily", limit=1)[0]
    key = {k: kpi[k] for k in ("date", "department", "district_code", "category")}
    made = _file(http, world, "ops", view="event_kpis_daily", keys=[key], field="events", problem="x").json()
    assert (made["owner_department"], made["source_dataset"]) == ("OC", None)


# ------------------------------------------------------------------------- deadlines and the report


def test_on_time_late_and_overdue_counted_in_the_report(http: httpx.Client, world: World) -> None:
    service = _service(world)
    clock = [datetime(2026, 10, 9, 2, 0)]  # Friday 9 October, 10:00 city time
    corrections = Corrections(service, clock=lambda: clock[0])
    consumer = _principal(world, "consumer")
    ee, steward = _principal(world, "dept_ee"), _principal(world, "steward")
    rows = _rows(http, world, "consumer", "iot_sensor_readings", limit=10)

    def ask(i: int) -> int:
        key = {"sensor_id": rows[i]["sensor_id"], "reading_time": rows[i]["reading_time"]}
        return int(
            corrections.request(consumer, CorrectionAsk("iot_sensor_readings", [key], "value", "读数异常"))[
                "correction_id"
            ]
        )

    on_time, late, still_open, after_month = ask(2), ask(3), ask(4), ask(5)
    # Five working days: Saturday 10 October is worked (调休), so the last day is Thursday 15 October.
    assert corrections.get(on_time, ee)["due_at"] == "2026-10-15T16:00:00Z"
    clock[0] = datetime(2026, 10, 15, 15, 0)  # 23:00 city time on the last day
    assert corrections.accept(on_time, ee, "属实")["overdue"] is False
    clock[0] = datetime(2026, 10, 15, 16, 1)  # 00:01 on Friday 16: past due
    assert corrections.get(still_open, ee)["overdue"] is True
    assert corrections.reject(late, steward, "数据无误")["overdue"] is True
    clock[0] = datetime(2026, 10, 28, 2, 0)
    not_due_yet = ask(6)  # due in November
    clock[0] = datetime(2026, 11, 3, 2, 0)
    corrections.accept(after_month, ee)  # answered after the month: open at its end
    overdue = corrections.find(steward, overdue=True)
    assert {still_open, late, after_month} <= {c["correction_id"] for c in overdue}
    assert not_due_yet not in {c["correction_id"] for c in overdue}

    start, end = recorded_bounds("2026-10")
    figures = correction_figures(world.platform, start, end)
    ee_figures = next(d for d in figures.departments if d.department == "EE")
    assert (ee_figures.received, ee_figures.on_time, ee_figures.late) == (5, 1, 1)
    assert (ee_figures.open, ee_figures.overdue) == (3, 2)
    assert figures.month_ended
    # The same figures straight from the table.
    with world.platform.metadata.engine.connect() as connection:
        by_sql = connection.execute(
            text(
                "SELECT owner_department, count(*),"
                " sum(CASE WHEN answered_at < :end AND answered_at <= due_at THEN 1 ELSE 0 END),"
                " sum(CASE WHEN answered_at < :end AND answered_at > due_at THEN 1 ELSE 0 END),"
                " sum(CASE WHEN answered_at IS NULL OR answered_at >= :end THEN 1 ELSE 0 END),"
                " sum(CASE WHEN (answered_at IS NULL OR answered_at >= :end) AND due_at < :end"
                " THEN 1 ELSE 0 END)"
                f" FROM {CorrectionRequest.__tablename__}"
                " WHERE requested_at >= :start AND requested_at < :end GROUP BY owner_department"
            ),
            {"start": start, "end": end},
        ).all()
    assert {
        (d.department, d.received, d.on_time, d.late, d.open, d.overdue) for d in figures.departments
    } == {tuple(r) for r in by_sql}
    html = re.sub(r">\s+<", "><", render_html(month_figures(world.platform, "2026-10", with_events=False)))
    section = html[html.index('id="corrections"') :]
    assert "本月共收到 5 项申请" in section
    cells = '<td class="n">5</td><td class="n">1</td><td class="n"><span class="bad">1</span></td>'
    cells += '<td class="n">3</td><td class="n"><span class="bad">2</span></td><td class="n">50.0%</td>'
    assert f"<td>{ee_figures.name}</td>{cells}" in section


def test_the_demo_leaves_one_open_request(world: World) -> None:
    number = seed_correction(world.platform, "demo-ops-centre")
    found = Corrections(_service(world)).get(number, _principal(world, "steward"))
    assert found["status"] == "open" and found["client_name"] == "demo-ops-centre"
    assert found["view"] == "iot_sensor_readings" and found["owner_department"] == "EE"


def test_the_console_lists_answers_and_refuses(
    http: httpx.Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(world.platform.settings.home))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    row = _rows(http, world, "consumer", "iot_sensor_readings", limit=10)[7]
    key = {"sensor_id": row["sensor_id"], "reading_time": row["reading_time"]}
    number = _file(
        http, world, "consumer", view="iot_sensor_readings", keys=[key], field="value", problem="控制台"
    ).json()["correction_id"]
    listed = runner.invoke(app, ["correction", "list", "--department", "EE", "--status", "open", "--json"])
    assert listed.exit_code == 0, listed.output
    assert number in [c["correction_id"] for c in json.loads(listed.stdout)]
    table = runner.invoke(app, ["correction", "list", "--overdue"])
    assert table.exit_code == 0 and "correction requests" in table.stdout
    shown = runner.invoke(app, ["correction", "show", str(number)])
    assert shown.exit_code == 0 and "控制台" in shown.stdout and "open" in shown.stdout
    assert runner.invoke(app, ["correction", "list", "--status", "closed"]).exit_code == 2
    assert runner.invoke(app, ["correction", "reject", str(number)]).exit_code == 2  # --reason is required
    rejected = runner.invoke(app, ["correction", "reject", str(number), "--reason", "经核实无误"])
    assert rejected.exit_code == 0 and "rejected" in rejected.stdout
    again = runner.invoke(app, ["correction", "accept", str(number)])
    assert again.exit_code == 2 and "[conflict]" in again.output
    missing = runner.invoke(app, ["correction", "show", "999999", "--json"])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"]["code"] == "not_found"
    assert _audit(world, number) == ["correction.request", "correction.reject"]
