"""The month's figures equal what plain SQL on the metadata database (and DuckDB on the published views)
gives for that month, computed here independently of datahub.reports."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from sqlalchemy import text

from datahub.errors import InputError, NotFound
from datahub.quality.history import PASS_RATE_TARGET
from datahub.reports import figures
from datahub.reports.figures import NO_DATA, RED, YELLOW, MonthFigures
from tests.reports.world import BLOCKED_ROWS, MONTH, PREVIOUS, READS, ReportWorld

RUNS_IN_MONTH = """
SELECT {columns}
FROM quality_runs q JOIN deliveries d ON d.id = q.delivery_id
JOIN contract_versions cv
  ON cv.contract_id = 'urn:datahub:contract:' || q.dataset AND cv.version = q.contract_version
WHERE d.delivered_at >= :start AND d.delivered_at < :end
"""
# The city's months (UTC+8) as bounds on recorded times (naive UTC).
BOUNDS = {
    MONTH: ("2026-09-30 16:00:00", "2026-10-31 16:00:00"),
    PREVIOUS: ("2026-08-31 16:00:00", "2026-09-30 16:00:00"),
}


def _sql(world: ReportWorld, query: str, month: str = MONTH) -> list[Any]:
    start, end = BOUNDS[month]
    with world.platform.metadata.engine.connect() as connection:
        return list(connection.execute(text(query), {"start": start, "end": end}).all())


@pytest.fixture(scope="module")
def october(world: ReportWorld) -> MonthFigures:
    return figures.month_figures(world.platform, MONTH)


def test_months_are_those_with_quality_runs(world: ReportWorld) -> None:
    assert figures.months(world.platform) == [PREVIOUS, MONTH]


def test_city_pass_rate_score_and_counts_equal_sql(world: ReportWorld, october: MonthFigures) -> None:
    for month, totals in ((MONTH, october.city), (PREVIOUS, october.previous)):
        assert totals is not None
        (rows_in, passed, runs, blocked, weighted), *_ = _sql(
            world,
            RUNS_IN_MONTH.format(
                columns="SUM(q.rows_in), SUM(q.rows_passed), COUNT(*), SUM(q.blocked), "
                "SUM(q.overall_score * q.rows_in) / SUM(q.rows_in)"
            ),
            month,
        )
        assert (totals.rows_in, totals.rows_passed, totals.runs, totals.blocked) == (
            rows_in,
            passed,
            runs,
            blocked,
        )
        assert totals.pass_rate == pytest.approx(100 * passed / rows_in, abs=1e-3)
        assert totals.score == pytest.approx(weighted, abs=1e-3)
    assert october.city.blocked == 1  # the held-back hotline delivery
    assert october.target == PASS_RATE_TARGET
    assert october.pass_rate_change == pytest.approx(october.city.pass_rate - october.previous.pass_rate)  # type: ignore[operator,union-attr]


def test_each_department_equals_sql_by_owner(world: ReportWorld, october: MonthFigures) -> None:
    rows = _sql(
        world,
        RUNS_IN_MONTH.format(
            columns="cv.owner_department, SUM(q.rows_in), SUM(q.rows_passed), COUNT(*), SUM(q.blocked)"
        )
        + " GROUP BY cv.owner_department",
    )
    expected = {dept: (rows_in, passed, runs, blocked) for dept, rows_in, passed, runs, blocked in rows}
    got = {
        d.code: (d.quality.rows_in, d.quality.rows_passed, d.quality.runs, d.quality.blocked)
        for d in october.departments
        if d.quality.runs
    }
    assert got == expected
    assert len(expected) >= 5
    names = {c.code: c.name_zh for c in world.platform.dictionary.codes("department").values()}
    assert {d.code for d in october.departments} == set(names)  # every department, with data or not
    for d in october.departments:
        assert d.name == names[d.code]
        if d.code in expected:
            rows_in, passed, *_ = expected[d.code]
            assert d.quality.pass_rate == pytest.approx(100 * passed / rows_in, abs=1e-3)


def test_ranking_and_red_yellow_lists_follow_the_rule(october: MonthFigures) -> None:
    ranked = [d for d in october.departments if d.rank is not None]
    assert [d.rank for d in ranked] == list(range(1, len(ranked) + 1))
    rates = [d.quality.pass_rate for d in ranked]
    assert rates == sorted(rates, reverse=True)  # type: ignore[type-var]
    for d in october.departments:
        q = d.quality
        if not q.runs:
            assert (d.board, d.rank) == (NO_DATA, None)
        elif q.pass_rate >= PASS_RATE_TARGET and not q.blocked and not q.late:  # type: ignore[operator]
            assert d.board == RED
        else:
            assert d.board == YELLOW
    boards = {d.code: d.board for d in october.departments}
    assert boards["OC"] == YELLOW  # blocked hotline delivery
    assert boards["CA"] == YELLOW  # the stale population census, though its pass rate meets the target
    assert RED in boards.values()


def test_dimension_scores_are_row_weighted_means(world: ReportWorld, october: MonthFigures) -> None:
    rows = _sql(
        world,
        """
        SELECT cv.owner_department, s.dimension, SUM(s.score * q.rows_in) / SUM(q.rows_in)
        FROM quality_scores s JOIN quality_runs q ON q.id = s.run_id JOIN deliveries d ON d.id = q.delivery_id
        JOIN contract_versions cv ON cv.contract_id = 'urn:datahub:contract:' || q.dataset
             AND cv.version = q.contract_version
        WHERE d.delivered_at >= :start AND d.delivered_at < :end GROUP BY 1, 2
        """,
    )
    by_code = {d.code: d for d in october.departments}
    for dept, dimension, score in rows:
        assert by_code[dept].quality.dimensions[dimension] == pytest.approx(score, abs=1e-3)
    assert len(rows) == sum(len(d.quality.dimensions) for d in october.departments)


def test_problems_late_and_blocked_equal_sql(world: ReportWorld, october: MonthFigures) -> None:
    (failed, evaluated, kinds), *_ = _sql(
        world,
        """
        SELECT SUM(r.failed), SUM(r.evaluated), COUNT(DISTINCT q.dataset || '/' || r.name)
        FROM rule_results r JOIN quality_runs q ON q.id = r.run_id JOIN deliveries d ON d.id = q.delivery_id
        WHERE d.delivered_at >= :start AND d.delivered_at < :end AND NOT r.success
        """,
    )
    rules = [p for p in october.problems if p.kind == "rule"]
    assert (sum(p.failed for p in rules), sum(p.evaluated for p in rules), len(rules)) == (
        failed,
        evaluated,
        kinds,
    )
    (quarantined,), *_ = _sql(
        world,
        """
        SELECT SUM(r.rows) FROM quarantine_reasons r JOIN deliveries d ON d.id = r.delivery_id
        WHERE d.delivered_at >= :start AND d.delivered_at < :end AND r.reason != 'blocked_by_rule'
        """,
    )
    assert sum(p.failed for p in october.problems if p.kind == "conformity") == quarantined
    assert october.problems[0].blocking and october.problems[0].department == "OC"
    assert all(p.examples for p in october.problems if p.kind == "conformity")
    stale = _sql(
        world,
        """
        SELECT d.id FROM rule_results r JOIN quality_runs q ON q.id = r.run_id
        JOIN deliveries d ON d.id = q.delivery_id
        WHERE d.delivered_at >= :start AND d.delivered_at < :end AND NOT r.success
          AND r."check" = 'stale_delivery'
        """,
    )
    assert sorted(item.delivery_id for item in october.late) == sorted(r[0] for r in stale)
    assert len(stale) == 1 and october.late[0].late_hours and october.late[0].late_hours > 24
    assert [(b.dataset, b.blocked_deliveries, b.rows_held) for b in october.blocked] == [
        ("hotline_12345", 1, BLOCKED_ROWS)
    ]


def test_examples_are_masked(october: MonthFigures) -> None:
    from tests.hotline_rows import VALID_ID, VALID_PHONE

    shown = " ".join(e for p in october.problems for e in p.examples)
    assert VALID_PHONE not in shown and VALID_ID not in shown
    phones = [p for p in october.problems if p.kind == "conformity" and p.column == "user_phone"]
    assert phones and all("*" in e or "（空）" in e for p in phones for e in p.examples)


def test_sharing_counts_the_month_only(october: MonthFigures) -> None:
    s = october.sharing
    assert (s.requested, s.approved, s.refused, s.revoked, s.pending) == (3, 1, 1, 1, 1)
    assert s.approval_rate == 50.0
    assert {c.client: (c.reads, c.rows) for c in s.consumers} == READS
    assert (s.reads, s.rows_served) == (4, 650)
    assert s.sharing_rate == pytest.approx(100 * s.shared_resources / s.resources, abs=0.05)
    assert s.resources == 11  # 7 city datasets (the two foreign samples excluded) + 4 views


def test_event_kpis_equal_the_published_daily_view(world: ReportWorld, october: MonthFigures) -> None:
    lake = world.platform.lake
    kpis_version, events_version = (
        lake.current_version("event_kpis_daily"),
        lake.current_version("events_unified"),
    )
    assert kpis_version is not None and events_version is not None
    kpis, events = lake.rows(kpis_version), lake.rows(events_version)
    con = duckdb.connect()
    con.register("kpis", kpis)
    con.register("events", events)
    row = con.execute(
        "SELECT SUM(events), SUM(closed_events), SUM(resolved_events), SUM(resolution_known), "
        "SUM(satisfied_events), SUM(rated_events), SUM(repeat_events), SUM(reporter_events), "
        "SUM(response_overdue), SUM(handling_overdue) FROM kpis "
        "WHERE date >= DATE '2026-10-01' AND date < DATE '2026-11-01'"
    ).fetchone()
    assert row is not None
    e = october.events
    assert e is not None
    assert (e.events, e.closed, e.resolved, e.resolution_known, e.satisfied, e.rated) == row[:6]
    assert (e.repeat_events, e.reporter_events, e.response_overdue, e.handling_overdue) == row[6:]
    assert e.closure_rate == pytest.approx(100 * row[1] / row[0], abs=0.01)
    by_level = dict(
        con.execute(
            "SELECT response_level, COUNT(*) FROM events "
            "WHERE report_time >= TIMESTAMP '2026-10-01' AND report_time < TIMESTAMP '2026-11-01' GROUP BY 1"
        ).fetchall()
    )
    assert {lv.level: lv.events for lv in e.by_level if lv.events} == by_level
    assert sum(c.events for c in e.by_category) == e.events > 0
    p50 = con.execute(
        "SELECT quantile_cont(date_diff('microsecond', report_time, dispatch_time) / 60e6, 0.5) "
        "FROM events WHERE response_level = 'red' AND report_time >= TIMESTAMP '2026-10-01' "
        "AND report_time < TIMESTAMP '2026-11-01'"
    ).fetchone()
    red = next(lv for lv in e.by_level if lv.level == "red")
    assert red.response_p50 == pytest.approx(p50[0], abs=0.05)  # type: ignore[index]
    assert red.limit_minutes == 30


def test_actions_name_the_yellow_departments_and_the_late_delivery(october: MonthFigures) -> None:
    text = "\n".join(october.actions)
    for d in october.yellow_list:
        assert d.name in text
    assert "网格人口统计" in text and "超出时效" in text
    assert october.red_list
    for d in october.red_list:
        assert not any(a.startswith(f"{d.name}：本月数据合格率") for a in october.actions)


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-10", "", "2026-10-01", "0000-01", "9999-12"])
def test_a_malformed_month_is_refused(world: ReportWorld, month: str) -> None:
    with pytest.raises(InputError):
        figures.month_figures(world.platform, month)


def test_a_month_without_runs_is_not_found(world: ReportWorld) -> None:
    with pytest.raises(NotFound):
        figures.month_figures(world.platform, "2026-08")


def test_overview_is_the_latest_month(world: ReportWorld) -> None:
    now = figures.overview(world.platform, with_events=False)
    assert now is not None and now.month == MONTH and now.trend.months == (PREVIOUS, MONTH)
    assert now.events is None
