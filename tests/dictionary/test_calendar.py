"""The working-day calendar: holidays, days worked in exchange, deadlines in city time, and how a broken
calendar.yaml is reported."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datahub.citytime import recorded_time
from datahub.cli import app
from datahub.dictionary import WorkCalendar, calendar_warnings, check_dictionary, load_dictionary
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return load_dictionary(ROOT / "dictionary").calendar


def city(text: str) -> datetime:
    """A city time as the platform records it (naive UTC)."""
    return recorded_time(datetime.fromisoformat(text))


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2025-03-07", True),  # an ordinary Friday
        ("2025-03-08", False),  # an ordinary Saturday
        ("2025-03-09", False),  # an ordinary Sunday
        ("2025-10-08", False),  # a Wednesday of 国庆节、中秋节
        ("2025-01-01", False),  # 元旦, a Wednesday
        ("2025-02-08", True),  # a Saturday worked for 春节 (调休上班)
        ("2025-01-26", True),  # a Sunday worked for 春节
        ("2026-02-14", True),  # a Saturday worked for 春节 2026
        ("2026-02-16", False),  # 春节 2026, a Monday
        ("2026-10-10", True),  # a Saturday worked for 国庆节 2026
        ("2027-01-01", True),  # a Friday of a year not listed: weekends only
        ("2027-01-02", False),  # a Saturday of a year not listed
    ],
)
def test_is_working_day(calendar: WorkCalendar, day: str, working: bool) -> None:
    assert calendar.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("requested", "days", "due"),
    [
        # Friday → five working days → the next Friday, at 24:00 city time.
        ("2025-03-07 10:00", 5, "2025-03-15 00:00"),
        # Late on a Friday is still Friday: the hour does not matter.
        ("2025-03-07 23:59", 5, "2025-03-15 00:00"),
        # Wednesday before 劳动节: 1–5 May off, Tue 6 … Fri 9, then Mon 12.
        ("2025-04-30 09:00", 5, "2025-05-13 00:00"),
        # Across 春节 2026: Fri 13, Sat 14 (worked), 15–23 off, Tue 24, Wed 25, Thu 26.
        ("2026-02-12 16:00", 5, "2026-02-27 00:00"),
        # Across the year boundary: 2026-01-01..03 off, Sun 4 worked, Mon 5 … Thu 8.
        ("2025-12-31 15:00", 5, "2026-01-09 00:00"),
        # A request made on a holiday counts from the next working day.
        ("2025-10-03 11:00", 1, "2025-10-10 00:00"),
        # 0 working days: the end of the day of the request.
        ("2025-03-07 10:00", 0, "2025-03-08 00:00"),
    ],
)
def test_due_is_the_end_of_the_nth_working_day(
    calendar: WorkCalendar, requested: str, days: int, due: str
) -> None:
    assert calendar.due(city(requested), days) == city(due)


def test_due_counts_the_city_day_not_the_utc_day(calendar: WorkCalendar) -> None:
    # 20:00 UTC on Thursday 6 March is 04:00 on Friday 7 March in the city.
    assert calendar.due(datetime(2025, 3, 6, 20, 0), 1) == city("2025-03-11 00:00")
    assert calendar.due(datetime(2025, 3, 6, 15, 0), 1) == city("2025-03-08 00:00")


def test_due_refuses_negative_days(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="0 or more"):
        calendar.due(datetime(2025, 3, 6), -1)


def test_working_days_between(calendar: WorkCalendar) -> None:
    assert calendar.working_days_between(city("2026-02-12 10:00"), city("2026-02-12 18:00")) == 0
    assert calendar.working_days_between(city("2026-02-12 10:00"), city("2026-02-26 09:00")) == 5
    assert calendar.working_days_between(city("2026-02-12 10:00"), city("2026-02-22 09:00")) == 2


def test_an_empty_calendar_counts_weekends_only() -> None:
    empty = WorkCalendar()
    assert empty.is_working_day(date(2025, 10, 8))
    assert not empty.is_working_day(date(2025, 2, 8))
    assert empty.due(city("2025-09-30 10:00"), 5) == city("2025-10-08 00:00")


def test_real_calendar_lists_2025_and_2026_with_their_notices(calendar: WorkCalendar) -> None:
    assert {2025, 2026} <= calendar.years
    assert calendar_warnings(load_dictionary(ROOT / "dictionary"), today=date(2025, 6, 1)) == []
    text = (ROOT / "dictionary" / "calendar.yaml").read_text(encoding="utf-8")
    assert "国务院办公厅关于2025年部分节假日安排的通知" in text
    assert "国务院办公厅关于2026年部分节假日安排的通知" in text


def test_warns_while_the_current_or_next_year_is_missing() -> None:
    d = load_dictionary(ROOT / "dictionary")
    warnings = calendar_warnings(d, today=date(2026, 12, 7))
    assert [(w.file, w.entry, w.severity) for w in warnings] == [("calendar.yaml", "year 2027", "warning")]
    assert "count weekends only" in warnings[0].reason
    assert [w.entry for w in calendar_warnings(d, today=date(2030, 1, 1))] == ["year 2030", "year 2031"]


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    root = tmp_path / "dictionary"
    shutil.copytree(ROOT / "dictionary", root)
    path = root / "calendar.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("old", "new", "entry", "reason"),
    [
        ("work: [2025-04-27]", "work: [2025-04-28]", "year 2025 劳动节", "2025-04-28 is a Monday"),
        ("from: 2025-04-04, to: 2025-04-06", "from: 2025-04-06, to: 2025-04-04", "years[0] 2025", "before"),
        ("from: 2026-06-19, to: 2026-06-21", "from: 2026-05-05, to: 2026-05-05", "year 2026 端午节", "twice"),
        (
            "from: 2026-04-04, to: 2026-04-06",
            "from: 2027-04-04, to: 2027-04-06",
            "year 2026 清明节",
            "not in 2026",
        ),
        ("  - year: 2026", "  - year: 2025", "year 2025", "duplicate year"),
        (
            "{name: 元旦, from: 2025-01-01, to: 2025-01-01}",
            "{name: 元旦, from: 2025-13-01}",
            "years[0]",
            "date",
        ),
    ],
)
def test_broken_calendar_is_reported(tmp_path: Path, old: str, new: str, entry: str, reason: str) -> None:
    d, problems = check_dictionary(_broken(tmp_path, old, new))
    assert d is None
    assert any(p.file == "calendar.yaml" and entry in p.entry and reason in p.reason for p in problems), [
        str(p) for p in problems
    ]


def test_a_missing_calendar_is_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "dictionary"
    shutil.copytree(ROOT / "dictionary", root)
    (root / "calendar.yaml").unlink()
    d, problems = check_dictionary(root)
    assert d is not None and d.calendar == WorkCalendar()
    assert [(p.file, p.severity) for p in problems] == [("calendar.yaml", "warning")]


def test_dictionary_check_prints_warnings_and_passes(tmp_path: Path) -> None:
    root = _broken(tmp_path, "  - year: 2026\n", "  - year: 2024\n")
    text = (root / "calendar.yaml").read_text(encoding="utf-8").replace("2026-", "2024-")
    # Keep only 2025 so that the current and the next year are always missing.
    (root / "calendar.yaml").write_text(text.split("  - year: 2024")[0], encoding="utf-8")
    result = CliRunner().invoke(app, ["dictionary", "check", str(root)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "count weekends only" in result.output
    assert "holiday calendar 2025" in result.output


def test_dictionary_check_fails_on_a_calendar_error(tmp_path: Path) -> None:
    root = _broken(tmp_path, "work: [2025-04-27]", "work: [2025-04-28]")
    result = CliRunner().invoke(app, ["dictionary", "check", str(root)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "calendar.yaml" in result.output and "2025-04-28 is a Monday" in result.output
