"""Quality scores of a run in the six GB/T 36344-2018 dimensions, and the pass rate.

How each number is computed (also in docs/quality.md):

- Every check contributes a pass ratio to its dimension. Conformity contributes one ratio per dimension
  its reasons belong to (``REASON_DIMENSIONS``): 1 − rows quarantined for a reason of that dimension ÷
  rows delivered. Each rule of the expectation suite contributes 1 − failed ÷ evaluated (failing values
  or rows of a row-level rule; 1 or 0 for a table-level rule such as freshness, volume or column order).
- 规范性 conformity, 完整性 completeness, 准确性 accuracy, 一致性 consistency and 时效性 timeliness:
  100 × the mean of their ratios. A dimension with no check in a run has no score for it.
- 可访问性 accessibility: 100 when the delivery's rows reached the published snapshot the sharing API
  serves, 0 when a blocking rule held them back.
- Overall score: the mean of the dimension scores of the run.
- Pass rate (the brief's 98.7% target): rows that passed every check ÷ rows delivered, in percent;
  a row fails when conformity quarantined it, when a failing rule flagged it, or when its delivery was
  blocked. Over a month it is Σ rows passed ÷ Σ rows delivered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from datahub.quality.validation import RuleOutcome

DIMENSIONS = ("conformity", "completeness", "accuracy", "consistency", "timeliness", "accessibility")
DIMENSION_NAMES = {
    "conformity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
}


@dataclass(frozen=True)
class Scores:
    dimensions: dict[str, float]  # dimension → 0–100
    checks: dict[str, int]  # dimension → checks behind the score
    overall: float
    pass_rate: float
    rows_passed: int


def score_run(
    *,
    rows_in: int,
    quarantined_by_dimension: dict[str, int],
    rules: list[RuleOutcome],
    rows_failed: int,
    published: bool,
) -> Scores:
    """Scores of one run; ``rows_failed`` counts each row once whatever failed on it."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for dimension, rows in quarantined_by_dimension.items():
        ratios[dimension].append(1 - rows / rows_in if rows_in else 1.0)
    for rule in rules:
        ratios[rule.dimension].append(1 - rule.failed / rule.evaluated if rule.evaluated else 1.0)
    ratios["accessibility"].append(1.0 if published else 0.0)
    dimensions = {d: round(100 * sum(ratios[d]) / len(ratios[d]), 3) for d in DIMENSIONS if ratios.get(d)}
    overall = round(sum(dimensions.values()) / len(dimensions), 3)
    passed = max(0, rows_in - rows_failed)
    return Scores(
        dimensions=dimensions,
        checks={d: len(ratios[d]) for d in dimensions},
        overall=overall,
        pass_rate=round(100 * passed / rows_in, 3) if rows_in else 100.0,
        rows_passed=passed,
    )
