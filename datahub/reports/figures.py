"""Every figure the monthly report (月通报) and the steward dashboard show, computed in one place.

Plain library code over the metadata database (``platform.metadata``) and, for event KPIs, the published
``events_unified`` snapshot. docs/reports.md explains each figure for readers; in short:

**Which month.** Months are the city's (:mod:`datahub.citytime`). Quality is attributed to the month of
``Delivery.delivered_at`` (when the department delivered the file; stored as naive UTC like every time
the platform records, so converted to city time). Event KPIs to the month of the event's
``report_time`` (city time as delivered). Sharing to the month of the grant's request, decision or
revocation, and of the audit record's time (recorded, so converted).

**Quality, over any set of quality runs** (:class:`QualityTotals`, the city's, a department's, a
dataset's):

- pass rate 合格率 = Σ rows passed ÷ Σ rows delivered, in percent (docs/quality.md), against
  :data:`~datahub.quality.history.PASS_RATE_TARGET` (98.7%);
- score 综合得分 = the rows-weighted mean of the runs' overall scores (each run's overall score is the
  mean of its GB/T 36344 dimension scores), so a department's score is not carried by its small files;
- dimension scores 分维度得分 = per dimension, the rows-weighted mean of the scores of the runs that
  have that dimension (a run with no check in a dimension has no score there);
- deliveries 交付批次 = deliveries that reached an end after being processed (published, blocked,
  rejected or withheld; duplicates process nothing and are left out); blocked 阻断 = those a blocking
  rule (or the leak scan) held back; rejected 拒收 = files unreadable as the dataset; withheld 全部暂扣 =
  those whose every row was withheld for k-anonymity;
- a resubmission of quarantined rows (``Delivery.corrects``) is no delivery and in no figure of its own:
  the rows it published count for the delivery it fixes (:mod:`datahub.quality.resubmissions`), and
  per department :class:`~datahub.quality.resubmissions.DepartmentFixes` gives rows fixed, waiting and
  the time to fix (``MonthFigures.resubmissions``);
- unfinished 未完成 = deliveries of the month not finished: waiting for a stage, claimed by one (or left
  claimed by a process that died) or failed. They are not reconciled: the month's deliveries reconcile
  (行数核对) only when none is unfinished and every finished one has rows in = published + quarantined
  (:attr:`QualityTotals.all_reconciled`); each is listed (:class:`UnfinishedDelivery`).

**Department** = the contract's ``ownerDepartment`` for the contract version the run used (the
registered :class:`~datahub.metadata.ContractVersion`; the catalog's contract when that version is not
registered); its Chinese name from the dictionary's ``department`` code table.

**Ranking 红黄榜** (:func:`board`, the one rule): departments with quality runs in the month are ranked by
pass rate, then score (higher first). Red list 红榜: pass rate ≥ target, no blocked and no late delivery.
Yellow list 黄榜: below target, or any blocked or late delivery. Departments without deliveries are
listed as such, unranked.

**Main problems 主要问题**: failing rules aggregated per dataset and rule (failed ÷ evaluated summed over
the month's runs; failing runs counted), and conformity quarantine per dataset, reason and column (rows
÷ rows delivered), each with its dimension, whether it blocks, the owning department and up to three
masked examples (rule samples are masked before they are stored; quarantined values are masked in the
quarantine). ``blocked_by_rule`` rows are not repeated here: the blocking rule is.

**Late deliveries 逾期交付**: runs whose ``freshness`` rule (check ``stale_delivery``) failed: the newest
value of the SLA's ``latency`` element was older than the latency when the file was delivered. Lateness =
delivered_at − latency − newest value.

**Sharing 数据共享** (:class:`SharingFigures`): grants requested / approved / refused / revoked in the
month; approval rate = approved ÷ (approved + refused) decided in the month; reads = audit records of
data reads (every action but ``grant.*``) with the rows they returned, per client. Sharing rate 共享率 =
share of the city's data resources (the datasets of the catalog whose owner is not an ``external``
department, and the views) whose sharing class is not ``not_shared`` and that reach the sharing API: a
dataset when a delivery delivered by the end of the month was published; a view when it has a current
snapshot (views are rebuilt from whatever the datasets publish). Against :data:`SHARING_RATE_TARGET` (85%).

**Event KPIs 事件指标** (:class:`EventFigures`): the KPIs of ``event_kpis_daily`` (closure, resolution,
satisfaction, repeat rate, cross-department handling, overdue counts; their definitions live once, in
:mod:`datahub.views.kpis`) over the month's events, plus per response level the events, response-time
median and 90th percentile (report → dispatch, minutes) against the level's ``response_minutes`` from
the ``response_level`` code table and the share over it; linked duplicates = events with more than one
source record (``source_count`` > 1).

Public API (names kept stable for the dashboard): :func:`months`, :func:`month_figures`,
:func:`overview`, :func:`parse_month`, :func:`month_label`, :func:`board`, :func:`fingerprint` and
the frozen dataclasses below.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import func, select

from datahub.access.corrections import CorrectionFigures, correction_figures
from datahub.citytime import city_time, recorded_time
from datahub.contracts import Dataset, SharingClass
from datahub.contracts.model import SHARING_CLASS_NAMES
from datahub.errors import InputError, NotFound
from datahub.metadata import (
    AuditRecord,
    ContractVersion,
    CorrectionRequest,
    Delivery,
    DeliveryStatus,
    Grant,
    GrantStatus,
    QualityRun,
    QualityScore,
    QuarantineReason,
    RuleResult,
    Snapshot,
)
from datahub.platform import Platform
from datahub.quality import resubmissions
from datahub.quality.expectations import SuiteContext, build_suite, latency_rule
from datahub.quality.history import PASS_RATE_TARGET
from datahub.quality.reasons import REASON_DIMENSIONS, REASON_NAMES, Reason
from datahub.quality.resubmissions import DepartmentFixes
from datahub.quality.scores import DIMENSION_NAMES, DIMENSIONS
from datahub.reports.grant_deadlines import GrantDeadlines, deadline_figures
from datahub.serving.service import DATA_READS
from datahub.views.codes import LEVELS, ViewCodes
from datahub.views.kpis import NEEDED, REPEAT_DAYS, event_measures, kpi_aggregates, with_rates

SHARING_RATE_TARGET = 85.0
"""Percent: the brief's target for the cross-department sharing rate."""

RED, YELLOW, NO_DATA = "red", "yellow", "no_data"
BOARD_NAMES = {RED: "红榜", YELLOW: "黄榜", NO_DATA: "无数据"}
EXAMPLES = 3
"""Masked examples kept per problem."""
OVERDUE_SHARE_ALERT = 10.0
"""Percent of a response level's events over its time limit above which 下月整改重点 names it."""

# How a failing check is named when its contract gives no (Chinese) description of its own.
CHECK_NAMES = {
    "nullValues": "不得为空",
    "missingValues": "不得为占位缺失值",
    "invalidValues": "取值须合规",
    "duplicateValues": "不得重复",
    "rowCount": "行数须符合约定",
    "sql": "业务规则",
    "stuck_value": "传感器读数不得长时间不变",
    "missing_reference": "关联记录须存在",
    "volume": "交付量须与上次相当",
    "columns_closed": "列须与契约一致",
    "stale_delivery": "数据须满足时效要求",
    "pii_leak_scan": "发布前个人信息泄露扫描",
    "k_anonymity": "准标识符须满足 k-匿名",
}
TABLE_CHECKS = frozenset({"volume", "stale_delivery", "rowCount", "columns_closed"})
"""Checks judging a delivery as a whole (their evaluated/failed count deliveries)."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_PROCESSED = tuple(sorted(DeliveryStatus.FINAL - {DeliveryStatus.duplicate}))
"""Finished after being processed (a duplicate is finished but processes nothing)."""

DELIVERY_STATUS_NAMES = {
    DeliveryStatus.landed: "已落地",
    DeliveryStatus.reading: "读取中",
    DeliveryStatus.raw: "已读取",
    DeliveryStatus.conforming: "规范化中",
    DeliveryStatus.conformed: "已规范化",
    DeliveryStatus.checking: "检查中",
    DeliveryStatus.checked: "已检查",
    DeliveryStatus.publishing: "发布中",
    DeliveryStatus.published: "已发布",
    DeliveryStatus.rejected: "无法读取",
    DeliveryStatus.duplicate: "重复交付",
    DeliveryStatus.blocked: "已阻断",
    DeliveryStatus.withheld: "全部暂扣",
    DeliveryStatus.failed: "处理失败",
}
"""What each delivery status is called in Chinese (the dashboard shows the same names)."""
UNFINISHED_NAME = "未完成"
"""A delivery not finished (waiting, claimed or failed): not reconciled until it is."""
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------- months


def parse_month(text: str) -> tuple[datetime, datetime]:
    """``'YYYY-MM'`` → [first instant, first instant of the next month); anything else → InputError."""
    found = _MONTH.match(text or "")
    if not found:
        raise InputError(f"a month is written YYYY-MM (e.g. 2026-10), not {text!r}", path="month")
    year, month = int(found.group(1)), int(found.group(2))
    if not 1900 < year < 9999:  # 0000-01 or 9999-12 has no month around it to compare or report
        raise InputError(
            f"no report for the year {year}: a month is between 1901-01 and 9998-12", path="month"
        )
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def recorded_bounds(month: str) -> tuple[datetime, datetime]:
    """The city's month ``YYYY-MM`` as bounds on times the platform records (naive UTC)."""
    start, end = parse_month(month)
    return recorded_time(start), recorded_time(end)


def month_of(at: datetime | date) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def previous_month(month: str) -> str:
    start, _ = parse_month(month)
    return month_of(start - timedelta(days=1))


def month_label(month: str) -> str:
    """``'2026-10'`` → ``'2026年10月'``."""
    start, _ = parse_month(month)
    return f"{start.year}年{start.month}月"


def months(platform: Platform) -> list[str]:
    """Months (``YYYY-MM``) with at least one quality run, by delivery time, oldest first."""
    with platform.metadata.session() as s:
        times = s.execute(
            select(Delivery.delivered_at)
            .join(QualityRun, QualityRun.delivery_id == Delivery.id)
            .where(resubmissions.is_original())
        ).scalars()
        return sorted({month_of(city_time(t)) for t in times})


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class QualityTotals:
    """Quality over a set of runs (the city's, a department's or a dataset's, in one month)."""

    runs: int
    rows_in: int
    rows_passed: int
    pass_rate: float | None  # percent; None without rows
    score: float | None  # rows-weighted mean of the runs' overall scores
    dimensions: dict[str, float]  # dimension → rows-weighted mean score (dimensions with a score only)
    deliveries: int = 0  # deliveries that reached an end (published, blocked, rejected, withheld)
    blocked: int = 0
    rejected: int = 0
    late: int = 0  # deliveries whose freshness rule failed (late against the SLA)
    withheld: int = 0  # every row withheld for k-anonymity: nothing published
    unfinished: int = 0  # not finished (waiting, claimed, failed): not reconciled
    unreconciled: int = 0  # finished, but rows in ≠ published + quarantined (or not recorded)

    @property
    def received(self) -> int:
        """Deliveries of the month, finished or not (duplicates aside)."""
        return self.deliveries + self.unfinished

    @property
    def reconciled(self) -> int:
        """Deliveries finished with rows in = rows published + rows quarantined."""
        return self.deliveries - self.unreconciled

    @property
    def all_reconciled(self) -> bool:
        """Every delivery finished and reconciled: none unfinished, none with rows unaccounted for."""
        return self.unfinished == 0 and self.unreconciled == 0

    @property
    def meets_target(self) -> bool:
        return self.pass_rate is not None and self.pass_rate >= PASS_RATE_TARGET

    @property
    def worst_dimension(self) -> str | None:
        return min(self.dimensions, key=lambda d: (self.dimensions[d], DIMENSIONS.index(d)), default=None)


@dataclass(frozen=True)
class DepartmentFigures:
    code: str
    name: str  # Chinese, from the department code table
    datasets: tuple[str, ...]  # datasets it owns that had runs this month
    quality: QualityTotals
    previous_pass_rate: float | None
    rank: int | None  # 1 = best; None without runs this month
    board: str  # RED | YELLOW | NO_DATA

    @property
    def board_name(self) -> str:
        return BOARD_NAMES[self.board]


@dataclass(frozen=True)
class DatasetFigures:
    dataset: str
    title: str
    department: str | None
    department_name: str
    quality: QualityTotals


@dataclass(frozen=True)
class TrendPoint:
    month: str
    pass_rate: float | None
    score: float | None
    rows_in: int


@dataclass(frozen=True)
class Trend:
    """Months with quality runs up to the report's month, oldest first: the city and each department
    (a department's list has a point for every month of ``months``; ``None`` where it had no runs)."""

    months: tuple[str, ...]
    city: tuple[TrendPoint, ...]
    departments: dict[str, tuple[TrendPoint, ...]]


@dataclass(frozen=True)
class Problem:
    """A failing rule of a dataset, or a conformity reason on one of its columns, over the month."""

    kind: str  # "rule" | "conformity"
    dataset: str
    title: str
    department: str | None
    department_name: str
    name: str  # rule name, or reason code
    label: str  # what is wrong, in Chinese
    check: str  # the rule's check code, or the reason code
    column: str | None
    column_label: str | None  # the column's Chinese name when it has one
    dimension: str
    blocking: bool
    failed: int  # failing rows/values (or failing runs for table-level rules)
    evaluated: int
    runs: int  # runs in which it failed
    examples: tuple[str, ...]  # masked

    @property
    def dimension_name(self) -> str:
        return DIMENSION_NAMES.get(self.dimension, self.dimension)

    @property
    def table_level(self) -> bool:
        """A rule on the delivery as a whole (volume, freshness, row count, columns): it counts failing
        deliveries, not rows."""
        return self.kind == "rule" and self.check in TABLE_CHECKS

    @property
    def failed_share(self) -> float | None:
        return 100 * self.failed / self.evaluated if self.evaluated else None


@dataclass(frozen=True)
class LateDelivery:
    dataset: str
    title: str
    department: str | None
    department_name: str
    delivery_id: str
    source_file: str
    delivered_at: datetime
    column: str | None  # the SLA's latency element
    newest: str | None  # the newest value delivered (as observed)
    latency_hours: float | None  # the SLA
    late_hours: float | None  # delivered_at − latency − newest


@dataclass(frozen=True)
class BlockedDataset:
    dataset: str
    title: str
    department: str | None
    department_name: str
    blocked_deliveries: int
    rules: tuple[str, ...]  # labels of the blocking rules that failed
    rows_held: int


@dataclass(frozen=True)
class UnfinishedDelivery:
    """A delivery of the month that is not finished: waiting, claimed by a stage, or failed."""

    dataset: str
    title: str
    department: str | None
    department_name: str
    delivery_id: str
    source_file: str
    delivered_at: datetime
    status: str
    error: str | None

    @property
    def status_name(self) -> str:
        return DELIVERY_STATUS_NAMES.get(self.status, self.status)

    @property
    def failed(self) -> bool:
        return self.status == DeliveryStatus.failed


@dataclass(frozen=True)
class ConsumerUse:
    client: str
    role: str | None
    reads: int
    rows: int
    views: tuple[str, ...]


@dataclass(frozen=True)
class SharingFigures:
    requested: int
    approved: int
    refused: int
    revoked: int
    approval_rate: float | None  # percent of decided
    pending: int  # requests still waiting at the end of the month
    reads: int
    rows_served: int
    consumers: tuple[ConsumerUse, ...]
    resources: int
    shared_resources: int
    sharing_rate: float | None  # percent
    by_class: dict[str, int]  # sharing class → resources
    target: float = SHARING_RATE_TARGET


@dataclass(frozen=True)
class LevelFigures:
    level: str
    name: str  # 红色 / 黄色 / 蓝色
    events: int
    limit_minutes: float | None
    response_p50: float | None
    response_p90: float | None
    response_overdue: int
    overdue_share: float | None  # percent of the level's events


@dataclass(frozen=True)
class CategoryVolume:
    code: str
    name: str
    events: int


@dataclass(frozen=True)
class EventFigures:
    events: int
    as_of: datetime | None
    by_category: tuple[CategoryVolume, ...]  # major categories, most events first
    by_level: tuple[LevelFigures, ...]  # red, yellow, blue
    closed: int
    closure_rate: float | None  # percent
    resolution_known: int
    resolved: int
    resolution_rate: float | None
    rated: int
    satisfied: int
    satisfaction_rate: float | None
    reporter_events: int
    repeat_events: int
    repeat_rate: float | None
    duplicates_linked: int
    response_p50: float | None
    response_p90: float | None
    cross_dept_events: int
    cross_dept_minutes_avg: float | None
    response_overdue: int
    handling_overdue: int


@dataclass(frozen=True)
class MonthFigures:
    month: str
    label: str  # 2026年10月
    previous_month: str
    generated_at: datetime
    target: float
    city: QualityTotals
    previous: QualityTotals | None  # None: no runs the month before
    departments: tuple[DepartmentFigures, ...]  # ranked first (by rank), then those without data
    datasets: tuple[DatasetFigures, ...]
    trend: Trend
    problems: tuple[Problem, ...]  # blocking first, then most failing rows
    late: tuple[LateDelivery, ...]
    blocked: tuple[BlockedDataset, ...]
    sharing: SharingFigures
    events: EventFigures | None  # None: events_unified never published
    actions: tuple[str, ...]  # 下月整改重点, Chinese sentences
    dimension_names: dict[str, str] = field(default_factory=lambda: dict(DIMENSION_NAMES))
    unfinished: tuple[UnfinishedDelivery, ...] = ()  # the month's deliveries not finished, oldest first
    grant_deadlines: GrantDeadlines | None = None  # grant requests answered on time, late, overdue
    # Per department, the month's deliveries' quarantined rows fixed, waiting, and the time to fix.
    resubmissions: tuple[DepartmentFixes, ...] = ()
    # 校核纠错: the month's correction requests per answering department (datahub.access.corrections).
    corrections: CorrectionFigures | None = None

    @property
    def pass_rate_change(self) -> float | None:
        if self.previous is None or self.previous.pass_rate is None or self.city.pass_rate is None:
            return None
        return self.city.pass_rate - self.previous.pass_rate

    @property
    def score_change(self) -> float | None:
        if self.previous is None or self.previous.score is None or self.city.score is None:
            return None
        return self.city.score - self.previous.score

    @property
    def red_list(self) -> tuple[DepartmentFigures, ...]:
        return tuple(d for d in self.departments if d.board == RED)

    @property
    def yellow_list(self) -> tuple[DepartmentFigures, ...]:
        return tuple(d for d in self.departments if d.board == YELLOW)

    @property
    def without_data(self) -> tuple[DepartmentFigures, ...]:
        return tuple(d for d in self.departments if d.board == NO_DATA)


# --------------------------------------------------------------------------- quality runs


@dataclass(frozen=True)
class _Run:
    id: int
    delivery_id: str
    dataset: str
    month: str
    delivered_at: datetime
    rows_in: int
    rows_passed: int
    overall: float
    blocked: bool
    department: str | None


def board(quality: QualityTotals) -> str:
    """The one rule of the 红黄榜: red when the pass rate meets the target and no delivery was blocked
    or late; yellow when it is below target or a delivery was blocked or late; no_data without runs."""
    if quality.runs == 0 or quality.pass_rate is None:
        return NO_DATA
    return RED if quality.meets_target and quality.blocked == 0 and quality.late == 0 else YELLOW


def _weighted(pairs: Iterable[tuple[float, int]]) -> float | None:
    pairs = list(pairs)
    weight = sum(w for _, w in pairs)
    if not pairs:
        return None
    if weight == 0:  # only empty deliveries: a plain mean
        return round(sum(v for v, _ in pairs) / len(pairs), 3)
    return round(sum(v * w for v, w in pairs) / weight, 3)


@dataclass(frozen=True)
class _DeliveryCounts:
    deliveries: int = 0  # finished after being processed
    blocked: int = 0
    rejected: int = 0
    withheld: int = 0
    unfinished: int = 0
    unreconciled: int = 0


def _totals(
    runs: Sequence[_Run],
    scores: dict[int, dict[str, float]],
    deliveries: _DeliveryCounts = _DeliveryCounts(),
    late: frozenset[str] = frozenset(),
) -> QualityTotals:
    rows_in = sum(r.rows_in for r in runs)
    rows_passed = sum(r.rows_passed for r in runs)
    dimensions: dict[str, float] = {}
    for d in DIMENSIONS:
        value = _weighted((scores[r.id][d], r.rows_in) for r in runs if d in scores.get(r.id, {}))
        if value is not None:
            dimensions[d] = value
    return QualityTotals(
        runs=len(runs),
        rows_in=rows_in,
        rows_passed=rows_passed,
        pass_rate=round(100 * rows_passed / rows_in, 3) if rows_in else None,
        score=_weighted((r.overall, r.rows_in) for r in runs),
        dimensions=dimensions,
        deliveries=deliveries.deliveries,
        blocked=deliveries.blocked,
        rejected=deliveries.rejected,
        late=sum(1 for r in runs if r.delivery_id in late),
        withheld=deliveries.withheld,
        unfinished=deliveries.unfinished,
        unreconciled=deliveries.unreconciled,
    )


class _Context:
    """What every part of a month's figures looks up: department names, owners, titles, contracts."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.departments = platform.dictionary.codes("department")
        self.catalog = {d.name: d for d in platform.catalog}
        with platform.metadata.session() as s:
            rows = s.execute(
                select(ContractVersion.contract_id, ContractVersion.version, ContractVersion.owner_department)
            ).all()
        self.registered = {(c, v): owner for c, v, owner in rows}
        self._descriptions: dict[str, dict[str, str]] = {}

    def department_name(self, code: str | None) -> str:
        if code is None:
            return "未登记部门"
        found = self.departments.get(code)
        return found.name_zh if found else code

    def owner(self, dataset: str, contract_version: str) -> str | None:
        known = self.catalog.get(dataset)
        if known is not None:
            registered = self.registered.get((str(known.contract.id), contract_version))
            if registered:
                return registered
            return known.owner_department
        return None

    def title(self, dataset: str) -> str:
        known = self.catalog.get(dataset)
        return known.title if known is not None else dataset

    def column_label(self, dataset: str, column: str | None) -> str | None:
        known = self.catalog.get(dataset)
        if known is None or not column:
            return None
        names = []
        for part in column.split("|"):
            try:
                c = known.column(part)
            except KeyError:
                return None
            names.append(c.element.name_zh if c.element else c.physical_name)
        return "、".join(names)

    def rule_label(self, dataset: str, rule: str, check: str) -> str:
        """The contract's own (Chinese) description of the rule, else what its check means."""
        if dataset not in self._descriptions:
            known = self.catalog.get(dataset)
            descriptions: dict[str, str] = {}
            if known is not None:
                context = SuiteContext(
                    rows=0,
                    null_counts={},
                    received_columns=[],
                    delivered_at=datetime(2000, 1, 1),
                    previous_rows=1,
                )
                try:
                    descriptions = {r.name: r.description for r in build_suite(known, context)}
                except Exception:  # a contract that no longer compiles still gets a label
                    descriptions = {}
            self._descriptions[dataset] = descriptions
        described = self._descriptions[dataset].get(rule, "")
        if described and _CJK.search(described):
            return described.rstrip("。")
        return CHECK_NAMES.get(check, rule)


def _runs(platform: Platform, ctx: _Context, before: datetime) -> list[_Run]:
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                QualityRun.id,
                QualityRun.delivery_id,
                QualityRun.dataset,
                Delivery.delivered_at,
                QualityRun.rows_in,
                QualityRun.rows_passed,
                QualityRun.overall_score,
                QualityRun.blocked,
                QualityRun.contract_version,
            )
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(Delivery.delivered_at < before, resubmissions.is_original())
        ).all()
        fixes = resubmissions.fixes_of(s)  # fixed rows count for the delivery they fix
    return [
        _Run(
            id=r.id,
            delivery_id=r.delivery_id,
            dataset=r.dataset,
            month=month_of(city_time(r.delivered_at)),
            delivered_at=r.delivered_at,
            rows_in=r.rows_in,
            rows_passed=resubmissions.rows_passed(r.rows_in, r.rows_passed, fixes.get(r.delivery_id)),
            overall=r.overall_score,
            blocked=r.blocked,
            department=ctx.owner(r.dataset, r.contract_version),
        )
        for r in rows
    ]


def _scores(platform: Platform, start: datetime, end: datetime) -> dict[int, dict[str, float]]:
    with platform.metadata.session() as s:
        rows = s.execute(
            select(QualityScore.run_id, QualityScore.dimension, QualityScore.score)
            .join(QualityRun, QualityRun.id == QualityScore.run_id)
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(Delivery.delivered_at >= start, Delivery.delivered_at < end)
        ).all()
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for run_id, dimension, score in rows:
        out[run_id][dimension] = score
    return out


_CountRow = tuple[str, str | None, str, bool | None, int]
"""(dataset, department, status, reconciled, deliveries)."""


def _delivery_counts(platform: Platform, ctx: _Context, start: datetime, end: datetime) -> list[_CountRow]:
    """(dataset, department, status, reconciled, deliveries) of every delivery in the month, finished or
    not, duplicates aside (they process nothing)."""
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                Delivery.dataset,
                Delivery.contract_version,
                Delivery.status,
                Delivery.reconciled,
                func.count(),
            )
            .where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                Delivery.status != DeliveryStatus.duplicate,
                resubmissions.is_original(),
            )
            .group_by(Delivery.dataset, Delivery.contract_version, Delivery.status, Delivery.reconciled)
        ).all()
    return [(d, ctx.owner(d, v), status, reconciled, n) for d, v, status, reconciled, n in rows]


def _counts(rows: Iterable[_CountRow]) -> _DeliveryCounts:
    rows = list(rows)

    def where(*statuses: str) -> int:
        return sum(n for _, _, status, _, n in rows if status in statuses)

    return _DeliveryCounts(
        deliveries=where(*_PROCESSED),
        blocked=where(DeliveryStatus.blocked),
        rejected=where(DeliveryStatus.rejected),
        withheld=where(DeliveryStatus.withheld),
        unfinished=sum(n for _, _, status, _, n in rows if status not in DeliveryStatus.FINAL),
        unreconciled=sum(
            n for _, _, status, reconciled, n in rows if status in _PROCESSED and reconciled is not True
        ),
    )


def _unfinished(
    platform: Platform, ctx: _Context, start: datetime, end: datetime
) -> list[UnfinishedDelivery]:
    """The month's deliveries that are not finished (waiting, claimed or failed), oldest first."""
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                Delivery.id,
                Delivery.dataset,
                Delivery.contract_version,
                Delivery.source_file,
                Delivery.delivered_at,
                Delivery.status,
                Delivery.error,
            )
            .where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                Delivery.status.not_in(sorted(DeliveryStatus.FINAL)),
                resubmissions.is_original(),
            )
            .order_by(Delivery.delivered_at, Delivery.source_file)
        ).all()
    out = []
    for r in rows:
        department = ctx.owner(r.dataset, r.contract_version)
        out.append(
            UnfinishedDelivery(
                dataset=r.dataset,
                title=ctx.title(r.dataset),
                department=department,
                department_name=ctx.department_name(department),
                delivery_id=r.id,
                source_file=r.source_file,
                delivered_at=r.delivered_at,
                status=r.status,
                error=r.error,
            )
        )
    return out


# --------------------------------------------------------------------------- problems


ROW_KEYS = ("_row_number", "row")
"""Keys of a rule's failing sample that give the row of the delivered file."""


def _sample_text(sample: dict[str, Any] | Any) -> str:
    """A failing sample as people read it: ``第3行：report_id=…，related_order_id=…``."""
    if not isinstance(sample, dict):
        return str(sample)
    row = next((sample[k] for k in ROW_KEYS if sample.get(k) is not None), None)
    values = {k: v for k, v in sample.items() if k not in ROW_KEYS and not k.startswith("_")}
    if set(values) == {"key"}:
        return f"第{row}行：{values['key']}" if row is not None else str(values["key"])
    parts = [f"{k}={'（空）' if v is None else v}" for k, v in values.items()]
    text = "，".join(parts)
    return f"第{row}行：{text}" if row is not None else text


def _observed_text(check: str, observed: Any) -> str | None:
    if observed is None:
        return None
    if check == "volume":
        return f"本次交付 {observed} 行"
    if check == "stale_delivery":
        return f"最新数据时间 {observed}"
    if check == "rowCount":
        return f"实际 {observed} 行"
    return f"观测值 {observed}"


def _rule_problems(platform: Platform, ctx: _Context, start: datetime, end: datetime) -> list[Problem]:
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                QualityRun.dataset,
                QualityRun.contract_version,
                RuleResult.name,
                RuleResult.check,
                RuleResult.dimension,
                RuleResult.blocking,
                RuleResult.column,
                RuleResult.evaluated,
                RuleResult.failed,
                RuleResult.observed,
                RuleResult.sample,
            )
            .join(QualityRun, QualityRun.id == RuleResult.run_id)
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                RuleResult.success.is_(False),
                resubmissions.is_original(),
            )
            .order_by(Delivery.delivered_at, RuleResult.id)
        ).all()
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        grouped[(r.dataset, r.name)].append(r)
    problems = []
    for (dataset, name), found in grouped.items():
        first = found[0]
        examples: list[str] = []
        for r in found:
            for item in r.sample or []:
                if len(examples) < EXAMPLES:
                    examples.append(_sample_text(item))
        if not examples:
            examples = [t for r in found if (t := _observed_text(r.check, r.observed))][:EXAMPLES]
        department = ctx.owner(dataset, first.contract_version)
        problems.append(
            Problem(
                kind="rule",
                dataset=dataset,
                title=ctx.title(dataset),
                department=department,
                department_name=ctx.department_name(department),
                name=name,
                label=ctx.rule_label(dataset, name, first.check),
                check=first.check,
                column=first.column,
                column_label=ctx.column_label(dataset, first.column),
                dimension=first.dimension,
                blocking=any(r.blocking for r in found),
                failed=sum(r.failed for r in found),
                evaluated=sum(r.evaluated for r in found),
                runs=len(found),
                examples=tuple(examples),
            )
        )
    return problems


def _quarantine_examples(
    platform: Platform, dataset: str, delivery_ids: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    for d in delivery_ids:
        platform.lake.fetch(dataset, d, ("quarantine",))
    files = [platform.lake.layer_path("quarantine", dataset, d) for d in delivery_ids]
    files = [f for f in files if f.is_file()]
    if not files:
        return {}
    try:
        frame = (
            pl.scan_parquet(files, missing_columns="insert")
            .select("_row_number", "_reasons")
            .explode("_reasons")
            .unnest("_reasons")
            .group_by("reason", "column", maintain_order=True)
            .agg(pl.col("_row_number").head(EXAMPLES), pl.col("value").head(EXAMPLES))
            .collect()
        )
    except (pl.exceptions.PolarsError, OSError):
        return {}
    out: dict[tuple[str, str], list[str]] = {}
    for reason, column, rows, values in frame.iter_rows():
        out[(reason, column)] = [
            f"第{row}行：{'（空）' if value is None else value}"
            for row, value in zip(rows, values, strict=True)
        ]
    return out


def _conformity_problems(
    platform: Platform, ctx: _Context, start: datetime, end: datetime, rows_in: dict[str, int]
) -> list[Problem]:
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                Delivery.dataset,
                Delivery.id,
                Delivery.contract_version,
                QuarantineReason.reason,
                QuarantineReason.column,
                QuarantineReason.rows,
            )
            .join(Delivery, Delivery.id == QuarantineReason.delivery_id)
            .where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                QuarantineReason.reason != Reason.blocked_by_rule.value,
                resubmissions.is_original(),
            )
        ).all()
    grouped: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for r in rows:
        grouped[(r.dataset, r.reason, r.column)].append(r)
    by_dataset: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_dataset[r.dataset].add(r.id)
    examples = {
        dataset: _quarantine_examples(platform, dataset, sorted(ids)) for dataset, ids in by_dataset.items()
    }
    problems = []
    for (dataset, reason, column), found in grouped.items():
        department = ctx.owner(dataset, found[0].contract_version)
        try:
            code = Reason(reason)
            label, dimension = REASON_NAMES.get(code, reason), REASON_DIMENSIONS.get(code, "conformity")
        except ValueError:
            label, dimension = reason, "conformity"
        problems.append(
            Problem(
                kind="conformity",
                dataset=dataset,
                title=ctx.title(dataset),
                department=department,
                department_name=ctx.department_name(department),
                name=reason,
                label=label,
                check=reason,
                column=column,
                column_label=ctx.column_label(dataset, column),
                dimension=dimension,
                blocking=False,
                failed=sum(r.rows for r in found),
                evaluated=rows_in.get(dataset, 0),
                runs=len({r.id for r in found}),
                examples=tuple(examples.get(dataset, {}).get((reason, column), [])[:EXAMPLES]),
            )
        )
    return problems


def _late(platform: Platform, ctx: _Context, start: datetime, end: datetime) -> list[LateDelivery]:
    with platform.metadata.session() as s:
        rows = s.execute(
            select(
                QualityRun.dataset,
                QualityRun.contract_version,
                Delivery.id,
                Delivery.source_file,
                Delivery.delivered_at,
                RuleResult.column,
                RuleResult.observed,
            )
            .join(QualityRun, QualityRun.id == RuleResult.run_id)
            .join(Delivery, Delivery.id == QualityRun.delivery_id)
            .where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                RuleResult.success.is_(False),
                RuleResult.check == "stale_delivery",
                resubmissions.is_original(),
            )
            .order_by(Delivery.delivered_at)
        ).all()
    out = []
    for r in rows:
        known = ctx.catalog.get(r.dataset)
        latency = latency_rule(known) if known is not None else None
        newest = _parse_time(r.observed)
        late_hours = None
        if latency is not None and newest is not None:
            late_hours = round((city_time(r.delivered_at) - latency[0] - newest).total_seconds() / 3600, 1)
        department = ctx.owner(r.dataset, r.contract_version)
        out.append(
            LateDelivery(
                dataset=r.dataset,
                title=ctx.title(r.dataset),
                department=department,
                department_name=ctx.department_name(department),
                delivery_id=r.id,
                source_file=r.source_file,
                delivered_at=r.delivered_at,
                column=r.column,
                newest=None if r.observed is None else str(r.observed),
                latency_hours=round(latency[0].total_seconds() / 3600, 1) if latency else None,
                late_hours=late_hours,
            )
        )
    return out


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _blocked(problems: Sequence[Problem], runs: Sequence[_Run], ctx: _Context) -> list[BlockedDataset]:
    held: dict[str, list[_Run]] = defaultdict(list)
    for r in runs:
        if r.blocked:
            held[r.dataset].append(r)
    out = []
    for dataset, blocked_runs in sorted(held.items()):
        labels = tuple(
            sorted({p.label for p in problems if p.dataset == dataset and p.kind == "rule" and p.blocking})
        )
        department = blocked_runs[0].department
        out.append(
            BlockedDataset(
                dataset=dataset,
                title=ctx.title(dataset),
                department=department,
                department_name=ctx.department_name(department),
                blocked_deliveries=len(blocked_runs),
                rules=labels or ("发布前泄露扫描未通过",),
                rows_held=sum(r.rows_in for r in blocked_runs),
            )
        )
    return out


# --------------------------------------------------------------------------- sharing


def _resources(platform: Platform, ctx: _Context) -> tuple[list[Dataset], list[Dataset]]:
    """The city's data resources: the catalog's datasets not owned by an external source, and the views."""
    from datahub.views import view_contracts

    external = {code for code, c in ctx.departments.items() if c.attributes.get("kind") == "external"}
    datasets = [d for d in ctx.catalog.values() if d.owner_department not in external]
    return datasets, list(view_contracts(platform).values())


def _sharing(platform: Platform, ctx: _Context, start: datetime, end: datetime) -> SharingFigures:
    within = (start, end)

    def inside(at: datetime | None) -> bool:
        return at is not None and within[0] <= at < within[1]

    with platform.metadata.session() as s:
        grants = s.execute(
            select(Grant.status, Grant.requested_at, Grant.decided_at, Grant.revoked_at).where(
                Grant.requested_at < end
            )
        ).all()
        reads = s.execute(
            select(
                AuditRecord.client_name,
                AuditRecord.role,
                AuditRecord.view,
                func.count(),
                func.coalesce(func.sum(AuditRecord.rows), 0),
            )
            .where(
                AuditRecord.at >= start,
                AuditRecord.at < end,
                AuditRecord.action.in_(DATA_READS),
            )
            .group_by(AuditRecord.client_name, AuditRecord.role, AuditRecord.view)
        ).all()
        published = set(
            s.scalars(
                select(Delivery.dataset)
                .where(Delivery.status == DeliveryStatus.published, Delivery.delivered_at < end)
                .distinct()
            )
        )
        built = set(s.scalars(select(Snapshot.dataset).where(Snapshot.is_current).distinct()))
    requested = sum(1 for g in grants if inside(g.requested_at))
    # A revoked grant with a decision time was approved first (only approved or requested ones are revoked).
    approved = sum(
        1 for g in grants if inside(g.decided_at) and g.status in (GrantStatus.approved, GrantStatus.revoked)
    )
    refused = sum(1 for g in grants if inside(g.decided_at) and g.status == GrantStatus.refused)
    revoked = sum(1 for g in grants if inside(g.revoked_at))
    pending = sum(
        1
        for g in grants
        if (g.decided_at is None or g.decided_at >= end) and (g.revoked_at is None or g.revoked_at >= end)
    )
    per_client: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    for name, role, view, count, rows in reads:
        per_client[(name or "未知调用方", role)].append((view, count, rows))
    consumers = sorted(
        (
            ConsumerUse(
                client=name,
                role=role,
                reads=sum(c for _, c, _ in items),
                rows=int(sum(r for _, _, r in items)),
                views=tuple(sorted({v for v, _, _ in items if v})),
            )
            for (name, role), items in per_client.items()
        ),
        key=lambda c: (-c.rows, -c.reads, c.client),
    )
    datasets, views = _resources(platform, ctx)
    resources = datasets + views
    shared = [d for d in datasets if d.name in published] + [v for v in views if v.name in built]
    shared = [r for r in shared if r.sharing_class is not SharingClass.not_shared]
    by_class: dict[str, int] = {c.value: 0 for c in SharingClass}
    for r in resources:
        by_class[r.sharing_class.value] += 1
    decided = approved + refused
    return SharingFigures(
        requested=requested,
        approved=approved,
        refused=refused,
        revoked=revoked,
        approval_rate=round(100 * approved / decided, 1) if decided else None,
        pending=pending,
        reads=sum(c.reads for c in consumers),
        rows_served=sum(c.rows for c in consumers),
        consumers=tuple(consumers),
        resources=len(resources),
        shared_resources=len(shared),
        sharing_rate=round(100 * len(shared) / len(resources), 1) if resources else None,
        by_class=by_class,
    )


# --------------------------------------------------------------------------- events


def _percent(part: float | None, whole: float | None) -> float | None:
    return round(100 * part / whole, 2) if part is not None and whole else None


def _minutes(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def event_figures(platform: Platform, month: str) -> EventFigures | None:
    """The month's event KPIs from the current ``events_unified`` snapshot (None: never published).

    Reads the events reported from ``REPEAT_DAYS`` before the month to its end (a repeat looks back that
    far), measures them with :func:`datahub.views.kpis.event_measures` judged at the same ``as_of`` as
    the published ``event_kpis_daily`` (the latest time in all events), and keeps the month's events."""
    start, end = parse_month(month)
    scan = platform.lake.scan_current("events_unified")
    if scan is None:
        return None
    codes = ViewCodes.of(platform.dictionary)
    as_of = (
        scan.select(pl.max_horizontal(pl.col("updated_at").max(), pl.col("report_time").max()).alias("as_of"))
        .collect()
        .item()
    )
    window = scan.select(*NEEDED, "source_count").filter(
        pl.col("report_time") >= start - timedelta(days=REPEAT_DAYS), pl.col("report_time") < end
    )
    frame = window.collect()
    in_month = (pl.col("report_time") >= start) & (pl.col("report_time") < end)
    duplicates = frame.filter(in_month & (pl.col("source_count") > 1)).height
    measured = event_measures(frame.drop("source_count"), codes, as_of=as_of).filter(in_month)
    totals = with_rates(measured.select(kpi_aggregates())).row(0, named=True)
    per_level = with_rates(measured.group_by("response_level").agg(kpi_aggregates()))
    level_rows = {r["response_level"]: r for r in per_level.iter_rows(named=True)}
    level_codes = platform.dictionary.codes("response_level")
    limits = {r["response_level"]: r["response_minutes"] for r in codes.levels.iter_rows(named=True)}
    by_level = []
    for level in LEVELS:
        row = level_rows.get(level, {})
        events = int(row.get("events") or 0)
        over = int(row.get("response_overdue") or 0)
        by_level.append(
            LevelFigures(
                level=level,
                name=level_codes[level].name_zh if level in level_codes else level,
                events=events,
                limit_minutes=limits.get(level),
                response_p50=_minutes(row.get("response_minutes_p50")),
                response_p90=_minutes(row.get("response_minutes_p90")),
                response_overdue=over,
                overdue_share=_percent(over, events),
            )
        )
    majors = (
        platform.dictionary.codes("event_major_category")
        if "event_major_category" in platform.dictionary.code_tables
        else {}
    )
    categories = measured.group_by("major_category").agg(pl.len().alias("events"))
    by_category = sorted(
        (
            CategoryVolume(
                code=code or "—",
                name=majors[code].name_zh if code in majors else (code or "未分类"),
                events=int(n),
            )
            for code, n in categories.iter_rows()
        ),
        key=lambda c: (-c.events, c.code),
    )
    events = int(totals["events"] or 0)
    return EventFigures(
        events=events,
        as_of=as_of,
        by_category=tuple(by_category),
        by_level=tuple(by_level),
        closed=int(totals["closed_events"] or 0),
        closure_rate=_percent(totals["closed_events"], events),
        resolution_known=int(totals["resolution_known"] or 0),
        resolved=int(totals["resolved_events"] or 0),
        resolution_rate=_percent(totals["resolved_events"], totals["resolution_known"]),
        rated=int(totals["rated_events"] or 0),
        satisfied=int(totals["satisfied_events"] or 0),
        satisfaction_rate=_percent(totals["satisfied_events"], totals["rated_events"]),
        reporter_events=int(totals["reporter_events"] or 0),
        repeat_events=int(totals["repeat_events"] or 0),
        repeat_rate=_percent(totals["repeat_events"], totals["reporter_events"]),
        duplicates_linked=duplicates,
        response_p50=_minutes(totals["response_minutes_p50"]),
        response_p90=_minutes(totals["response_minutes_p90"]),
        cross_dept_events=int(totals["cross_dept_events"] or 0),
        cross_dept_minutes_avg=_minutes(totals["cross_dept_minutes_avg"]),
        response_overdue=int(totals["response_overdue"] or 0),
        handling_overdue=int(totals["handling_overdue"] or 0),
    )


# --------------------------------------------------------------------------- actions


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _actions(
    departments: Sequence[DepartmentFigures],
    problems: Sequence[Problem],
    late: Sequence[LateDelivery],
    blocked: Sequence[BlockedDataset],
    sharing: SharingFigures,
    events: EventFigures | None,
    target: float,
    unfinished: Sequence[UnfinishedDelivery] = (),
) -> list[str]:
    """下月整改重点: concrete sentences derived from the figures, most urgent first."""
    out = []
    stuck: dict[tuple[str, str], list[UnfinishedDelivery]] = defaultdict(list)
    for u in unfinished:
        stuck[(u.department_name, u.title)].append(u)
    for (department, title), held in stuck.items():
        statuses: dict[str, int] = defaultdict(int)
        for u in held:
            statuses[u.status_name] += 1
        how = "、".join(f"{name} {n} 批" for name, n in statuses.items())
        out.append(
            f"{department}：{title}有 {len(held)} 批交付未完成处理（{how}），行数尚未核对，"
            "请平台运维排查原因后重新处理（datahub deliveries retry），直至发布或隔离。"
        )
    for b in blocked:
        out.append(
            f"{b.department_name}：{b.title}本月有 {b.blocked_deliveries} 批交付被阻断"
            f"（{'；'.join(b.rules)}），{b.rows_held:,} 行未能发布，请修正后重新交付。"
        )
    for d in departments:
        if d.board != YELLOW:
            continue
        q = d.quality
        worst = q.worst_dimension
        gap = target - (q.pass_rate or 0)
        sentence = f"{d.name}：本月数据合格率 {_pct(q.pass_rate)}"
        sentence += f"，低于 {target}% 目标 {gap:.2f} 个百分点" if gap > 0 else f"，达到 {target}% 目标"
        if q.blocked:
            sentence += f"，有 {q.blocked} 批交付被阻断"
        if q.late:
            sentence += f"，有 {q.late} 批交付逾期"
        if worst is not None:
            sentence += f"；最弱维度为{DIMENSION_NAMES[worst]}（{q.dimensions[worst]:.1f} 分）"
        out.append(sentence + "，请列为下月整改重点。")
    ranked = sorted(
        (p for p in problems if not p.blocking and not p.table_level),
        key=lambda p: (-(p.failed_share or 0), -p.failed, p.dataset),
    )
    for p in ranked[:3]:
        where = f"（{p.column_label or p.column}）" if p.column else ""
        share = f"，占 {p.failed_share:.2f}%" if p.failed_share is not None else ""
        out.append(
            f"{p.department_name}：{p.title}「{p.label}」{where}本月 {p.failed:,} 条不合格{share}"
            f"（{p.dimension_name}），请在源系统中修正。"
        )
    late_by: dict[tuple[str, str], list[LateDelivery]] = defaultdict(list)
    for item in late:
        late_by[(item.department_name, item.title)].append(item)
    for (department, title), items in late_by.items():
        worst_late = max((i.late_hours or 0 for i in items), default=0)
        delay = f"，最长超出时效 {worst_late / 24:.1f} 天" if worst_late else ""
        out.append(f"{department}：{title}有 {len(items)} 批交付超出时效要求{delay}，请按 SLA 及时更新数据。")
    if sharing.sharing_rate is not None and sharing.sharing_rate < sharing.target:
        out.append(
            f"数据共享率 {sharing.sharing_rate:.1f}%，低于 {sharing.target:.0f}% 目标：请各部门推动"
            f"可共享数据资源按时发布（目前 {sharing.shared_resources}/{sharing.resources} 项）。"
        )
    if sharing.pending:
        out.append(f"尚有 {sharing.pending} 项共享申请待审批，请市大数据办及时处理。")
    if events is not None:
        slow = [
            f"{level.name}事件 {level.overdue_share:.1f}%（时限 {level.limit_minutes:.0f} 分钟）"
            for level in events.by_level
            if level.overdue_share is not None
            and level.overdue_share > OVERDUE_SHARE_ALERT
            and level.limit_minutes
        ]
        if slow:
            out.append(f"事件响应超时占比偏高：{'，'.join(slow)}，请各处置部门压实派单响应时限。")
    if not out:
        out.append("本月各部门数据质量均达标，无阻断、逾期和未完成处理的交付，请保持。")
    return out


# --------------------------------------------------------------------------- the month


def _trend(
    runs: Sequence[_Run], month: str, department_codes: Sequence[str]
) -> tuple[Trend, dict[str, dict[str, QualityTotals]]]:
    all_months = sorted({r.month for r in runs if r.month <= month})
    by_month: dict[str, list[_Run]] = defaultdict(list)
    for r in runs:
        by_month[r.month].append(r)
    city = []
    per: dict[str, dict[str, QualityTotals]] = defaultdict(dict)
    for m in all_months:
        t = _totals(by_month[m], {})
        city.append(TrendPoint(m, t.pass_rate, t.score, t.rows_in))
        dept_runs: dict[str | None, list[_Run]] = defaultdict(list)
        for r in by_month[m]:
            dept_runs[r.department].append(r)
        for code, items in dept_runs.items():
            if code is not None:
                per[code][m] = _totals(items, {})
    departments = {
        code: tuple(
            TrendPoint(
                m,
                per[code][m].pass_rate if m in per[code] else None,
                per[code][m].score if m in per[code] else None,
                per[code][m].rows_in if m in per[code] else 0,
            )
            for m in all_months
        )
        for code in department_codes
    }
    return Trend(tuple(all_months), tuple(city), departments), per


def month_figures(platform: Platform, month: str, *, with_events: bool = True) -> MonthFigures:
    """Every figure of ``month`` (``YYYY-MM``). InputError for a malformed month, NotFound for a month
    without quality runs. ``with_events=False`` skips reading ``events_unified`` (``events`` is None)."""
    start, end = recorded_bounds(month)
    ctx = _Context(platform)
    runs = _runs(platform, ctx, end)
    current = [r for r in runs if r.month == month]
    if not current:
        known = ", ".join(months(platform)) or "none yet"
        raise NotFound(f"no quality runs in {month} (months with runs: {known})")
    prev = previous_month(month)
    prev_start, _ = recorded_bounds(prev)
    scores = _scores(platform, start, end)
    counts = _delivery_counts(platform, ctx, start, end)
    late = _late(platform, ctx, start, end)
    late_ids = frozenset(item.delivery_id for item in late)
    city = _totals(current, scores, _counts(counts), late_ids)
    previous_runs = [r for r in runs if r.month == prev]
    previous = (
        _totals(
            previous_runs,
            _scores(platform, prev_start, start),
            _counts(_delivery_counts(platform, ctx, prev_start, start)),
        )
        if previous_runs
        else None
    )

    codes = list(ctx.departments)
    extra = sorted({r.department for r in current if r.department and r.department not in ctx.departments})
    codes += extra
    trend, per_month = _trend(runs, month, codes)

    by_dept: dict[str, list[_Run]] = defaultdict(list)
    for r in current:
        if r.department is not None:
            by_dept[r.department].append(r)
    departments = []
    for code in codes:
        dept_runs = by_dept.get(code, [])
        totals = _totals(dept_runs, scores, _counts(c for c in counts if c[1] == code), late_ids)
        previous_dept = per_month.get(code, {}).get(prev)
        departments.append(
            DepartmentFigures(
                code=code,
                name=ctx.department_name(code),
                datasets=tuple(sorted({r.dataset for r in dept_runs})),
                quality=totals,
                previous_pass_rate=previous_dept.pass_rate if previous_dept else None,
                rank=None,
                board=board(totals),
            )
        )
    ranked = sorted(
        (d for d in departments if d.board != NO_DATA),
        key=lambda d: (-(d.quality.pass_rate or 0), -(d.quality.score or 0), d.code),
    )
    ordered = [DepartmentFigures(**{**d.__dict__, "rank": i + 1}) for i, d in enumerate(ranked)] + [
        d for d in departments if d.board == NO_DATA
    ]

    by_dataset: dict[str, list[_Run]] = defaultdict(list)
    for r in current:
        by_dataset[r.dataset].append(r)
    datasets = []
    for name in sorted(by_dataset):
        items = by_dataset[name]
        department = items[0].department
        datasets.append(
            DatasetFigures(
                dataset=name,
                title=ctx.title(name),
                department=department,
                department_name=ctx.department_name(department),
                quality=_totals(items, scores, _counts(c for c in counts if c[0] == name), late_ids),
            )
        )
    rows_in = {d.dataset: d.quality.rows_in for d in datasets}
    problems = _rule_problems(platform, ctx, start, end) + _conformity_problems(
        platform, ctx, start, end, rows_in
    )
    problems.sort(
        key=lambda p: (not p.blocking, p.table_level, -(p.failed_share or 0), -p.failed, p.dataset, p.name)
    )
    blocked = _blocked(problems, current, ctx)
    sharing = _sharing(platform, ctx, start, end)
    events = event_figures(platform, month) if with_events else None
    unfinished = _unfinished(platform, ctx, start, end)
    actions = _actions(ordered, problems, late, blocked, sharing, events, PASS_RATE_TARGET, unfinished)
    return MonthFigures(
        month=month,
        label=month_label(month),
        previous_month=prev,
        generated_at=datetime.now(UTC).replace(tzinfo=None),
        target=PASS_RATE_TARGET,
        city=city,
        previous=previous,
        departments=tuple(ordered),
        datasets=tuple(datasets),
        trend=trend,
        problems=tuple(problems),
        late=tuple(late),
        blocked=tuple(blocked),
        sharing=sharing,
        events=events,
        actions=tuple(actions),
        unfinished=tuple(unfinished),
        grant_deadlines=deadline_figures(platform, start, end),
        corrections=correction_figures(platform, start, end),
        resubmissions=resubmissions.month_fixes(platform, start, end, ctx.owner, ctx.department_name),
    )


def overview(platform: Platform, *, with_events: bool = True) -> MonthFigures | None:
    """The latest month's figures (with the trend up to it), or None before any quality run."""
    known = months(platform)
    return month_figures(platform, known[-1], with_events=with_events) if known else None


def fingerprint(platform: Platform, month: str) -> str:
    """A short hash that changes whenever something ``month``'s figures read has changed: deliveries up
    to its end (the trend reads every month before), grants, audit records of the month, snapshots,
    registered contracts and the ``events_unified`` version. A cache key for rendered reports."""
    start, end = recorded_bounds(month)
    with platform.metadata.session() as s:
        parts = [
            s.execute(
                select(func.count(), func.max(Delivery.finished_at), func.max(Delivery.status)).where(
                    Delivery.delivered_at < end
                )
            ).one(),
            # Deliveries per status and reconciliation: one that fails, is claimed or finishes counts.
            tuple(
                s.execute(
                    select(Delivery.status, Delivery.reconciled, func.count())
                    .where(Delivery.delivered_at < end)
                    .group_by(Delivery.status, Delivery.reconciled)
                    .order_by(Delivery.status, Delivery.reconciled)
                ).all()
            ),
            s.execute(
                select(func.count(), func.max(QualityRun.id))
                .join(Delivery, Delivery.id == QualityRun.delivery_id)
                .where(Delivery.delivered_at < end)
            ).one(),
            s.execute(
                select(
                    func.count(),
                    func.max(Grant.requested_at),
                    func.max(Grant.decided_at),
                    func.max(Grant.revoked_at),
                ).select_from(Grant)
            ).one(),
            s.execute(
                select(func.count(), func.max(AuditRecord.seq)).where(
                    AuditRecord.at >= start, AuditRecord.at < end
                )
            ).one(),
            s.execute(select(func.count(), func.max(Snapshot.created_at)).select_from(Snapshot)).one(),
            s.execute(select(func.count()).select_from(ContractVersion)).one(),
            s.execute(
                select(
                    func.count(),
                    func.max(CorrectionRequest.requested_at),
                    func.max(CorrectionRequest.answered_at),
                ).where(CorrectionRequest.requested_at < end)
            ).one(),
            # Fixes delivered later still change the month of the delivery they fix.
            s.execute(
                select(func.count(), func.max(Delivery.finished_at)).where(Delivery.corrects.is_not(None))
            ).one(),
        ]
    published = platform.lake.current_version("events_unified")
    text = repr([month, [tuple(p) for p in parts], published.version if published else None])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = [
    "BOARD_NAMES",
    "CHECK_NAMES",
    "DELIVERY_STATUS_NAMES",
    "NO_DATA",
    "RED",
    "SHARING_CLASS_NAMES",
    "SHARING_RATE_TARGET",
    "UNFINISHED_NAME",
    "YELLOW",
    "BlockedDataset",
    "CategoryVolume",
    "ConsumerUse",
    "DatasetFigures",
    "DepartmentFigures",
    "EventFigures",
    "LateDelivery",
    "LevelFigures",
    "MonthFigures",
    "Problem",
    "QualityTotals",
    "SharingFigures",
    "Trend",
    "TrendPoint",
    "UnfinishedDelivery",
    "board",
    "event_figures",
    "fingerprint",
    "month_figures",
    "month_label",
    "months",
    "overview",
    "parse_month",
    "previous_month",
]
