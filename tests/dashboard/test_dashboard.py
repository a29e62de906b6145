"""The steward dashboard end to end in headless Chromium: sign-in, the overview against the metadata
database, a dataset with a failing rule and its rows, the quarantine (masked on the page, as delivered in
the download), approving a grant, and what each role may and may not see or do. No page may load
anything from outside the machine (conftest.Visitor)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select

from datahub.dictionary.loader import DEPARTMENT_TABLE
from datahub.metadata import Delivery, Grant, QualityRun
from datahub.platform import Platform
from tests.dashboard.conftest import CHROMIUM, DashboardWorld, Visitor

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium (scripts/system-packages)",
)

PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)%")


def _number(text: str) -> float:
    found = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    assert found, text
    return float(found.group(0).replace(",", ""))


def _runs(platform: Platform) -> list[dict[str, Any]]:
    """Every quality run with its delivery time and owner department, straight from the database."""
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                QualityRun.dataset, QualityRun.rows_in, QualityRun.rows_passed, QualityRun.overall_score,
                Delivery.delivered_at,
            ).join(Delivery, Delivery.id == QualityRun.delivery_id)
        ).all()  # fmt: skip
    return [
        {
            "dataset": r.dataset,
            "rows_in": r.rows_in,
            "rows_passed": r.rows_passed,
            "score": r.overall_score,
            "month": f"{r.delivered_at:%Y-%m}",
            "department": platform.catalog.get(r.dataset).owner_department,
        }
        for r in rows
    ]


def _expected(runs: list[dict[str, Any]]) -> tuple[float, float]:
    rows_in = sum(r["rows_in"] for r in runs)
    return (
        100 * sum(r["rows_passed"] for r in runs) / rows_in,
        sum(r["score"] * r["rows_in"] for r in runs) / rows_in,
    )


def _month_label(month: str) -> str:
    year, number = month.split("-")
    return f"{year}年{int(number)}月"


def _check_overview(v: Visitor, platform: Platform, month: str) -> None:
    """The overview's city figures and department table equal what the database holds for ``month``."""
    runs = [r for r in _runs(platform) if r["month"] == month]
    pass_rate, score = _expected(runs)
    assert abs(_number(v.text("#city-pass-rate")) - pass_rate) <= 0.005 + 1e-9
    assert abs(_number(v.text("#city-score")) - score) <= 0.05 + 1e-9
    names = {c: code.name_zh for c, code in platform.dictionary.codes(DEPARTMENT_TABLE).items()}
    shown: dict[str, str] = {}
    for row in v.page.locator("#departments tr.dept").all():
        cells = [c.inner_text().strip() for c in row.locator("td").all()]
        shown[cells[1]] = cells[3]
    by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by_department[r["department"]].append(r)
    assert set(shown) == {names[code] for code in by_department}
    for code, items in by_department.items():
        expected_rate, _ = _expected(items)
        assert abs(_number(shown[names[code]]) - expected_rate) <= 0.005 + 1e-9, names[code]
    idle = v.text("#no-data")
    assert all(name in idle for code, name in names.items() if code not in by_department)


def test_steward_signs_in_and_the_overview_matches_the_metadata_database(
    dashboard: DashboardWorld, visit: Any
) -> None:
    v = visit()
    assert v.open("/dashboard/sharing").url.endswith("/dashboard/login?next=/dashboard/sharing")
    v.sign_in(dashboard.world.keys["steward"])
    assert v.page.url == f"{dashboard.url}/dashboard/sharing"
    cookie = next(c for c in v.page.context.cookies() if c["name"] == "datahub_dashboard")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/dashboard")
    assert dashboard.world.keys["steward"] not in cookie["value"]

    platform = dashboard.world.platform
    months = sorted({r["month"] for r in _runs(platform)})
    response = v.open("/dashboard/", shot="overview-latest")
    assert response.status == 200
    assert _month_label(months[-1]) in v.text("h1")
    _check_overview(v, platform, months[-1])

    # Every month can be chosen; the first is the month of the synthetic deliveries and their problems.
    if len(months) > 1:
        v.page.click(f"nav.months a:has-text('{_month_label(months[0])}')")
        v.screenshot("overview-first-month")
        _check_overview(v, platform, months[0])
    problems = v.text("#problems")
    # The rule as the contract describes it, and the dataset that owns it.
    assert "关联热线工单须在 12345 热线已发布数据中存在" in problems and "政务APP及微信上报事件" in problems
    assert v.page.locator("#problems a[href$='/dashboard/datasets/gov_app_reports']").count() >= 1
    assert "网格人口统计" in v.text("#attention")  # its delivery was older than its SLA allows

    assert v.open("/dashboard/datasets").status == 200
    listed = {a.get_attribute("href") for a in v.page.locator("table a").all()}
    assert {f"/dashboard/datasets/{d.name}" for d in platform.catalog} == listed

    assert v.open("/dashboard/kpis").status == 200
    events = platform.lake.scan_current("events_unified")
    assert events is not None
    shown_month = v.text("h1").split("·")[-1].strip()
    year, number = (int(x) for x in re.findall(r"\d+", shown_month))
    start = datetime(year, number, 1)
    end = datetime(year + number // 12, number % 12 + 1, 1)
    in_month = events.filter((pl.col("report_time") >= start) & (pl.col("report_time") < end))
    assert _number(v.text("#events-total")) == in_month.select(pl.len()).collect().item() > 0
    assert "红色" in v.text("#levels") and "30 分钟" in v.text("#levels")


def _failing_rule(platform: Platform) -> tuple[str, str, list[dict[str, Any]]]:
    """A dataset whose latest quality run has a failing rule with failing rows: (dataset, rule, sample)."""
    with platform.metadata.session() as s:
        runs = s.scalars(select(QualityRun).join(Delivery).order_by(Delivery.delivered_at.desc())).all()
        seen = set()
        for run in runs:
            if run.dataset in seen:
                continue
            seen.add(run.dataset)
            for rule in run.rules:
                if not rule.success and rule.sample:
                    return run.dataset, rule.name, list(rule.sample)
    raise AssertionError("the world has no failing rule with rows")


def test_a_dataset_with_a_failing_rule_shows_the_rule_and_its_rows(
    dashboard: DashboardWorld, visit: Any
) -> None:
    platform = dashboard.world.platform
    dataset, rule, sample = _failing_rule(platform)
    v = visit("steward")
    assert v.open(f"/dashboard/datasets/{dataset}").status == 200
    rules = v.page.locator("#rules tr.warning, #rules tr.failing")
    assert rule in rules.all_inner_texts()[0] or any(rule in t for t in rules.all_inner_texts())
    failing = v.text("#failing")
    assert rule in failing
    for row in sample[:10]:
        key = next(value for name, value in row.items() if not name.startswith("_"))
        assert str(key) in failing, key
    assert "行数核对" in v.text("h2:has-text('交付与行数核对')") or v.text("#deliveries")
    assert "一致" in v.text("#deliveries")
    assert "版本 1.0.0" in v.text("#contract")


def test_the_quarantine_is_masked_on_the_page_and_as_delivered_in_the_download(
    dashboard: DashboardWorld, visit: Any
) -> None:
    platform = dashboard.world.platform
    hotline = platform.catalog.get("hotline_12345")
    files = sorted((platform.lake.root / "quarantine" / hotline.name).glob("*.parquet"))
    raw = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    phones = {p for p in raw.get_column("联系电话").drop_nulls().to_list() if re.fullmatch(r"1\d{10}", p)}
    ids = {p for p in raw.get_column("身份证号").drop_nulls().to_list() if len(p) == 18}
    assert phones and ids

    v = visit("steward")
    assert v.open("/dashboard/datasets/hotline_12345", shot="quarantine").status == 200
    html = v.page.content()
    leaked = [value for value in phones | ids if value in html]
    assert not leaked, f"personal values shown unmasked: {leaked[:3]}"
    quarantine = v.text("#quarantine")
    assert "*" in quarantine and "主键重复" in quarantine

    with v.page.expect_download() as download:
        v.page.locator("#quarantine a:has-text('下载 CSV')").first.click()
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert body.splitlines()[0].startswith("工单编号,") and "问题 reasons" in body.splitlines()[0]
    assert any(phone in body for phone in phones), "the download holds the rows as delivered"
    records = dashboard.service.audit_records(action="quarantine.export", view="hotline_12345")
    assert records and records[0]["client_name"] == "steward" and records[0]["rows"] > 0

    # Another department may neither open the dataset nor download its quarantine.
    other = visit("dept_ps")
    response = other.open("/dashboard/datasets/hotline_12345")
    assert response.status == 403 and "部门只能查看本部门的数据集" in other.text("main")
    href = v.page.locator("#quarantine a:has-text('下载 CSV')").first.get_attribute("href")
    assert href
    refused = other.page.request.get(dashboard.url + href)
    assert refused.status == 403 and "工单编号" not in refused.text()


def test_a_steward_approves_a_pending_grant(dashboard: DashboardWorld, visit: Any) -> None:
    grant_id = dashboard.pending.for_approval
    v = visit("steward")
    assert v.open("/dashboard/sharing", shot="sharing-before").status == 200
    row = v.page.locator(f"#grant-{grant_id}")
    assert "区级平台研判噪音投诉" in row.inner_text()
    assert "%" in v.text("#sharing-rate")
    row.locator("form[action$='/approve'] input[name=note]").fill("同意，限区级研判使用")
    with v.page.expect_navigation():
        row.locator("button:has-text('批准')").click()
    v.screenshot("sharing-after")
    assert f"已批准授权申请 #{grant_id}" in v.text(".notice")
    assert v.page.locator(f"#grant-{grant_id}").count() == 0
    assert "同意，限区级研判使用" in v.text("#decided")

    with dashboard.world.platform.metadata.session() as s:
        grant = s.get(Grant, grant_id)
        assert grant is not None
        assert (grant.status, grant.decided_by, grant.decision_note) == (
            "approved",
            "steward",
            "同意，限区级研判使用",
        )
    records = dashboard.service.audit_records(action="grant.approve")
    assert any(r["detail"]["grant_id"] == grant_id and r["client_name"] == "steward" for r in records)


def test_a_department_sees_only_its_own_datasets(dashboard: DashboardWorld, visit: Any) -> None:
    platform = dashboard.world.platform
    own = {d.name for d in platform.catalog if d.owner_department == "OC"}
    v = visit("dept_oc")
    assert v.open("/dashboard/datasets").status == 200
    listed = {str(a.get_attribute("href")).rsplit("/", 1)[-1] for a in v.page.locator("table a").all()}
    assert listed == own
    assert v.open("/dashboard/").status == 200
    departments = [c.strip() for c in v.page.locator("#departments .dept-name").all_inner_texts()]
    assert departments == ["城市运行管理中心"]
    assert "物联感知监测数据" not in v.text("main")
    response = v.open("/dashboard/datasets/iot_sensor_readings")
    assert response.status == 403 and "部门只能查看本部门的数据集" in v.text("main")
    assert v.open("/dashboard/sharing").status == 200
    assert v.page.locator("button:has-text('批准')").count() == 0


def test_a_leader_sees_summaries_but_cannot_approve(dashboard: DashboardWorld, visit: Any) -> None:
    grant_id = dashboard.pending.for_leader
    v = visit("leader")
    assert v.open("/dashboard/").status == 200
    assert v.page.locator("#city-pass-rate").count() == 1
    assert v.page.locator("main a[href*='/dashboard/datasets/']").count() == 0
    assert "数据集" not in v.page.locator("header nav").inner_text()
    assert v.open("/dashboard/datasets/gov_app_reports").status == 403
    assert v.open("/dashboard/sharing").status == 200
    assert v.page.locator(f"#grant-{grant_id}").count() == 1
    assert v.page.locator("button:has-text('批准')").count() == 0
    refused = v.page.request.post(
        f"{dashboard.url}/dashboard/grants/{grant_id}/approve", form={"csrf": v.csrf(), "note": "领导同意"}
    )
    assert refused.status == 403 and "审批" in refused.text()
    with dashboard.world.platform.metadata.session() as s:
        grant = s.get(Grant, grant_id)
        assert grant is not None and grant.status == "requested"


def test_a_wrong_key_is_refused(dashboard: DashboardWorld, visit: Any) -> None:
    v = visit()
    response = v.sign_in("dh_" + "x" * 43)
    v.screenshot("wrong-key")
    assert response is not None and response.status == 401
    assert "密钥无效或已停用" in v.text(".notice.error")
    assert not [c for c in v.page.context.cookies() if c["name"] == "datahub_dashboard"]
    assert v.open("/dashboard/").url.startswith(f"{dashboard.url}/dashboard/login")


def test_a_consumer_key_gets_a_chinese_403(dashboard: DashboardWorld, visit: Any) -> None:
    v = visit()
    response = v.sign_in(dashboard.world.keys["consumer"])
    v.screenshot("consumer")
    assert response is not None and response.status == 403
    assert "无权访问" in v.text("h1") and "接入系统" in v.text("main")
    assert not [c for c in v.page.context.cookies() if c["name"] == "datahub_dashboard"]


def test_forms_need_the_session_csrf_token_and_sign_out_ends_the_session(
    dashboard: DashboardWorld, visit: Any
) -> None:
    grant_id = dashboard.pending.for_leader
    v = visit("steward")
    v.open("/dashboard/sharing")
    forged = v.page.request.post(f"{dashboard.url}/dashboard/grants/{grant_id}/approve", form={"note": "x"})
    assert forged.status == 400 and "表单已失效" in forged.text()
    other = visit("admin")
    other.open("/dashboard/")
    stolen = v.page.request.post(
        f"{dashboard.url}/dashboard/grants/{grant_id}/approve", form={"csrf": other.csrf()}
    )
    assert stolen.status == 400
    with dashboard.world.platform.metadata.session() as s:
        grant = s.get(Grant, grant_id)
        assert grant is not None and grant.status == "requested"
    with v.page.expect_navigation():
        v.page.click("form[action$='/logout'] button")
    assert "已退出登录" in v.text("main")
    assert v.open("/dashboard/").url.startswith(f"{dashboard.url}/dashboard/login")


def test_the_guard_catches_a_request_leaving_the_machine(visit: Any) -> None:
    v = visit()  # on about:blank: no dashboard page (whose CSP would stop the request first)
    v.page.set_content('<img src="http://example.invalid/tracker.png"><p>外部图片</p>')
    v.page.wait_for_timeout(200)
    assert v.outside == ["http://example.invalid/tracker.png"]
    v.outside.clear()  # caught: the check itself works
