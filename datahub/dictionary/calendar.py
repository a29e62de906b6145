"""The city's working-day calendar: answer deadlines counted in working days (工作日).

A day is a working day when it is Monday to Friday and no public holiday (放假), or when it is a weekend
day worked in exchange for a holiday (调休上班). The holidays and exchanged days of each year come from
``dictionary/calendar.yaml``, transcribed from the State Council General Office's yearly notice
(国务院办公厅关于<year>年部分节假日安排的通知); a year the file does not cover counts weekends only.

Deadlines are counted in city time (datahub.citytime): a request answered within N working days is due
at the end (24:00 city time) of the Nth working day after the day it was made, whatever the hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datahub.citytime import city_time, recorded_time


class Holiday(BaseModel):
    """One holiday of a year's notice: the days off (inclusive) and the weekend days worked for it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    first: date = Field(alias="from")
    last: date = Field(alias="to")
    work: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.last < self.first:
            raise ValueError(f"'to' ({self.last}) is before 'from' ({self.first})")
        return self

    def days_off(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


class CalendarYear(BaseModel):
    """An entry of calendar.yaml: one year's schedule and the notice it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=1)
    holidays: tuple[Holiday, ...]


@dataclass(frozen=True)
class WorkCalendar:
    """Working days of the city. ``WorkCalendar()`` (no years) counts weekends only."""

    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()

    @classmethod
    def from_years(cls, years: list[CalendarYear]) -> WorkCalendar:
        holidays = [h for y in years for h in y.holidays]
        return cls(
            holidays=frozenset(d for h in holidays for d in h.days_off()),
            working_weekends=frozenset(d for h in holidays for d in h.work),
            years=frozenset(y.year for y in years),
        )

    def covers(self, year: int) -> bool:
        """Whether ``year``'s holidays are known (otherwise it counts weekends only)."""
        return year in self.years

    def is_working_day(self, d: date) -> bool:
        if d in self.working_weekends:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def due(self, start: datetime, working_days: int) -> datetime:
        """The end of the ``working_days``-th working day after the city day of ``start`` (naive UTC in,
        naive UTC out); 0 is the end of the day of ``start`` itself."""
        if working_days < 0:
            raise ValueError("working_days must be 0 or more")
        day = city_time(start).date()
        counted = 0
        while counted < working_days:
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        return recorded_time(datetime.combine(day + timedelta(days=1), time()))

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after the city day of ``start`` up to and including the city day of ``end``
        (naive UTC both): how many working days an answer took; 0 when answered the same day."""
        first, last = city_time(start).date(), city_time(end).date()
        return sum(self.is_working_day(first + timedelta(days=i)) for i in range(1, (last - first).days + 1))
