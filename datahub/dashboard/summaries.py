"""The summary pages, 总览 (overview) and 事件指标 (event KPIs): the monthly figures of
:mod:`datahub.reports.figures` (the same numbers as the monthly report) drawn with
:mod:`datahub.reports.charts`.

The dashboard shows one month at a time, the latest with quality runs unless another is chosen. A
month's figures are kept until :func:`figures.fingerprint` says something they read has changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from datahub.errors import NotFound
from datahub.platform import Platform
from datahub.quality.scores import DIMENSION_NAMES, DIMENSIONS
from datahub.reports import charts, figures
from datahub.reports.figures import EventFigures, MonthFigures, SharingFigures
from datahub.reports.render import score_band

CHART_WIDTH = 600
CROSS_DEPARTMENT_TARGET_MINUTES = (
    30.0  # the brief: cross-department handling from 1.2 hours to under 30 minutes
)
BASELINES = {  # the planning document's figures, shown beside the city's own
    "duplicates": 28.6,  # % of complaints arriving twice through different channels
    "repeats": 17.8,  # % repeat complaints
}


class MonthCache:
    """A month's figures, computed once per change of what they read (``figures.fingerprint``)."""

    def __init__(self) -> None:
        self._cached: dict[str, tuple[str, MonthFigures]] = {}
        self._lock = threading.Lock()

    def get(self, platform: Platform, month: str) -> MonthFigures:
        stamp = figures.fingerprint(platform, month)
        with self._lock:
            found = self._cached.get(month)
        if found is not None and found[0] == stamp:
            return found[1]
        computed = figures.month_figures(platform, month)
        with self._lock:
            self._cached[month] = (stamp, computed)
        return computed


@dataclass(frozen=True)
class Month:
    """The month a summary page shows, and the months it can switch to."""

    month: str | None
    label: str | None
    months: list[tuple[str, str]]  # (YYYY-MM, 2026年10月), newest first


def choose_month(platform: Platform, asked: str | None) -> Month:
    """The asked month when it has quality runs, else the latest (None before any run)."""
    known = figures.months(platform)
    options = [(m, figures.month_label(m)) for m in reversed(known)]
    if asked in known:
        month: str | None = asked
    elif asked:
        raise NotFound(f"{asked} 没有质量检查记录；可选月份：{'、'.join(m for m, _ in options) or '暂无'}。")
    else:
        month = known[-1] if known else None
    return Month(month, figures.month_label(month) if month else None, options)


def kpi_month(platform: Platform, cache: MonthCache, asked: str | None) -> Month:
    """As :func:`choose_month`, but by default the latest month that has events (deliveries of a
    month can report events of an earlier one)."""
    chosen = choose_month(platform, asked)
    if asked or chosen.month is None:
        return chosen
    for month, label in chosen.months:
        events = cache.get(platform, month).events
        if events is not None and events.events:
            return Month(month, label, chosen.months)
    return chosen


def _short(month: str) -> str:
    year, number = month.split("-")
    return f"{year[2:]}年{int(number)}月"


def _pct2(value: float) -> str:
    return f"{value:.2f}"


def _city_charts(f: MonthFigures) -> dict[str, str]:
    out: dict[str, str] = {}
    low = min(90.0, float(int(f.city.pass_rate or 100) - 1))
    out["bullet"] = charts.bullet(
        f.city.pass_rate, f.target, title="全市数据合格率与目标", label="全市合格率", min_value=low,
        width=CHART_WIDTH, fmt=_pct2,
    )  # fmt: skip
    ranked = [d for d in f.departments if d.rank is not None]
    if ranked:
        lowest = min([d.quality.pass_rate or 100 for d in ranked] + [f.target])
        out["ranking"] = charts.bar_chart(
            [(d.name, d.quality.pass_rate or 0.0) for d in ranked],
            title="各部门数据合格率（红黄榜）",
            unit="%",
            target=f.target,
            target_label=f"目标 {f.target}%",
            min_value=max(0.0, float(int(lowest) - 2)),
            max_value=100.0,
            colors=[charts.GOOD if d.board == figures.RED else charts.WARN for d in ranked],
            fmt=_pct2,
            width=CHART_WIDTH,
        )
        out["scores"] = charts.bar_chart(
            [(d.name, d.quality.score or 0.0) for d in sorted(ranked, key=lambda d: -(d.quality.score or 0))],
            title="各部门综合得分",
            unit=" 分",
            max_value=100.0,
            width=CHART_WIDTH,
        )
    if f.city.dimensions:
        out["dimensions"] = charts.bar_chart(
            [(DIMENSION_NAMES[d], v) for d, v in f.city.dimensions.items()],
            title="全市分维度得分（GB/T 36344）",
            unit=" 分",
            max_value=100.0,
            width=CHART_WIDTH,
        )
    months = [_short(m) for m in f.trend.months]
    if len(months) > 1:
        out["trend"] = charts.line_chart(
            months,
            [
                charts.Series("合格率（%）", [p.pass_rate for p in f.trend.city], charts.PALETTE[0]),
                charts.Series("综合得分", [p.score for p in f.trend.city], charts.PALETTE[1]),
            ],
            title="全市合格率与综合得分月度趋势",
            target=f.target,
            target_label=f"合格率目标 {f.target}%",
            width=CHART_WIDTH,
            fmt=_pct2,
        )
        if ranked:
            out["department_trend"] = charts.line_chart(
                months,
                [
                    charts.Series(d.name, [p.pass_rate for p in f.trend.departments.get(d.code, ())])
                    for d in ranked
                ],
                title="各部门合格率月度趋势",
                unit="%",
                target=f.target,
                max_value=100.0,
                width=CHART_WIDTH,
                height=260,
            )
    return out


def _department_charts(f: MonthFigures, code: str) -> dict[str, str]:
    department = next((d for d in f.departments if d.code == code), None)
    out: dict[str, str] = {}
    if department is None or department.quality.pass_rate is None:
        return out
    q = department.quality
    out["bullet"] = charts.bullet(
        q.pass_rate, f.target, title=f"{department.name}数据合格率与目标", label="本部门合格率",
        min_value=min(90.0, float(int(q.pass_rate or 100) - 1)), width=CHART_WIDTH, fmt=_pct2,
    )  # fmt: skip
    if q.dimensions:
        out["dimensions"] = charts.bar_chart(
            [(DIMENSION_NAMES[d], v) for d, v in q.dimensions.items()],
            title=f"{department.name}分维度得分（GB/T 36344）",
            unit=" 分",
            max_value=100.0,
            width=CHART_WIDTH,
        )
    points = f.trend.departments.get(code, ())
    if len(points) > 1:
        out["trend"] = charts.line_chart(
            [_short(p.month) for p in points],
            [
                charts.Series("合格率（%）", [p.pass_rate for p in points], charts.PALETTE[0]),
                charts.Series("综合得分", [p.score for p in points], charts.PALETTE[1]),
            ],
            title=f"{department.name}合格率与综合得分月度趋势",
            target=f.target,
            target_label=f"合格率目标 {f.target}%",
            width=CHART_WIDTH,
            fmt=_pct2,
        )
    return out


def overview_page(platform: Platform, cache: MonthCache, month: Month, scope: str | None) -> dict[str, Any]:
    """The city's figures of the month (stewards, admins, leaders), or one department's (``scope``)."""
    if month.month is None:
        return {"figures": None}
    f = cache.get(platform, month.month)
    if scope is None:
        return {
            "figures": f,
            "departments": f.departments,
            "datasets": f.datasets,
            "problems": f.problems[:12],
            "late": f.late,
            "blocked": f.blocked,
            "unfinished": f.unfinished,
            "resubmissions": f.resubmissions,
            "actions": f.actions,
            "charts": _city_charts(f),
            "department": None,
        }
    department = next((d for d in f.departments if d.code == scope), None)
    return {
        "figures": f,
        "departments": (department,) if department else (),
        "datasets": tuple(d for d in f.datasets if d.department == scope),
        "problems": tuple(p for p in f.problems if p.department == scope)[:12],
        "late": tuple(x for x in f.late if x.department == scope),
        "blocked": tuple(b for b in f.blocked if b.department == scope),
        "unfinished": tuple(u for u in f.unfinished if u.department == scope),
        "resubmissions": tuple(r for r in f.resubmissions if r.code == scope),
        "actions": (),
        "charts": _department_charts(f, scope),
        "department": department,
    }


def dimension_rows(departments: Any) -> list[dict[str, Any]]:
    """Departments with data, each with its score and band per dimension (the heat table)."""
    out = []
    for d in departments:
        if d.quality.pass_rate is None:
            continue
        out.append(
            {
                "name": d.name,
                "cells": [
                    (d.quality.dimensions.get(k), score_band(d.quality.dimensions.get(k))) for k in DIMENSIONS
                ],
            }
        )
    return out


def sharing_charts(sharing: SharingFigures) -> dict[str, str]:
    out: dict[str, str] = {}
    if sharing.sharing_rate is not None:
        out["bullet"] = charts.bullet(
            sharing.sharing_rate, sharing.target, title="数据共享率与目标", label="共享率", min_value=0.0,
            width=CHART_WIDTH, fmt=lambda v: f"{v:.1f}",
        )  # fmt: skip
    if sharing.consumers:
        top = sharing.consumers[:10]
        out["consumers"] = charts.bar_chart(
            [(c.client, float(c.rows)) for c in top],
            title="各调用方获取的数据行数",
            unit=" 行",
            fmt=lambda v: f"{v:,.0f}",
            width=CHART_WIDTH,
        )
    return out


def _event_charts(events: EventFigures) -> dict[str, str]:
    out: dict[str, str] = {}
    out["categories"] = charts.bar_chart(
        [(c.name, float(c.events)) for c in events.by_category],
        title="事件量（按事件大类）",
        unit=" 件",
        fmt=lambda v: f"{v:,.0f}",
        width=CHART_WIDTH,
        bar_height=16,
    )
    levels = [lv for lv in events.by_level if lv.events]
    level_colors = {"red": charts.BAD, "yellow": charts.WARN, "blue": charts.PALETTE[0]}
    out["levels"] = charts.bar_chart(
        [(f"{lv.name}响应", float(lv.events)) for lv in levels],
        title="事件量（按响应等级）",
        unit=" 件",
        fmt=lambda v: f"{v:,.0f}",
        colors=[level_colors.get(lv.level, charts.PALETTE[0]) for lv in levels],
        width=CHART_WIDTH,
    )
    out["response"] = charts.grouped_bars(
        [f"{lv.name}（时限 {lv.limit_minutes:.0f} 分钟）" if lv.limit_minutes else lv.name for lv in levels],
        [
            charts.Series("响应时长中位数", [lv.response_p50 for lv in levels], charts.PALETTE[0]),
            charts.Series("响应时长 P90", [lv.response_p90 for lv in levels], charts.PALETTE[1]),
            charts.Series("响应时限", [lv.limit_minutes for lv in levels], charts.BAD),
        ],
        title="各响应等级的响应时长与时限（分钟）",
        unit="分钟",
        width=CHART_WIDTH,
        height=240,
        show_values=True,
    )
    rates = [
        ("办结率", events.closure_rate),
        ("解决率", events.resolution_rate),
        ("满意率", events.satisfaction_rate),
        ("重复诉求率", events.repeat_rate),
    ]
    out["rates"] = charts.bar_chart(
        [(name, value) for name, value in rates if value is not None],
        title="办结、解决、满意与重复诉求",
        unit="%",
        max_value=100.0,
        fmt=_pct2,
        width=CHART_WIDTH,
    )
    return out


def _event_trend(platform: Platform, cache: MonthCache, known: list[str]) -> str | None:
    """The rates over the months that have events (two at least)."""
    found = [(m, e) for m in known if (e := cache.get(platform, m).events) is not None and e.events]
    if len(found) < 2:
        return None
    rates = {
        "办结率": [e.closure_rate for _, e in found],
        "解决率": [e.resolution_rate for _, e in found],
        "满意率": [e.satisfaction_rate for _, e in found],
        "重复诉求率": [e.repeat_rate for _, e in found],
    }
    return charts.line_chart(
        [_short(m) for m, _ in found],
        [charts.Series(name, values) for name, values in rates.items()],
        title="事件指标月度趋势",
        unit="%",
        min_value=0.0,
        max_value=100.0,
        width=CHART_WIDTH,
        height=250,
        show_values=False,
    )


def kpi_page(platform: Platform, cache: MonthCache, month: Month) -> dict[str, Any]:
    """The month's event KPIs (the city's: ``event_kpis_daily`` is shared unconditionally)."""
    if month.month is None:
        return {"events": None}
    events = cache.get(platform, month.month).events
    if events is None or not events.events:
        return {"events": events}
    known = sorted(m for m, _ in month.months)
    return {
        "events": events,
        "charts": {**_event_charts(events), "trend": _event_trend(platform, cache, known)},
        "baselines": BASELINES,
        "cross_target": CROSS_DEPARTMENT_TARGET_MINUTES,
        "duplicate_share": 100 * events.duplicates_linked / events.events if events.events else None,
    }
