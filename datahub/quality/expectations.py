"""A delivery's expectation suite (Great Expectations 1.x), compiled from the dataset's contract.

Every rule is a GX expectation whose ``meta`` names the rule, the check it performs (a stable code),
its GB/T 36344 dimension and whether it blocks publication; blocking rules carry GX severity
``critical``, warnings ``warning``. Nothing is written per dataset by hand. Sources:

- the contract's ODCS quality rules (see :mod:`datahub.quality.rules`):
  ``nullValues`` → ``ExpectColumnValuesToNotBeNull``; ``missingValues`` → ``ExpectColumnValuesToNotBeInSet``
  (the listed placeholders); ``invalidValues`` → ``ExpectColumnValuesToBeInSet`` (``validValues``),
  ``ExpectColumnValuesToMatchRegex`` (``pattern``) or ``ExpectColumnValuesToBeBetween``
  (``minimum``/``maximum``); ``duplicateValues`` → ``ExpectColumnValuesToBeUnique`` /
  ``ExpectCompoundColumnsToBeUnique``; ``rowCount`` → ``ExpectTableRowCountToBeBetween``; ``sql`` and the
  platform's ``custom`` rules (``stuckValue``, ``referenceExists``) → ``UnexpectedRowsExpectation``.
  Count thresholds (``unit: rows``) become GX's ``mostly`` over the rows the expectation looks at, so the
  verdict is exactly the ODCS comparison.
- what the contract declares elsewhere: the received columns must be exactly the contract's, in order
  for tabular formats (``columns_closed``); the primary key is unique (``primary_key_unique``); the
  newest value of the SLA ``latency`` element is no older than the latency when the file was delivered
  (``freshness``); the delivery's row count is within ``[0.5, 2]`` × the previous delivery's
  (``volume``; a ``volume`` custom rule may set other ratios).

Expectations look at the conformed rows of one delivery (the rows that would be published).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from datahub.contracts import Dataset
from datahub.contracts.sla import sla_duration
from datahub.quality import sql
from datahub.quality.rules import DATAHUB_RULES, CompiledRule, RuleError, bind_placeholders, compile_rule

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no usage statistics: this machine is offline

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

# Placeholders counted as missing by ``missingValues`` when the rule does not list its own.
MISSING_PLACEHOLDERS = ["N/A", "NA", "n/a", "null", "NULL", "None", "-", "无", "未知", "不详"]
VOLUME_RATIOS = (0.5, 2.0)
TABULAR_FORMATS = ("csv", "excel", "xlsx", "parquet")
BATCH = "{batch}"  # the delivery's conformed rows, in every query


def latency_rule(dataset: Dataset) -> tuple[timedelta, str] | None:
    """The SLA ``latency`` with its ``element``: how old the newest value of that column may be.

    The loader has refused a latency that is not a duration, so every latency with an element has a rule.
    """
    for sla in dataset.contract.slaProperties or []:
        if sla.property == "latency" and sla.element:
            return sla_duration(sla.value, sla.unit), sla.element.split(".")[-1]
    return None


@dataclass(frozen=True)
class SuiteContext:
    """What the suite needs to know about the delivery it will check."""

    rows: int  # conformed rows
    null_counts: dict[str, int]  # per column, of the conformed rows
    received_columns: list[str]  # as delivered (physical names), lineage excluded
    delivered_at: datetime
    previous_rows: int | None = None  # conformed rows of the previous delivery of the dataset


@dataclass(frozen=True)
class Rule:
    """One rule of a suite: the expectation and what the platform does with its outcome."""

    name: str
    check: str  # stable code of what is checked (nullValues, freshness, stuck_value, …)
    dimension: str
    blocking: bool
    column: str | None
    expectation: Expectation
    description: str = ""
    # Datasets a query reads besides the batch (consistency rules).
    reads: tuple[str, ...] = field(default_factory=tuple)


def _at_most(rule: CompiledRule, looked_at: int) -> float | None:
    """GX ``mostly`` equivalent to 'failing values {operator} threshold' over ``looked_at`` values."""
    operator, threshold = rule.operator, rule.threshold
    if operator == "mustBe" and threshold == 0:
        return None
    if operator not in ("mustBe", "mustBeLessThan", "mustBeLessOrEqualTo"):
        raise RuleError(
            f"{rule.metric} can only be compared with mustBe 0, mustBeLessThan or mustBeLessOrEqualTo"
        )
    if rule.unit == "percent":
        share = float(threshold) / 100
        if operator == "mustBeLessThan":
            share -= 1e-12
        return min(1.0, max(0.0, 1 - share))
    allowed = int(threshold) - (1 if operator == "mustBeLessThan" else 0)
    if allowed < 0:
        raise RuleError(f"{rule.metric} cannot be less than 0")
    if looked_at == 0:
        return None
    return min(1.0, max(0.0, (looked_at - allowed) / looked_at))


def _row_count_bounds(rule: CompiledRule) -> dict[str, int]:
    operator, value = rule.operator, rule.threshold
    bounds = {
        "mustBe": lambda v: {"min_value": v, "max_value": v},
        "mustBeGreaterThan": lambda v: {"min_value": math.floor(v) + 1},
        "mustBeGreaterOrEqualTo": lambda v: {"min_value": math.ceil(v)},
        "mustBeLessThan": lambda v: {"max_value": math.ceil(v) - 1},
        "mustBeLessOrEqualTo": lambda v: {"max_value": math.floor(v)},
        "mustBeBetween": lambda v: {"min_value": math.ceil(v[0]), "max_value": math.floor(v[1])},
    }
    if operator not in bounds:
        raise RuleError(f"rowCount cannot be compared with {operator}")
    return bounds[operator](value)


def _comparison_sql(operator: str, threshold: Any) -> str:
    if operator.endswith("Between"):
        inside = f"value BETWEEN {sql.literal(threshold[0])} AND {sql.literal(threshold[1])}"
        return inside if operator == "mustBeBetween" else f"NOT ({inside})"
    symbol = {
        "mustBe": "=",
        "mustNotBe": "<>",
        "mustBeGreaterThan": ">",
        "mustBeGreaterOrEqualTo": ">=",
        "mustBeLessThan": "<",
        "mustBeLessOrEqualTo": "<=",
    }[operator]
    return f"value {symbol} {sql.literal(threshold)}"


def odcs_query(query: str, column: str | None) -> str:
    """An ODCS query with its placeholders bound: ``${object}`` the delivery, ``${property}`` the column."""
    return bind_placeholders(query, {"object": BATCH, **({"property": sql.name(column)} if column else {})})


def stuck_query(column: str, group: str, order: str, min_hours: float, min_readings: int) -> str:
    """Rows of this delivery inside a run of one repeated value per device lasting ``min_hours`` or more
    and at least ``min_readings`` readings; the readings published during the ``min_hours`` before the
    delivery are prepended so a run may begin in an earlier delivery."""
    g, t, v = sql.name(group), sql.name(order), sql.name(column)
    return f"""
WITH cur AS (SELECT * FROM {BATCH}),
readings AS (
    SELECT {g} AS g, {t} AS t, {v} AS v, _source_file, _row_number, true AS current FROM cur
    UNION ALL
    SELECT {g}, {t}, {v}, NULL, NULL, false FROM {{published}}
    WHERE {t} >= (SELECT min({t}) FROM cur) - INTERVAL {min_hours} HOUR AND {t} < (SELECT min({t}) FROM cur)),
breaks AS (
    SELECT *, CASE WHEN v IS NOT DISTINCT FROM lag(v) OVER (PARTITION BY g ORDER BY t) THEN 0 ELSE 1 END AS b
    FROM readings),
runs AS (SELECT *, sum(b) OVER (PARTITION BY g ORDER BY t ROWS UNBOUNDED PRECEDING) AS run FROM breaks),
spans AS (
    SELECT g, run, max(t) - min(t) AS span, count(*) AS readings FROM runs GROUP BY g, run
    HAVING max(t) - min(t) >= INTERVAL {min_hours} HOUR AND count(*) >= {min_readings})
SELECT runs.g AS {g}, runs.t AS {t}, runs.v AS {v}, runs._source_file, runs._row_number
FROM runs JOIN spans USING (g, run) WHERE runs.current
""".strip()


def reference_query(column: str, dataset: str, key: str) -> str:
    """Rows whose ``column`` names a ``key`` that does not exist in ``dataset``."""
    c = sql.name(column)
    return (
        f"SELECT * FROM {BATCH} b WHERE b.{c} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {sql.name(dataset)} r WHERE r.{sql.name(key)} = b.{c})"
    )


def _meta(name: str, check: str, dimension: str, blocking: bool, column: str | None) -> dict[str, Any]:
    return {"rule": name, "check": check, "dimension": dimension, "blocking": blocking, "column": column}


class _Builder:
    def __init__(self, dataset: Dataset, ctx: SuiteContext) -> None:
        self.dataset = dataset
        self.ctx = ctx
        self.rules: list[Rule] = []

    def add(
        self,
        name: str,
        check: str,
        dimension: str,
        blocking: bool,
        label: str | None,
        expectation_class: type[Expectation],
        description: str = "",
        reads: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        expectation = expectation_class(
            **kwargs,
            severity=FailureSeverity.CRITICAL if blocking else FailureSeverity.WARNING,
            meta=_meta(name, check, dimension, blocking, label),
            description=description or None,
        )
        self.rules.append(Rule(name, check, dimension, blocking, label, expectation, description, reads))

    def nonnull(self, column: str) -> int:
        return self.ctx.rows - self.ctx.null_counts.get(column, 0)

    def library(self, rule: CompiledRule, raw: dict[str, Any]) -> None:
        args = rule.arguments

        def add(label: str | None, expectation_class: type[Expectation], **kwargs: Any) -> None:
            self.add(rule.name, rule.metric or "", rule.dimension, rule.blocking, label, expectation_class,
                     str(raw.get("description") or ""), **kwargs)  # fmt: skip

        if rule.metric == "rowCount":
            add(None, gxe.ExpectTableRowCountToBeBetween, **_row_count_bounds(rule))
            return
        columns = [rule.column] if rule.column else [str(c) for c in args.get("properties") or []]
        if rule.metric == "duplicateValues":
            if len(columns) == 1:
                mostly = _at_most(rule, self.nonnull(columns[0]))
                add(columns[0], gxe.ExpectColumnValuesToBeUnique, **_column_kwargs(columns[0], mostly))
            else:
                mostly = _at_most(rule, self.ctx.rows)
                extra = {"mostly": mostly} if mostly is not None else {}
                add("|".join(columns), gxe.ExpectCompoundColumnsToBeUnique, column_list=columns, **extra)
            return
        for name in columns:
            if rule.metric == "nullValues":
                add(
                    name,
                    gxe.ExpectColumnValuesToNotBeNull,
                    **_column_kwargs(name, _at_most(rule, self.ctx.rows)),
                )
                continue
            kwargs = _column_kwargs(name, _at_most(rule, self.nonnull(name)))
            if rule.metric == "missingValues":
                placeholders = list(args.get("missingValues") or MISSING_PLACEHOLDERS)
                add(name, gxe.ExpectColumnValuesToNotBeInSet, value_set=placeholders, **kwargs)
            elif "validValues" in args:
                add(name, gxe.ExpectColumnValuesToBeInSet, value_set=list(args["validValues"]), **kwargs)
            elif "pattern" in args:
                add(name, gxe.ExpectColumnValuesToMatchRegex, regex=str(args["pattern"]), **kwargs)
            else:
                bounds = {"min_value": args.get("minimum"), "max_value": args.get("maximum")}
                add(name, gxe.ExpectColumnValuesToBeBetween, **bounds, **kwargs)

    def custom(self, rule: CompiledRule, description: str = "") -> None:
        impl = dict(rule.implementation)
        kind = impl["rule"]
        column = rule.column
        if kind == "stuckValue":
            assert column is not None, "stuckValue applies to a property"
            query = stuck_query(
                column,
                impl["groupBy"],
                impl["orderBy"],
                float(impl.get("minHours", 24)),
                int(impl.get("minReadings", 3)),
            )
            self.add(
                rule.name,
                "stuck_value",
                rule.dimension,
                rule.blocking,
                column,
                gxe.UnexpectedRowsExpectation,
                description,
                unexpected_rows_query=query,
            )
        elif kind == "referenceExists":
            assert column is not None, "referenceExists applies to a property"
            query = reference_query(column, impl["dataset"], impl["key"])
            self.add(
                rule.name,
                "missing_reference",
                rule.dimension,
                rule.blocking,
                column,
                gxe.UnexpectedRowsExpectation,
                description,
                reads=(impl["dataset"],),
                unexpected_rows_query=query,
            )
        elif kind == "volume":
            self.volume(float(impl.get("minRatio", 0.5)), float(impl.get("maxRatio", 2.0)), rule)

    def volume(self, low: float, high: float, rule: CompiledRule | None = None) -> None:
        previous = self.ctx.previous_rows
        if not previous:
            return  # the first delivery has nothing to compare with
        self.add(
            rule.name if rule else "volume",
            "volume",
            rule.dimension if rule else "completeness",
            rule.blocking if rule else False,
            None,
            gxe.ExpectTableRowCountToBeBetween,
            description=f"row count within {low}–{high} × the previous delivery ({previous} rows)",
            min_value=math.ceil(previous * low),
            max_value=math.floor(previous * high),
        )


def _column_kwargs(column: str, mostly: float | None) -> dict[str, Any]:
    return {"column": column, **({"mostly": mostly} if mostly is not None else {})}


def _contract_rules(dataset: Dataset) -> list[tuple[dict[str, Any], str | None]]:
    """Every ODCS quality rule of the contract with the property it belongs to (None: the table)."""
    found: list[tuple[dict[str, Any], str | None]] = []
    for obj in dataset.raw.get("schema") or []:
        found += [(rule, None) for rule in obj.get("quality") or []]
        for prop in obj.get("properties") or []:
            found += [(rule, prop.get("name")) for rule in prop.get("quality") or []]
    return found


def build_suite(dataset: Dataset, ctx: SuiteContext) -> list[Rule]:
    """The rules of one delivery's suite, in a stable order."""
    b = _Builder(dataset, ctx)
    physical = [c.physical_name for c in dataset.columns]
    fmt = (dataset.delivery.format or "").lower()
    if fmt in TABULAR_FORMATS:
        b.add(
            "columns_closed",
            "columns_closed",
            "conformity",
            False,
            None,
            gxe.ExpectTableColumnsToMatchOrderedList,
            column_list=physical,
            description="the delivered columns are exactly the contract's, in its order",
        )
    else:
        b.add(
            "columns_closed",
            "columns_closed",
            "conformity",
            False,
            None,
            gxe.ExpectTableColumnsToMatchSet,
            column_set=physical,
            exact_match=True,
            description="the delivered fields are exactly the contract's",
        )
    keys = list(dataset.key_columns)
    declared_volume = False
    for raw, column in _contract_rules(dataset):
        rule = compile_rule(raw, column)
        if rule.kind == "library":
            b.library(rule, raw)
        elif rule.kind == "sql":
            query = odcs_query(rule.query or "", column)
            condition = _comparison_sql(rule.operator or "mustBe", rule.threshold)
            wrapped = f"SELECT value FROM ({query}) AS q(value) WHERE NOT ({condition})"
            b.add(
                rule.name,
                "sql",
                rule.dimension,
                rule.blocking,
                column,
                gxe.UnexpectedRowsExpectation,
                description=raw.get("description") or "",
                unexpected_rows_query=wrapped,
            )
        elif rule.engine == "datahub":
            declared_volume |= rule.implementation.get("rule") == "volume"
            b.custom(rule, str(raw.get("description") or ""))
    if keys and not any(r.check == "duplicateValues" and r.column == "|".join(keys) for r in b.rules):
        if len(keys) == 1:
            b.add(
                "primary_key_unique",
                "duplicateValues",
                "accuracy",
                True,
                keys[0],
                gxe.ExpectColumnValuesToBeUnique,
                column=keys[0],
            )
        else:
            b.add(
                "primary_key_unique",
                "duplicateValues",
                "accuracy",
                True,
                "|".join(keys),
                gxe.ExpectCompoundColumnsToBeUnique,
                column_list=keys,
            )
    latency = latency_rule(dataset)
    if latency is not None:
        span, column = latency
        newest_allowed_age = ctx.delivered_at - span
        oldest: datetime | date = newest_allowed_age
        if dataset.column(column).type.value == "date":
            oldest = newest_allowed_age.date()
        b.add(
            "freshness",
            "stale_delivery",
            "timeliness",
            False,
            column,
            gxe.ExpectColumnMaxToBeBetween,
            column=column,
            min_value=oldest,
            description=f"newest {column} no older than {span} when delivered",
        )
    if not declared_volume:
        b.volume(*VOLUME_RATIOS)
    return b.rules


__all__ = ["DATAHUB_RULES", "Rule", "RuleError", "SuiteContext", "build_suite", "odcs_query"]
