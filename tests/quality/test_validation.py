"""The expectation engine: suites compiled from contracts, DuckDB metrics judged by GX, equal to GX itself."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
import polars as pl
import pytest
from great_expectations.data_context.types.base import ProgressBarsConfig

from datahub.contracts import Catalog, Dataset
from datahub.quality.expectations import Rule, SuiteContext, build_suite
from datahub.quality.rules import RuleError, compile_rule
from datahub.quality.validation import RESULT_FORMAT, Engine, validate

N = 400


def _frame() -> pl.DataFrame:
    """Conformed-looking hotline rows with known problems."""
    return pl.DataFrame(
        {
            "work_order_id": [f"GD20261001{i:06d}" if i % 97 else f"X{i}" for i in range(N)],
            "caller_name": ["匿名" if i % 3 == 0 else f"市民{i}" for i in range(N)],
            "street_code": [None if i % 9 == 0 else "S01" for i in range(N)],
            "address": [None if i % 50 == 0 else f"幸福路{i}号" for i in range(N)],
            "handling_department": ["EX" if i == 17 else "UM" for i in range(N)],
            "satisfaction": [None if i % 4 else (7 if i == 8 else 1 + i % 5) for i in range(N)],
            "report_time": [datetime(2026, 10, 1, i % 24) for i in range(N)],
            "_source_file": ["f.csv"] * N,
            "_row_number": list(range(1, N + 1)),
        }
    )


def _suite(dataset: Dataset, frame: pl.DataFrame, previous: int | None = N) -> list[Rule]:
    context = SuiteContext(
        rows=frame.height,
        null_counts={c: frame.get_column(c).null_count() for c in frame.columns},
        received_columns=[c.physical_name for c in dataset.columns],
        delivered_at=datetime(2026, 10, 2),
        previous_rows=previous,
    )
    return build_suite(dataset, context)


def _native(rules: list[Rule], frame: pl.DataFrame, received: list[str]) -> dict[str, dict[str, Any]]:
    """The same suite run by GX itself on pandas frames (the received columns on an empty frame)."""
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = ctx.data_sources.add_pandas("native")
    batch_definition = source.add_dataframe_asset("rows").add_batch_definition_whole_dataframe("all")
    out = {}
    for i, rule in enumerate(rules):
        copy = type(rule.expectation)(**rule.expectation.configuration.kwargs, meta=rule.expectation.meta)
        suite = ctx.suites.add(gx.ExpectationSuite(name=f"s{i}", expectations=[copy]))
        data = pd.DataFrame(columns=received) if rule.check == "columns_closed" else frame.to_pandas()
        batch = batch_definition.get_batch(batch_parameters={"dataframe": data})
        result = batch.validate(suite, result_format=dict(RESULT_FORMAT)).to_json_dict()
        out[rule.name + "|" + str(rule.column)] = result["results"][0]
    return out


def test_injected_metrics_give_the_same_results_as_gx_on_pandas(catalog: Catalog, tmp_path: Path) -> None:
    dataset = catalog.get("hotline_12345")
    frame = _frame()
    path = tmp_path / "conformed.parquet"
    frame.write_parquet(path)
    rules = [
        r for r in _suite(dataset, frame) if r.expectation.expectation_type != "unexpected_rows_expectation"
    ]
    assert {r.expectation.expectation_type for r in rules} >= {
        "expect_table_columns_to_match_ordered_list",
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_unique",
    }
    received = [c.physical_name for c in dataset.columns]
    engine = Engine(path)
    ours = validate(engine, rules, suite_name="t", received_columns=received, key_columns=("work_order_id",))
    engine.close()
    native = _native(rules, frame.drop("_source_file", "_row_number"), received)
    assert len(ours.result["results"]) == len(native)
    for result in ours.result["results"]:
        meta = result["expectation_config"]["meta"]
        theirs = native[meta["rule"] + "|" + str(meta["column"])]
        assert result["success"] == theirs["success"], meta["rule"]
        assert result["result"] == theirs["result"], meta["rule"]
    failed = {r.name for r in ours.rules if not r.success}
    assert failed == {
        "work_order_id_format",
        "caller_name_placeholders",
        "street_completeness",
        "handling_department_core",
        "satisfaction_range",
    }


def test_rule_outcomes_count_sample_and_flag_failing_rows(catalog: Catalog, tmp_path: Path) -> None:
    dataset = catalog.get("hotline_12345")
    frame = _frame()
    path = tmp_path / "conformed.parquet"
    frame.write_parquet(path)
    engine = Engine(path)
    flags = tmp_path / "flags.parquet"
    outcome = validate(
        engine,
        _suite(dataset, frame),
        suite_name="t",
        received_columns=[c.physical_name for c in dataset.columns],
        key_columns=("work_order_id",),
        flags_path=flags,
    )
    engine.close()
    rules = {r.name: r for r in outcome.rules}
    assert (rules["handling_department_core"].failed, rules["handling_department_core"].blocking) == (1, True)
    assert rules["handling_department_core"].sample == [{"key": "GD20261001000017", "row": 17}]
    assert rules["street_completeness"].failed == len(range(0, N, 9))
    assert [r.name for r in outcome.blocking_failures] == ["work_order_id_format", "handling_department_core"]
    flagged = pl.read_parquet(flags)
    department = flagged.filter(pl.col("rule") == "handling_department_core")
    assert department.select("_row_number", "key").rows() == [(18, "GD20261001000017")]
    assert flagged.filter(pl.col("rule") == "street_completeness").height == len(range(0, N, 9))


@pytest.mark.parametrize(
    ("rule", "nulls", "passes"),
    [
        ({"mustBeLessThan": 3}, 2, True),
        ({"mustBeLessThan": 3}, 3, False),
        ({"mustBeLessOrEqualTo": 3}, 3, True),
        ({"mustBeLessOrEqualTo": 3}, 4, False),
        ({"mustBe": 0}, 0, True),
        ({"mustBe": 0}, 1, False),
        ({"mustBeLessThan": 1, "unit": "percent"}, 3, True),  # 0.75 %
        ({"mustBeLessThan": 1, "unit": "percent"}, 4, False),  # exactly 1 %
        ({"mustBeLessOrEqualTo": 1, "unit": "percent"}, 4, True),
    ],
)
def test_row_and_percent_thresholds_are_exactly_the_odcs_comparison(
    catalog: Catalog, tmp_path: Path, rule: dict[str, Any], nulls: int, passes: bool
) -> None:
    dataset = catalog.get("hotline_12345")
    frame = pl.DataFrame({"address": [None] * nulls + ["x"] * (N - nulls)})
    path = tmp_path / "c.parquet"
    frame.write_parquet(path)
    compiled = compile_rule({"type": "library", "metric": "nullValues", **rule}, "address")
    assert compiled.metric == "nullValues"
    raw = dict(dataset.raw)
    raw["schema"] = [
        {"name": "t", "properties": [{"name": "address", "quality": [{"metric": "nullValues", **rule}]}]}
    ]
    probe = Dataset(**{**dataset.__dict__, "raw": raw})
    rules = [r for r in _suite(probe, frame, previous=None) if r.check == "nullValues"]
    engine = Engine(path)
    outcome = validate(engine, rules, suite_name="t", received_columns=[], key_columns=())
    engine.close()
    assert outcome.rules[0].success is passes


def test_sql_rules_compare_the_query_value(catalog: Catalog, tmp_path: Path) -> None:
    dataset = catalog.get("iot_sensor_readings")
    frame = pl.DataFrame(
        {
            "sensor_type": ["pm25", "pm25", "noise", "humidity"],
            "value": [35.0, 1500.0, 10.0, 50.0],  # pm25 1500 and noise 10 are physically impossible
            "_source_file": ["f"] * 4,
            "_row_number": [1, 2, 3, 4],
        }
    )
    path = tmp_path / "c.parquet"
    frame.write_parquet(path)
    rules = [r for r in _suite(dataset, frame) if r.check == "sql"]
    assert [r.name for r in rules] == ["physically_possible"]
    engine = Engine(path, code_tables=Path(__file__).parents[2] / "dictionary" / "code_tables")
    outcome = validate(engine, rules, suite_name="t", received_columns=[], key_columns=())
    engine.close()
    assert outcome.rules[0].success is False
    assert outcome.rules[0].sample == [{"value": 2}]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"metric": "nullValues", "mustBeGreaterThan": 3}, "can only be compared"),
        ({"metric": "nullValues", "mustBe": 2}, "can only be compared"),
        ({"metric": "rowCount", "mustNotBe": 3}, "cannot be compared"),
        ({"metric": "invalidValues", "mustBe": 0}, "validValues, pattern or minimum/maximum"),
    ],
)
def test_rules_gx_cannot_express_are_refused_at_lint(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        compile_rule({"type": "library", **rule}, None if rule["metric"] == "rowCount" else "address")


def test_freshness_and_volume_come_from_the_sla_and_the_previous_delivery(catalog: Catalog) -> None:
    dataset = catalog.get("population_grid")
    context = SuiteContext(
        rows=10, null_counts={}, received_columns=[], delivered_at=datetime(2026, 10, 31), previous_rows=100
    )
    rules = {r.name: r for r in build_suite(dataset, context)}
    freshness = rules["freshness"].expectation.configuration.kwargs
    assert freshness["column"] == "update_time"
    assert str(freshness["min_value"]) == "2026-10-01 00:00:00"
    volume = rules["volume"].expectation.configuration.kwargs
    assert (volume["min_value"], volume["max_value"]) == (50, 200)
    assert "volume" not in {
        r.name for r in build_suite(dataset, SuiteContext(**{**context.__dict__, "previous_rows": None}))
    }


def test_every_rule_a_contract_describes_keeps_its_description(catalog: Catalog) -> None:
    """Library, SQL and the platform's own custom rules (stuck sensors, cross-dataset references) carry
    the contract's ``description`` into the suite, which the report and the dashboard show."""
    context = SuiteContext(
        rows=0, null_counts={}, received_columns=[], delivered_at=datetime(2026, 10, 2), previous_rows=1
    )
    checks = set()
    for dataset in catalog:
        rules = {r.name: r for r in build_suite(dataset, context)}
        for obj in dataset.raw.get("schema") or []:
            declared = list(obj.get("quality") or [])
            declared += [q for prop in obj.get("properties") or [] for q in prop.get("quality") or []]
            for raw in declared:
                if raw.get("name") in rules and raw.get("description"):
                    assert rules[raw["name"]].description == raw["description"], (dataset.name, raw["name"])
                    checks.add(rules[raw["name"]].check)
    assert {"stuck_value", "missing_reference"} <= checks
