"""The month's answer deadlines of grant requests: the figures against direct SQL, and in the report."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from datahub.access import Clients
from datahub.access.grants import now_utc
from datahub.citytime import city_time, recorded_time
from datahub.metadata import Grant, GrantStatus
from datahub.pipeline import ingest_file
from datahub.platform import Platform
from datahub.reports.figures import month_figures, months, recorded_bounds
from datahub.reports.grant_deadlines import GrantDeadlines, deadline_figures
from datahub.reports.render import render_html
from tests.hotline_rows import valid_row, write_hotline


def city(value: str) -> datetime:
    return recorded_time(datetime.fromisoformat(value))


def _grant(platform: Platform, client: str, requested: str, status: str, **times: str) -> Grant:
    at = city(requested)
    return Grant(
        client_id=client,
        view="hotline_12345",
        purpose="研判",
        status=status,
        requested_at=at,
        due_at=platform.dictionary.calendar.due(at, platform.settings.grant_answer_days),
        **{name: city(value) for name, value in times.items()},
    )


def test_month_counts_equal_direct_sql(platform: Platform) -> None:
    client = Clients(platform.metadata, platform.dictionary).create("ops", "consumer").client_id
    g = GrantStatus
    grants = [
        # 2026-02-12 (Thu): due at the end of Thu 26 February (春节 15–23 off, Sat 14 worked).
        _grant(platform, client, "2026-02-12 10:00", g.approved, decided_at="2026-02-26 18:00"),  # on time
        _grant(platform, client, "2026-02-12 11:00", g.refused, decided_at="2026-02-27 09:00"),  # late
        _grant(platform, client, "2026-02-02 09:00", g.requested),  # open at the month's end, overdue
        _grant(platform, client, "2026-02-27 09:00", g.requested),  # open, not yet due (due 6 March)
        # Decided in March: open at February's end; due 26 February, so overdue then.
        _grant(platform, client, "2026-02-12 12:00", g.approved, decided_at="2026-03-02 10:00"),
        # Withdrawn in February before an answer: neither answered nor open.
        _grant(platform, client, "2026-02-03 09:00", g.revoked, revoked_at="2026-02-04 09:00"),
        # January request answered late in February (due at the end of 30 January).
        _grant(platform, client, "2026-01-23 09:00", g.approved, decided_at="2026-02-03 09:00"),
        # Answered in January: not February's.
        _grant(platform, client, "2026-01-05 09:00", g.approved, decided_at="2026-01-06 09:00"),
        # 24:00 on 28 February city time is March: the month's requests end before it.
        _grant(platform, client, "2026-03-01 00:00", g.requested),
    ]
    with platform.metadata.session() as s:
        s.add_all(grants)

    start, end = recorded_bounds("2026-02")
    figures = deadline_figures(platform, start, end)

    def count(where: str) -> int:
        with platform.metadata.engine.connect() as connection:
            return int(
                connection.execute(
                    text(f"SELECT count(*) FROM grants WHERE {where}"), {"start": start, "end": end}
                ).scalar_one()
            )

    answered = "decided_at >= :start AND decided_at < :end"
    waiting = (
        "requested_at < :end AND (decided_at IS NULL OR decided_at >= :end)"
        " AND (revoked_at IS NULL OR revoked_at >= :end)"
    )
    expected = GrantDeadlines(
        requested=count("requested_at >= :start AND requested_at < :end"),
        answered=count(answered),
        on_time=count(f"{answered} AND decided_at <= due_at"),
        late=count(f"{answered} AND decided_at > due_at"),
        open=count(waiting),
        overdue=count(f"{waiting} AND due_at < :end"),
        answer_days=5,
    )
    assert figures == expected
    # And the figures are those the scenario was written for.
    assert (figures.requested, figures.answered, figures.on_time, figures.late) == (6, 3, 1, 2)
    assert (figures.open, figures.overdue) == (3, 2)
    assert figures.on_time_rate is not None and round(figures.on_time_rate, 1) == 33.3


def test_the_report_shows_the_deadline_figures(platform: Platform, tmp_path: Path) -> None:
    hotline = platform.catalog.get("hotline_12345")
    rows = [valid_row(platform.dictionary, i) for i in range(8)]
    delivered = ingest_file(platform, hotline.name, write_hotline(tmp_path / "hotline.csv", rows, hotline))
    assert delivered.status == "published"
    client = Clients(platform.metadata, platform.dictionary).create("ops", "consumer").client_id
    requested = now_utc()
    with platform.metadata.session() as s:
        s.add(_grant(platform, client, str(city_time(requested)), GrantStatus.requested))
    month = months(platform)[-1]
    figures = month_figures(platform, month, with_events=False)
    assert figures.grant_deadlines == deadline_figures(platform, *recorded_bounds(month))
    assert figures.grant_deadlines is not None and figures.grant_deadlines.requested == 1

    shown = GrantDeadlines(requested=9, answered=7, on_time=5, late=2, open=4, overdue=3, answer_days=5)
    html = render_html(replace(figures, grant_deadlines=shown))
    paragraph = html.split('id="grant-deadlines">', 1)[1].split("</p>", 1)[0]
    assert "5 个工作日" in paragraph
    assert "收到申请 <b>9</b> 项" in paragraph
    assert "按时 <b>5</b> 项、逾期答复 <b>2</b> 项（按时率 71.4%）" in paragraph
    assert "月末未答复 <b>4</b> 项，其中已逾期 <b>3</b> 项" in paragraph
