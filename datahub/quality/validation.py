"""Run a delivery's expectation suite: metrics in DuckDB, verdicts by Great Expectations.

GX on a pandas frame needs the whole delivery in memory (5.9 GB for 10M hotline-sized rows) and GX's
SQL path does not work on DuckDB. So the metrics every expectation depends on are computed here, in
one aggregate DuckDB query over the conformed Parquet file (plus one query per uniqueness rule and per
unexpected-rows rule, and a 20-row sample query for each failing rule), then handed to each GX
expectation, which decides success itself (``mostly``, bounds, result shape). The outcome is GX's own
``ExpectationSuiteValidationResult``; ``tests/quality/test_validation.py`` checks it equals a native
GX-pandas run of the same suite.

Rows failing a row-level rule are written to a flags Parquet file (rule, lineage, key), so stewards see
exactly which rows a rule flagged; sample values of personal columns are masked before GX sees them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import great_expectations as gx
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.validator.validation_statistics import calc_validation_statistics

from datahub.quality import sql
from datahub.quality.columns import differences
from datahub.quality.expectations import Rule

if TYPE_CHECKING:
    import pyarrow.dataset as ds

RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
SAMPLE = 20
MAP_PREDICATES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_between",
)
# Masks sample values of a column before they enter results (personal columns).
Masker = Callable[[str, list[Any]], list[Any]]


@dataclass
class RuleOutcome:
    """A rule's verdict as the metadata database and Dagster's asset checks keep it."""

    name: str
    check: str
    dimension: str
    blocking: bool
    column: str | None
    success: bool
    evaluated: int  # values, rows or 1 for a table-level rule
    failed: int
    observed: Any = None
    sample: list[dict[str, Any]] = field(default_factory=list)  # failing keys (and masked values)
    detail: str | None = None  # a whole-file rule: what it saw against what it expected


@dataclass
class Validation:
    result: dict[str, Any]  # GX ExpectationSuiteValidationResult JSON
    suite: dict[str, Any]  # GX ExpectationSuite JSON
    rules: list[RuleOutcome]
    flagged_rows: int  # distinct rows some failing rule flagged

    @property
    def blocking_failures(self) -> list[RuleOutcome]:
        return [r for r in self.rules if r.blocking and not r.success]


def _values(items: list[Any]) -> str:
    return ", ".join(sql.literal(v) for v in items)


def predicate(kind: str, kw: dict[str, Any]) -> str | None:
    """SQL selecting the rows a map expectation counts as unexpected (GX semantics: nulls are not)."""
    c = sql.name(kw["column"]) if "column" in kw else ""
    if kind == "expect_column_values_to_not_be_null":
        return f"{c} IS NULL"
    if kind == "expect_column_values_to_be_in_set":
        return f"{c} IS NOT NULL AND {c} NOT IN ({_values(kw['value_set'])})"
    if kind == "expect_column_values_to_not_be_in_set":
        return f"{c} IS NOT NULL AND {c} IN ({_values(kw['value_set'])})"
    if kind == "expect_column_values_to_match_regex":
        return f"{c} IS NOT NULL AND NOT regexp_matches(CAST({c} AS VARCHAR), {sql.literal(kw['regex'])})"
    if kind == "expect_column_values_to_be_between":
        bounds = []
        if kw.get("min_value") is not None:
            bounds.append(f"{c} {'>' if kw.get('strict_min') else '>='} {sql.literal(kw['min_value'])}")
        if kw.get("max_value") is not None:
            bounds.append(f"{c} {'<' if kw.get('strict_max') else '<='} {sql.literal(kw['max_value'])}")
        return f"{c} IS NOT NULL AND NOT ({' AND '.join(bounds) or 'true'})"
    return None


class Engine:
    """One DuckDB session over a delivery's conformed rows and the published datasets rules read.

    ``published``: what the delivery's own dataset holds already (its current version from the lake, as
    a ``pyarrow.dataset.Dataset``, and conformed files waiting for publication), as the view
    ``published``; ``datasets``: other datasets' current versions by name, with the contract's columns
    for one never published."""

    def __init__(
        self,
        conformed: Path,
        *,
        published: list[Path | ds.Dataset] | None = None,
        datasets: dict[str, tuple[ds.Dataset | None, list[str]]] | None = None,
        code_tables: Path | None = None,
        threads: int = 2,
        memory_limit: str = "1GB",
    ) -> None:
        self.con = duckdb.connect()
        self._registered: list[str] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="datahub-duckdb-")
        self.con.execute(f"SET threads={int(threads)}")
        self.con.execute(f"SET memory_limit={sql.literal(memory_limit)}")
        self.con.execute(f"SET temp_directory={sql.literal(self._tmp.name)}")
        self.con.execute("SET preserve_insertion_order=false")
        source = sql.literal(str(conformed))
        self.con.execute(f"CREATE VIEW batch AS SELECT * FROM read_parquet({source})")
        self.con.execute(
            f"CREATE VIEW batch_rows AS SELECT * FROM read_parquet({source}, file_row_number=true)"
        )
        self.con.execute(f"CREATE VIEW published AS {self._scan(published, 'batch')}")
        for name, (rows, columns) in (datasets or {}).items():
            if rows is not None:
                self.con.execute(f"CREATE VIEW {sql.name(name)} AS {self._scan([rows], 'batch')}")
            else:  # not published yet: no rows, but the contract's columns
                empty = ", ".join(f"NULL::VARCHAR AS {sql.name(c)}" for c in columns) or "NULL AS missing"
                self.con.execute(f"CREATE VIEW {sql.name(name)} AS SELECT {empty} WHERE false")
        if code_tables is not None:  # the dictionary's code tables, as dictionary.<table>
            self.con.execute("CREATE SCHEMA dictionary")
            for table in sorted(code_tables.glob("*.csv")):
                self.con.execute(
                    f"CREATE VIEW dictionary.{sql.name(table.stem)} AS "
                    f"SELECT * FROM read_csv({sql.literal(str(table))}, header=true)"
                )

    def _scan(self, parts: list[Path | ds.Dataset] | None, empty_like: str) -> str:
        files = [str(p) for p in parts or [] if isinstance(p, Path)]
        selects = [f"SELECT * FROM read_parquet([{_values(files)}], union_by_name=true)"] if files else []
        for rows in (p for p in parts or [] if not isinstance(p, Path)):
            registered = f"_rows_{len(self._registered)}"
            self.con.register(registered, rows)
            self._registered.append(registered)
            selects.append(f"SELECT * FROM {registered}")
        if selects:
            return " UNION ALL BY NAME ".join(selects)
        # Nothing published yet: an empty relation (with the batch's columns when it has to match them).
        return (
            f"SELECT * FROM {empty_like} WHERE false" if empty_like else "SELECT NULL AS missing WHERE false"
        )

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def query(self, sql: str) -> str:
        return sql.replace("{batch}", "batch").replace("{published}", "published")

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchall()[0][0]


@dataclass
class _Metrics:
    row_count: int
    nulls: dict[str, int]
    per_rule: dict[int, dict[str, Any]]


def _aggregate(
    engine: Engine, rules: list[Rule], kwargs: list[dict[str, Any]], columns: list[str]
) -> _Metrics:
    select = ["count(*) AS n", *(f"count({sql.name(c)}) AS {sql.name('nonnull:' + c)}" for c in columns)]
    names: list[tuple[str, int, str]] = []
    for i, (rule, kw) in enumerate(zip(rules, kwargs, strict=True)):
        kind = rule.expectation.expectation_type
        where = predicate(kind, kw)
        if where and kind != "expect_column_values_to_not_be_null":
            select.append(f"count(*) FILTER (WHERE {where}) AS x{i}")
            names.append((f"x{i}", i, "unexpected"))
        if kind == "expect_column_max_to_be_between":
            select.append(f"max({sql.name(kw['column'])}) AS m{i}")
            names.append((f"m{i}", i, "max"))
    cursor = engine.con.execute(f"SELECT {', '.join(select)} FROM batch")
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchall()[0], strict=True))
    n = int(row["n"])
    metrics = _Metrics(n, {c: n - int(row["nonnull:" + c]) for c in columns}, {})
    for key, i, what in names:
        metrics.per_rule.setdefault(i, {})[what] = row[key]
    for i, (rule, kw) in enumerate(zip(rules, kwargs, strict=True)):
        kind = rule.expectation.expectation_type
        if kind == "expect_column_values_to_be_unique":
            c = sql.name(kw["column"])
            metrics.per_rule[i] = {
                "unexpected": engine.scalar(
                    f"SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k FROM batch "
                    f"WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1)"
                )
            }
        elif kind == "expect_compound_columns_to_be_unique":
            cols = ", ".join(sql.name(c) for c in kw["column_list"])
            any_present = " OR ".join(f"{sql.name(c)} IS NOT NULL" for c in kw["column_list"])
            metrics.per_rule[i] = {
                "filtered": engine.scalar(f"SELECT count(*) FROM batch WHERE {any_present}"),
                "unexpected": engine.scalar(
                    f"SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k FROM batch "
                    f"WHERE {any_present} GROUP BY {cols} HAVING count(*) > 1)"
                ),
            }
        elif kind == "unexpected_rows_expectation":
            query = engine.query(kw["unexpected_rows_query"])
            metrics.per_rule[i] = {
                "unexpected": engine.scalar(f"SELECT count(*) FROM ({query})"),
                "rows": engine.con.execute(f"SELECT * FROM ({query}) LIMIT {SAMPLE}").df().to_dict("records"),
            }
    return metrics


def _failing_rows_sql(rule: Rule, kw: dict[str, Any]) -> str | None:
    """SQL returning the batch rows (with file_row_number) a row-level rule counts as unexpected."""
    kind = rule.expectation.expectation_type
    where = predicate(kind, kw)
    if where:
        return f"SELECT * FROM batch_rows WHERE {where}"
    if kind == "expect_column_values_to_be_unique":
        c = sql.name(kw["column"])
        return (
            f"SELECT * FROM batch_rows WHERE {c} IN (SELECT {c} FROM batch GROUP BY {c} HAVING count(*) > 1)"
        )
    if kind == "expect_compound_columns_to_be_unique":
        cols = ", ".join(sql.name(c) for c in kw["column_list"])
        return (
            f"SELECT * FROM batch_rows WHERE ({cols}) IN "
            f"(SELECT ({cols}) FROM batch GROUP BY {cols} HAVING count(*) > 1)"
        )
    return None


def _dependencies(rule: Rule) -> dict[str, Any]:
    """The metrics GX asks for to judge ``rule``, by name (GX rebuilds its configuration on every call:
    ask once per rule)."""
    runtime = {"result_format": dict(RESULT_FORMAT)}
    deps = rule.expectation.get_validation_dependencies(execution_engine=None, runtime_configuration=runtime)
    return dict(deps.metric_configurations)


def _gx_values(
    rule: Rule,
    kw: dict[str, Any],
    deps: dict[str, Any],
    metrics: _Metrics,
    i: int,
    sample: list[tuple[int, Any]],
    columns: list[str],
) -> dict:
    kind = rule.expectation.expectation_type
    own = metrics.per_rule.get(i, {})
    values: dict[str, Any] = {
        "table.row_count": metrics.row_count,
        "table.columns": columns,
        "column.max": own.get("max"),
    }
    if "column" in kw:
        values["column_values.nonnull.unexpected_count"] = metrics.nulls.get(kw["column"], 0)
    if kind == "unexpected_rows_expectation":
        values["unexpected_rows_query.row_count"] = own.get("unexpected", 0)
        values["unexpected_rows_query.table"] = own.get("rows", [])
        return values
    for name in deps:
        if name in values:
            continue
        if name.endswith(".unexpected_count"):
            values[name] = own.get("unexpected", 0)
        elif name.endswith(".unexpected_values"):
            values[name] = [v for _, v in sample]
        elif name.endswith(".unexpected_index_list"):
            values[name] = [index for index, _ in sample]
        elif name.endswith(".filtered_row_count"):
            values[name] = own.get("filtered", metrics.row_count)
        elif name.endswith(".unexpected_index_query"):
            values[name] = None
    return values


def _evaluate(rule: Rule, deps: dict[str, Any], values: dict[str, Any]) -> ExpectationValidationResult:
    """GX's own verdict on metrics computed elsewhere (``mostly``, bounds and result shape are GX's)."""
    runtime = {"result_format": dict(RESULT_FORMAT)}
    metrics = {mc.id: values.get(name) for name, mc in deps.items()}
    return rule.expectation.metrics_validate(metrics, runtime_configuration=runtime)


def validate(
    engine: Engine,
    rules: list[Rule],
    *,
    suite_name: str,
    received_columns: list[str],
    key_columns: tuple[str, ...],
    mask: Masker | None = None,
    flags_path: Path | None = None,
    meta: dict[str, Any] | None = None,
) -> Validation:
    """Evaluate every rule on the engine's batch; write flagged rows to ``flags_path``."""
    batch_columns = [r[0] for r in engine.con.execute("DESCRIBE batch").fetchall()]
    kwargs = [rule.expectation.configuration.kwargs for rule in rules]
    referenced = sorted({kw["column"] for kw in kwargs if "column" in kw} & set(batch_columns))
    metrics = _aggregate(engine, rules, kwargs, referenced)
    suite = gx.ExpectationSuite(name=suite_name, expectations=[rule.expectation for rule in rules])
    results: list[ExpectationValidationResult] = []
    outcomes: list[RuleOutcome] = []
    flag_queries: list[str] = []
    keys = [k for k in key_columns if k in batch_columns]
    key_sql = "concat_ws('|', " + ", ".join(f"CAST({sql.name(k)} AS VARCHAR)" for k in keys) + ")"
    if not keys:
        key_sql = "NULL"
    for i, (rule, kw) in enumerate(zip(rules, kwargs, strict=True)):
        kind = rule.expectation.expectation_type
        failing_sql = _failing_rows_sql(rule, kw)
        unexpected = (
            metrics.nulls.get(kw.get("column", ""), 0)
            if kind == "expect_column_values_to_not_be_null"
            else int(metrics.per_rule.get(i, {}).get("unexpected") or 0)
        )
        sample: list[tuple[int, Any]] = []
        failing_keys: list[dict[str, Any]] = []
        if failing_sql and unexpected:
            shown = [sql.name(c) for c in kw.get("column_list") or [kw["column"]]]
            cursor = engine.con.execute(
                f"SELECT file_row_number, {key_sql} AS key, {', '.join(shown)} FROM ({failing_sql}) "
                f"ORDER BY file_row_number LIMIT {SAMPLE}"
            )
            rows = cursor.fetchall()
            if "column_list" in kw:
                sample = [(r[0], dict(zip(kw["column_list"], r[2:], strict=True))) for r in rows]
            else:
                values = [r[2] for r in rows]
                if mask is not None:
                    values = mask(kw["column"], values)
                sample = [(r[0], v) for r, v in zip(rows, values, strict=True)]
            failing_keys = [{"key": r[1], "row": r[0]} for r in rows]
            flag_queries.append(_flag_select(rule, key_sql, failing_sql))
        if kind == "unexpected_rows_expectation" and unexpected:
            found = metrics.per_rule[i]["rows"]
            failing_keys = [
                {k: _plain(v) for k, v in row.items() if k in (*keys, "_row_number", rule.column, "value")}
                for row in found
            ]
            if found and {"_source_file", "_row_number"} <= set(found[0]):
                query = engine.query(kw["unexpected_rows_query"])
                key = key_sql if set(keys) <= set(found[0]) else "NULL"
                flag_queries.append(_flag_select(rule, key, query))
        deps = _dependencies(rule)
        result = _evaluate(rule, deps, _gx_values(rule, kw, deps, metrics, i, sample, received_columns))
        results.append(result)
        body = result.result or {}
        table_level = kind in (
            "expect_table_row_count_to_be_between",
            "expect_table_columns_to_match_ordered_list",
            "expect_table_columns_to_match_set",
            "expect_column_max_to_be_between",
        )
        outcomes.append(
            RuleOutcome(
                name=rule.name,
                check=rule.check,
                dimension=rule.dimension,
                blocking=rule.blocking,
                column=rule.column,
                success=bool(result.success),
                evaluated=1 if table_level else metrics.row_count,
                failed=(0 if result.success else 1) if table_level else unexpected,
                observed=_plain(body.get("observed_value")),
                sample=failing_keys,
                detail=_detail(kind, kw, body.get("observed_value"), received_columns)
                if table_level
                else None,
            )
        )
    flagged = 0
    if flags_path is not None:
        flags_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = flags_path.with_name(f".{flags_path.name}.tmp")
        union = " UNION ALL ".join(flag_queries) or (
            "SELECT NULL::VARCHAR AS rule, NULL::VARCHAR AS check, NULL::VARCHAR AS _source_file, "
            "NULL::BIGINT AS _row_number, NULL::VARCHAR AS key WHERE false"
        )
        engine.con.execute(f"COPY ({union}) TO {sql.literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        tmp.replace(flags_path)
        flagged = int(
            engine.scalar(
                f"SELECT count(DISTINCT _row_number) FROM read_parquet({sql.literal(str(flags_path))})"
            )
        )
    statistics = calc_validation_statistics(results)
    suite_result = ExpectationSuiteValidationResult(
        success=statistics.success,
        results=results,
        suite_name=suite_name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        meta={"great_expectations_version": gx.__version__, **(meta or {})},
    )
    return Validation(suite_result.to_json_dict(), suite.to_json_dict(), outcomes, flagged)


def _between(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"between {low:,} and {high:,}" if low != high else f"exactly {low:,}"
    return f"at least {low:,}" if low is not None else f"at most {high:,}"


def _detail(kind: str, kw: dict[str, Any], observed: Any, received: list[str]) -> str | None:
    """What a whole-file rule saw against what it expected: the columns that differ and how, the rows,
    the newest value."""
    if kind == "expect_table_columns_to_match_ordered_list":
        return differences(kw["column_list"], received, ordered=True).describe() or None
    if kind == "expect_table_columns_to_match_set":
        return differences(list(kw["column_set"]), received, ordered=False).describe() or None
    if kind == "expect_table_row_count_to_be_between":
        return f"{observed:,} rows; expected {_between(kw.get('min_value'), kw.get('max_value'))}"
    if kind == "expect_column_max_to_be_between":
        newest = f"newest {kw['column']} {observed}" if observed is not None else f"no {kw['column']} value"
        return f"{newest}; expected no older than {kw['min_value']}"
    return None


def _flag_select(rule: Rule, key: str, rows: str) -> str:
    """The flags-file rows (rule, check, lineage, key) for the rows a rule's query returns."""
    return (
        f"SELECT {sql.literal(rule.name)} AS rule, {sql.literal(rule.check)} AS check, "
        f"_source_file, _row_number, {key} AS key FROM ({rows})"
    )


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a metric or sample value."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
