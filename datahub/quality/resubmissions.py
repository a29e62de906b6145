"""Resubmissions: quarantined rows a department fixed and resubmitted, counted for the delivery they fix.

A resubmission (`datahub quarantine resubmit`) is a delivery of its own for the pipeline (it is read,
checked, published and reconciled like any: rows in = published + quarantined), linked by
``Delivery.corrects`` to the delivery whose quarantined rows it fixes — the *original*. A fix of a
fix's rows links to the same original, so a chain of corrections always points at one delivery.

What the link changes in every figure (the monthly report, the dashboard, `datahub status`,
`datahub quality show`, the demo summary):

- a fix is no delivery: it is left out of delivery counts, out of the denominators of pass rates and
  out of "the latest delivery" of a dataset;
- rows fixed 已整改 of an original = the rows its fixes published (at most its quarantined rows);
  rows waiting 待整改 = its quarantined rows − rows fixed (rows of a fix quarantined again are still the
  original's, waiting, never counted twice);
- its effective pass rate = (rows it passed + rows its fixes published that passed every check) ÷ its
  rows in (at most 100%): the rows count in the original's month, for its department and dataset;
- time to fix 整改用时 = hours from the original's finish to a fix's finish, per fix that published rows.

Scores per GB/T 36344 dimension stay those of the file as delivered.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from datahub.contracts import Dataset
from datahub.errors import InputError
from datahub.ingest.landing import discover, recorded
from datahub.metadata import Delivery, DeliveryStatus, QualityRun
from datahub.platform import Platform

COUNTED = tuple(sorted(DeliveryStatus.FINAL - {DeliveryStatus.duplicate}))
"""A fix counts once finished after being processed (a duplicate processes nothing)."""
_DELIVERY_ID = re.compile(r"[0-9a-f]{32}")


def is_original() -> ColumnElement[bool]:
    """SQL: the delivery is no fix (what counts as a delivery in every figure)."""
    return Delivery.corrects.is_(None)


# ----------------------------------------------------------------------------- linking a resubmission


def original_of(platform: Platform, dataset: Dataset, lines: dict[str, int | None], file: str) -> str:
    """The one delivery a resubmission fixes, from the deliveries its rows were quarantined in
    (``lines``: each id → the first line naming it, None for an id given on the command line). Each must
    be a delivery of ``dataset``; a fix stands for the delivery it fixes. InputError, naming the file and
    line, for a malformed or unknown id, a delivery of another dataset, or rows of several originals."""

    def refused(message: str, delivery_id: str) -> InputError:
        line = lines[delivery_id]
        return InputError(message, file=file, path=f"line {line}: _delivery" if line else "--fixes")

    originals: set[str] = set()
    with platform.metadata.session() as s:
        for delivery_id in sorted(lines, key=lambda i: lines[i] or 0):
            if not _DELIVERY_ID.fullmatch(delivery_id):
                raise refused(
                    f"{delivery_id!r} is no delivery id (32 hexadecimal digits; "
                    f"`datahub quarantine deliveries {dataset.name}` lists them)",
                    delivery_id,
                )
            found = s.get(Delivery, delivery_id)
            if found is None:
                raise refused(
                    f"no delivery {delivery_id}; `datahub quarantine deliveries {dataset.name}` lists them",
                    delivery_id,
                )
            if found.dataset != dataset.name:
                raise refused(
                    f"delivery {delivery_id} is a delivery of {found.dataset}, not of {dataset.name}: "
                    f"resubmit its rows as {found.dataset}",
                    delivery_id,
                )
            original = s.get(Delivery, found.corrects) if found.corrects else found
            if original is None or not original.rows_quarantined:
                raise refused(
                    f"delivery {delivery_id} quarantined no rows: there is nothing to fix", delivery_id
                )
            originals.add(original.id)
    if len(originals) > 1:
        raise InputError(
            f"rows fixing {len(originals)} deliveries ({', '.join(sorted(originals))}): resubmit the rows "
            "of each delivery in a file of their own",
            file=file,
            path="_delivery",
        )
    if not originals:
        raise InputError(
            "the file does not say which delivery its rows fix: keep the _delivery column of "
            "`datahub quarantine export`, or give --fixes DELIVERY",
            file=file,
            path="_delivery",
        )
    return originals.pop()


def link_fix(platform: Platform, dataset: Dataset, landed: Path, original: str) -> None:
    """Register the landed resubmission (if no run has yet) and link its delivery to ``original``."""
    discover(platform, dataset)
    with platform.metadata.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.dataset == dataset.name, Delivery.landed_path == recorded(landed))
            .values(corrects=original)
        )


# ----------------------------------------------------------------------------- what fixes did


@dataclass(frozen=True)
class Fixes:
    """What the fixes of one original delivery did."""

    fixes: int  # finished fix deliveries
    rows_published: int  # rows the fixes published (uncapped)
    rows_passed: int  # of those, rows that passed every check
    hours: tuple[float, ...]  # original's finish → each fix's finish, for fixes that published rows
    unfinished: int = 0  # fix deliveries not finished yet


def fixes_of(s: Session, originals: Iterable[str] | None = None) -> dict[str, Fixes]:
    """Per original delivery (all, or those of ``originals``), what its fixes did."""
    query = (
        select(
            Delivery.corrects,
            Delivery.status,
            Delivery.rows_published,
            Delivery.finished_at,
            QualityRun.rows_passed,
        )
        .outerjoin(QualityRun, QualityRun.delivery_id == Delivery.id)
        .where(Delivery.corrects.is_not(None), Delivery.status != DeliveryStatus.duplicate)
    )
    if originals is not None:
        query = query.where(Delivery.corrects.in_(list(originals)))
    rows = s.execute(query).all()
    finished_at = dict(
        s.execute(
            select(Delivery.id, Delivery.finished_at).where(Delivery.id.in_({r.corrects for r in rows}))
        ).all()
    )
    grouped: dict[str, list[tuple[str, int, datetime | None, int]]] = defaultdict(list)
    for r in rows:
        grouped[r.corrects].append((r.status, r.rows_published or 0, r.finished_at, r.rows_passed or 0))
    out = {}
    for original, fixes in grouped.items():
        done = [f for f in fixes if f[0] in COUNTED]
        start = finished_at.get(original)
        out[original] = Fixes(
            fixes=len(done),
            rows_published=sum(published for _, published, _, _ in done),
            rows_passed=sum(min(passed, published) for _, published, _, passed in done),
            hours=tuple(
                round((at - start).total_seconds() / 3600, 3)
                for _, published, at, _ in done
                if published and at is not None and start is not None
            ),
            unfinished=len(fixes) - len(done),
        )
    return out


def rows_fixed(rows_quarantined: int | None, fixes: Fixes | None) -> int:
    """Rows of the original fixed: what its fixes published, at most what it quarantined."""
    return min(fixes.rows_published, rows_quarantined or 0) if fixes else 0


def rows_passed(rows_in: int, passed: int, fixes: Fixes | None) -> int:
    """The original's rows that pass, its fixed rows included (at most its rows in)."""
    return min(passed + fixes.rows_passed, rows_in) if fixes else passed


def pass_rate(rows_in: int, passed: int, fixes: Fixes | None) -> float:
    """The original's effective pass rate in percent (as ``QualityRun.pass_rate``: 100 without rows)."""
    return round(100 * rows_passed(rows_in, passed, fixes) / rows_in, 3) if rows_in else 100.0


def with_fixes(
    view: dict[str, Any], rows_in: int, passed: int, rows_quarantined: int | None, fixes: Fixes | None
) -> dict[str, Any]:
    """A quality run's view (``pass_rate`` as checked) with what the delivery's fixes did: ``pass_rate``
    counts the fixed rows, ``delivered_pass_rate`` is the file's as delivered, ``rows_fixed``."""
    return {
        **view,
        "delivered_pass_rate": view["pass_rate"],
        "pass_rate": pass_rate(rows_in, passed, fixes) if fixes else view["pass_rate"],
        "rows_fixed": rows_fixed(rows_quarantined, fixes),
    }


# ----------------------------------------------------------------------------- per delivery


@dataclass(frozen=True)
class DeliveryFixes:
    """A delivery with quarantined rows (an original) and what its fixes did."""

    delivery_id: str
    source_file: str
    delivered_at: datetime
    status: str
    rows_in: int
    rows_quarantined: int
    rows_fixed: int
    rows_waiting: int
    fixes: tuple[str, ...]  # ids of its fix deliveries, oldest first
    waiting_in: tuple[str, ...]  # deliveries whose quarantine holds its waiting rows (it, and fixes)


def dataset_fixes(platform: Platform, dataset: Dataset) -> list[DeliveryFixes]:
    """Every original delivery of ``dataset`` that quarantined rows, newest first."""
    with platform.metadata.session() as s:
        originals = s.scalars(
            select(Delivery)
            .where(
                Delivery.dataset == dataset.name,
                is_original(),
                Delivery.rows_quarantined > 0,
            )
            .order_by(Delivery.delivered_at.desc(), Delivery.source_file)
        ).all()
        fixes = fixes_of(s, [d.id for d in originals])
        linked: dict[str | None, list[tuple[str, int]]] = defaultdict(list)
        for fix_id, original, quarantined in s.execute(
            select(Delivery.id, Delivery.corrects, Delivery.rows_quarantined)
            .where(Delivery.corrects.in_([d.id for d in originals]))
            .order_by(Delivery.delivered_at, Delivery.landed_at)
        ):
            linked[original].append((fix_id, quarantined or 0))
        out = []
        for d in originals:
            fixed = rows_fixed(d.rows_quarantined, fixes.get(d.id))
            waiting = (d.rows_quarantined or 0) - fixed
            out.append(
                DeliveryFixes(
                    delivery_id=d.id,
                    source_file=d.source_file,
                    delivered_at=d.delivered_at,
                    status=d.status,
                    rows_in=d.rows_in or 0,
                    rows_quarantined=d.rows_quarantined or 0,
                    rows_fixed=fixed,
                    rows_waiting=waiting,
                    fixes=tuple(fix_id for fix_id, _ in linked[d.id]),
                    waiting_in=tuple([d.id] if waiting else [])
                    + tuple(fix_id for fix_id, held in linked[d.id] if held and waiting),
                )
            )
        return out


# ----------------------------------------------------------------------------- per department


@dataclass(frozen=True)
class DepartmentFixes:
    """Corrections of the deliveries a department delivered in a month (attributed by the original)."""

    code: str | None
    name: str
    deliveries: int  # of its deliveries in the month, those that quarantined rows
    rows_quarantined: int
    rows_fixed: int
    rows_waiting: int
    fixes: int  # finished fix deliveries
    fixes_unfinished: int
    time_to_fix_hours: float | None  # median over fixes that published rows

    @property
    def fixed_share(self) -> float | None:
        """Percent of the quarantined rows fixed."""
        return round(100 * self.rows_fixed / self.rows_quarantined, 2) if self.rows_quarantined else None


def month_fixes(
    platform: Platform,
    start: datetime,
    end: datetime,
    owner: Callable[[str, str], str | None],
    name: Callable[[str | None], str],
) -> tuple[DepartmentFixes, ...]:
    """Per department (``owner(dataset, contract_version)``), the corrections of its deliveries
    delivered in [start, end) that quarantined rows; most rows waiting first."""
    with platform.metadata.session() as s:
        originals = s.execute(
            select(
                Delivery.id,
                Delivery.dataset,
                Delivery.contract_version,
                Delivery.rows_quarantined,
            ).where(
                Delivery.delivered_at >= start,
                Delivery.delivered_at < end,
                is_original(),
                Delivery.status.in_(COUNTED),
                Delivery.rows_quarantined > 0,
            )
        ).all()
        fixes = fixes_of(s, [d.id for d in originals])
    by_department: dict[str | None, list[tuple[int, Fixes | None]]] = defaultdict(list)
    for d in originals:
        by_department[owner(d.dataset, d.contract_version)].append((d.rows_quarantined, fixes.get(d.id)))
    out = []
    for code, items in by_department.items():
        quarantined = sum(q for q, _ in items)
        fixed = sum(rows_fixed(q, f) for q, f in items)
        hours = [h for _, f in items if f for h in f.hours]
        out.append(
            DepartmentFixes(
                code=code,
                name=name(code),
                deliveries=len(items),
                rows_quarantined=quarantined,
                rows_fixed=fixed,
                rows_waiting=quarantined - fixed,
                fixes=sum(f.fixes for _, f in items if f),
                fixes_unfinished=sum(f.unfinished for _, f in items if f),
                time_to_fix_hours=round(statistics.median(hours), 2) if hours else None,
            )
        )
    return tuple(sorted(out, key=lambda c: (-c.rows_waiting, -c.rows_quarantined, c.code or "")))
