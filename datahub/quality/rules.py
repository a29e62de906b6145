"""Quality rules of a contract (ODCS ``quality``), compiled into a form the platform can run.

``compile_rule`` checks that a rule is complete and runnable and returns a ``CompiledRule``; it raises
``RuleError`` with the reason when it is not. Rule kinds:

- ``library``: a metric (nullValues, missingValues, invalidValues, duplicateValues, rowCount) with one
  comparison (mustBe, mustBeLessThan, mustBeBetween…);
- ``sql``: a query returning one number, compared the same way; parsed with DuckDB's parser here,
  after its placeholders (``SQL_PLACEHOLDERS``: ``${object}``, ``${property}``) are checked;
- ``custom`` with ``engine: datahub``: the platform's own rules (``stuckValue``); other engines
  (great-expectations, soda…) are accepted and reported as executed elsewhere;
- ``text``: a human-readable statement; nothing to run.

Severity decides whether a failing rule blocks publication (``error``/``critical``/``blocking``) or
only warns. The ODCS dimension maps onto the six GB/T 36344 dimensions (``DIMENSIONS``); a rule's
``customProperties`` ``gbDimension`` overrides the mapping.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
PROPERTY_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues")
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
BLOCKING_SEVERITIES = ("error", "critical", "blocking", "blocker")
# ODCS dimension → GB/T 36344-2018 dimension (规范性 完整性 准确性 一致性 时效性 可访问性).
DIMENSIONS = {
    "conformity": "conformity",
    "completeness": "completeness",
    "coverage": "completeness",
    "accuracy": "accuracy",
    "uniqueness": "accuracy",
    "consistency": "consistency",
    "timeliness": "timeliness",
}
# The platform's own rules (``custom`` with ``engine: datahub``) and the keys each needs.
DATAHUB_RULES: dict[str, tuple[str, ...]] = {
    "stuckValue": ("groupBy", "orderBy"),  # optional minHours (24), minReadings (3)
    "referenceExists": ("dataset", "key"),  # the property's values exist as ``key`` of ``dataset``
    "volume": (),  # optional minRatio (0.5), maxRatio (2.0) against the previous delivery's rows
}
# Failure counts can only be bounded from above.
AT_MOST = ("mustBe", "mustBeLessThan", "mustBeLessOrEqualTo")
# The placeholders a SQL rule may use, as ``${name}`` (ODCS) or ``{name}``: the delivery being checked
# and, in a property's rules, its column. Anything else that looks like one is refused at lint.
SQL_PLACEHOLDERS = ("object", "property")
_DOLLAR_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_BARE_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_]\w*)\}")


class RuleError(ValueError):
    """A quality rule that cannot be compiled."""


@dataclass(frozen=True)
class CompiledRule:
    kind: str  # library | sql | custom | text
    name: str
    column: str | None
    dimension: str  # GB/T 36344 dimension code
    blocking: bool
    metric: str | None = None
    operator: str | None = None
    threshold: Any = None
    unit: str = "rows"
    query: str | None = None
    engine: str | None = None
    implementation: Any = None
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def runs_here(self) -> bool:
        return self.kind in ("library", "sql") or self.engine == "datahub"


def _comparison(rule: dict[str, Any]) -> tuple[str, Any]:
    found = [op for op in OPERATORS if op in rule]
    if len(found) != 1:
        raise RuleError(f"needs exactly one comparison ({', '.join(OPERATORS)}), found {found or 'none'}")
    operator = found[0]
    value = rule[operator]
    if operator.endswith("Between"):
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)
        ):
            raise RuleError(f"{operator} needs two numbers, got {value!r}")
    elif not isinstance(value, int | float) or isinstance(value, bool):
        raise RuleError(f"{operator} needs a number, got {value!r}")
    return operator, value


def bind_placeholders(query: str, values: dict[str, str]) -> str:
    """``query`` with each placeholder of ``values`` (names from ``SQL_PLACEHOLDERS``) replaced."""
    for name, value in values.items():
        query = query.replace(f"${{{name}}}", value).replace(f"{{{name}}}", value)
    return query


def _check_placeholders(query: str, column: str | None) -> None:
    names = _DOLLAR_PLACEHOLDER.findall(query) + _BARE_PLACEHOLDER.findall(query)
    unknown = sorted({f"${{{name}}}" for name in names if name not in SQL_PLACEHOLDERS})
    if unknown:
        allowed = ", ".join(f"${{{name}}}" for name in SQL_PLACEHOLDERS)
        raise RuleError(f"unknown placeholder {', '.join(unknown)} (allowed: {allowed})")
    if column is None and "property" in names:
        raise RuleError("${property} names the column of a property's rule; this rule is the table's")


def _parse_sql(query: str) -> None:
    text = bind_placeholders(query, {"object": "t", "property": "c"})
    result = duckdb.execute("select json_serialize_sql(?)", [text]).fetchall()[0][0]
    parsed = json.loads(result)
    if parsed.get("error"):
        raise RuleError(f"SQL does not parse: {parsed.get('error_message', 'syntax error')}")
    if len(parsed.get("statements", [])) != 1:
        raise RuleError("SQL must be exactly one SELECT statement")


def compile_rule(rule: dict[str, Any], column: str | None = None) -> CompiledRule:
    """Compile one ODCS quality rule of a schema object (``column`` None) or of a property."""
    kind = rule.get("type") or ("library" if "metric" in rule or "rule" in rule else None)
    if kind is None:
        raise RuleError("type is missing and there is no metric")
    custom = {
        c.get("property"): c.get("value") for c in rule.get("customProperties") or [] if isinstance(c, dict)
    }
    odcs_dimension = rule.get("dimension")
    dimension = custom.get("gbDimension") or DIMENSIONS.get(odcs_dimension or "", "conformity")
    if dimension not in DIMENSIONS.values() and dimension != "accessibility":
        raise RuleError(f"gbDimension '{dimension}' is not a GB/T 36344 dimension")
    base: dict[str, Any] = {
        "kind": kind,
        "name": rule.get("name") or rule.get("metric") or rule.get("rule") or kind,
        "column": column,
        "dimension": dimension,
        "blocking": str(rule.get("severity", "")).lower() in BLOCKING_SEVERITIES,
        "unit": rule.get("unit") or "rows",
    }
    if kind == "text":
        return CompiledRule(**base)
    if kind == "library":
        metric = rule.get("metric") or rule.get("rule")
        if metric not in METRICS:
            raise RuleError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
        if column is not None and metric not in PROPERTY_METRICS:
            raise RuleError(f"metric '{metric}' applies to a table, not to a column")
        if column is None and metric != "rowCount" and not rule.get("arguments", {}).get("properties"):
            raise RuleError(f"metric '{metric}' on a table needs arguments.properties")
        operator, threshold = _comparison(rule)
        if metric != "rowCount" and (operator not in AT_MOST or (operator == "mustBe" and threshold != 0)):
            raise RuleError(
                f"{metric} can only be compared with mustBe 0, mustBeLessThan or mustBeLessOrEqualTo"
            )
        if metric == "rowCount" and operator.startswith("mustNot"):
            raise RuleError(f"rowCount cannot be compared with {operator}")
        if metric == "invalidValues" and not {"validValues", "pattern", "minimum", "maximum"} & set(
            rule.get("arguments") or {}
        ):
            raise RuleError("invalidValues needs arguments validValues, pattern or minimum/maximum")
        return CompiledRule(
            **base,
            metric=metric,
            operator=operator,
            threshold=threshold,
            arguments=dict(rule.get("arguments") or {}),
        )
    if kind == "sql":
        query = rule.get("query")
        if not isinstance(query, str) or not query.strip():
            raise RuleError("sql rule needs a query")
        _check_placeholders(query, column)
        _parse_sql(query)
        operator, threshold = _comparison(rule)
        return CompiledRule(**base, query=query, operator=operator, threshold=threshold)
    if kind == "custom":
        engine, implementation = rule.get("engine"), rule.get("implementation")
        if not engine or implementation in (None, ""):
            raise RuleError("custom rule needs engine and implementation")
        if engine == "datahub":
            if not isinstance(implementation, dict) or implementation.get("rule") not in DATAHUB_RULES:
                raise RuleError(f"datahub rule must be one of {', '.join(DATAHUB_RULES)}")
            missing = [k for k in DATAHUB_RULES[implementation["rule"]] if k not in implementation]
            if missing:
                raise RuleError(f"{implementation['rule']} needs {', '.join(missing)}")
        return CompiledRule(**base, engine=engine, implementation=implementation)
    raise RuleError(f"unknown rule type '{kind}'")
