"""Answer deadlines of grant requests in a month (《政务数据共享条例》: requests answered within a limit).

Each grant request is due (``Grant.due_at``) at the end of the ``grant_answer_days``-th working day
after the day it was made (datahub.access.grants). For the city's month ``[start, end)`` (naive UTC
bounds, datahub.reports.figures.recorded_bounds):

- requested 申请 = requests made in the month;
- answered 答复 = requests approved or refused in the month (whenever made): on time 按时 when decided
  by ``due_at``, late 逾期答复 after it; a request made before deadlines were kept counts as on time;
- open 月末未答复 = requests made before the month's end, neither decided nor withdrawn by then;
- overdue 逾期未答复 = the open ones whose ``due_at`` had passed by the month's end.

A request withdrawn (revoked) by its client before an answer is neither answered nor open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from datahub.metadata import Grant
from datahub.platform import Platform


@dataclass(frozen=True)
class GrantDeadlines:
    requested: int
    answered: int
    on_time: int
    late: int
    open: int  # waiting at the end of the month
    overdue: int  # of the open ones, past due at the end of the month
    answer_days: int  # the limit in working days (settings.grant_answer_days)

    @property
    def on_time_rate(self) -> float | None:
        """Percent of the month's answers given on time (None without answers)."""
        return 100 * self.on_time / self.answered if self.answered else None


def deadline_figures(platform: Platform, start: datetime, end: datetime) -> GrantDeadlines:
    with platform.metadata.session() as s:
        grants = s.execute(
            select(Grant.requested_at, Grant.due_at, Grant.decided_at, Grant.revoked_at).where(
                Grant.requested_at < end
            )
        ).all()
    answered = [g for g in grants if g.decided_at is not None and start <= g.decided_at < end]
    late = sum(1 for g in answered if g.due_at is not None and g.decided_at > g.due_at)
    waiting = [
        g
        for g in grants
        if (g.decided_at is None or g.decided_at >= end) and (g.revoked_at is None or g.revoked_at >= end)
    ]
    return GrantDeadlines(
        requested=sum(1 for g in grants if start <= g.requested_at < end),
        answered=len(answered),
        on_time=len(answered) - late,
        late=late,
        open=len(waiting),
        overdue=sum(1 for g in waiting if g.due_at is not None and g.due_at < end),
        answer_days=platform.settings.grant_answer_days,
    )
