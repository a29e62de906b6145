"""Delivery findings that do not quarantine rows: timeliness against the SLA, stuck devices.

Both are declared in the contract with standard ODCS fields:

- timeliness: the ``latency`` SLA property with its ``element`` (the column whose newest value must be
  no older than the latency when the file is delivered);
- stuck values: a ``custom`` quality rule with ``engine: datahub`` and
  ``implementation: {rule: stuckValue, groupBy, orderBy, minHours}`` on the measured property.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from datahub.contracts import Dataset
from datahub.quality.reasons import FindingKind

UNIT_HOURS = {
    "h": 1,
    "hr": 1,
    "hour": 1,
    "hours": 1,
    "d": 24,
    "day": 24,
    "days": 24,
    "w": 168,
    "week": 168,
    "weeks": 168,
    "y": 8760,
    "yr": 8760,
    "year": 8760,
    "years": 8760,
}


@dataclass(frozen=True)
class DeliveryFinding:
    kind: FindingKind
    column: str | None
    rows: int
    detail: dict[str, Any] = field(default_factory=dict)


def latency_rule(dataset: Dataset) -> tuple[timedelta, str] | None:
    for sla in dataset.contract.slaProperties or []:
        if sla.property == "latency" and sla.element and sla.value is not None:
            hours = UNIT_HOURS.get((sla.unit or "d").lower())
            if hours is None:
                return None
            column = sla.element.split(".")[-1]
            return timedelta(hours=float(sla.value) * hours), column
    return None


def stale_delivery(
    conformed: pl.DataFrame, dataset: Dataset, delivered_at: datetime
) -> DeliveryFinding | None:
    rule = latency_rule(dataset)
    if rule is None:
        return None
    latency, column = rule
    if column not in conformed.columns or conformed.height == 0:
        return None
    newest = conformed.get_column(column).max()
    if newest is None:
        return None
    if not isinstance(newest, datetime):
        newest = datetime.combine(newest, datetime.min.time())  # type: ignore[arg-type]
    age = delivered_at - newest
    if age <= latency:
        return None
    return DeliveryFinding(
        FindingKind.stale_delivery,
        column,
        conformed.height,
        {
            "newest": newest.isoformat(),
            "delivered_at": delivered_at.isoformat(),
            "age_days": round(age.total_seconds() / 86400, 1),
            "latency_days": latency.total_seconds() / 86400,
        },
    )


def _stuck_rules(dataset: Dataset) -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for obj in dataset.contract.schema_ or []:
        for prop in obj.properties or []:
            for rule in prop.quality or []:
                impl = getattr(rule, "implementation", None)
                if (
                    prop.name
                    and getattr(rule, "engine", None) == "datahub"
                    and isinstance(impl, dict)
                    and impl.get("rule") == "stuckValue"
                ):
                    rules.append((prop.name, impl))
    return rules


def stuck_values(
    conformed: pl.DataFrame, dataset: Dataset, published: pl.LazyFrame | None = None
) -> list[DeliveryFinding]:
    """Runs of one repeated value per device lasting at least ``minHours``.

    A run may have begun in an earlier delivery: the published readings of the ``minHours`` before
    this delivery are prepended, and only this delivery's rows are counted.
    """
    findings = []
    for column, impl in _stuck_rules(dataset):
        group, order, min_hours = impl["groupBy"], impl["orderBy"], float(impl.get("minHours", 24))
        current = conformed.select(group, order, column).with_columns(pl.lit(True).alias("_current"))
        frames = [current]
        first = conformed.get_column(order).min()
        if published is not None and first is not None:
            since = first - timedelta(hours=min_hours)  # type: ignore[operator]
            earlier = (
                published.select(group, order, column)
                .filter((pl.col(order) >= since) & (pl.col(order) < first))
                .collect()
            )
            frames.insert(0, earlier.with_columns(pl.lit(False).alias("_current")))
        runs = (
            pl.concat(frames, how="vertical_relaxed")
            .sort(group, order)
            .with_columns(pl.col(column).rle_id().over(group).alias("_run"))
            .group_by(group, "_run")
            .agg(
                pl.col(column).first().alias("value"),
                pl.col(order).min().alias("start"),
                pl.col(order).max().alias("end"),
                pl.col("_current").sum().alias("rows"),
            )
            .filter((pl.col("end") - pl.col("start") >= pl.duration(hours=min_hours)) & (pl.col("rows") > 0))
            .sort(group, "start")
        )
        for run in runs.iter_rows(named=True):
            findings.append(
                DeliveryFinding(
                    FindingKind.stuck_value,
                    column,
                    run["rows"],
                    {
                        group: run[group],
                        "value": run["value"],
                        "start": run["start"].isoformat(),
                        "end": run["end"].isoformat(),
                        "hours": round((run["end"] - run["start"]).total_seconds() / 3600, 1),
                    },
                )
            )
    return findings


def delivery_findings(
    conformed: pl.DataFrame, dataset: Dataset, delivered_at: datetime, published: pl.LazyFrame | None = None
) -> list[DeliveryFinding]:
    stale = stale_delivery(conformed, dataset, delivered_at)
    return [*([stale] if stale else []), *stuck_values(conformed, dataset, published)]
