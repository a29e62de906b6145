"""Assets: per dataset raw → conformed → checked → published, and the daily cross-dataset status.

Each asset is a thin call into datahub.pipeline; what it did is returned as asset metadata. Every
quality rule of a dataset's suite is an asset check on its ``checked`` asset (severity ERROR for
blocking rules, WARN for warnings) with the counts and a sample of failing keys.
"""

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from datahub import pipeline
from datahub.contracts import Dataset
from datahub.metadata import Delivery, DeliveryStatus
from datahub.quality.expectations import Rule, SuiteContext, build_suite
from datahub.status import dataset_status, is_reconciled, write_status_report
from pipelines.resources import PlatformResource

STATUS_KEY = AssetKey(["governance", "dataset_status"])


def stage_key(dataset: Dataset, stage: str) -> AssetKey:
    return AssetKey([dataset.name, stage])


def check_name(name: str) -> str:
    """A rule's name as a Dagster check name (letters, digits and underscores)."""
    return re.sub(r"\W", "_", name, flags=re.ASCII)


def declared_rules(dataset: Dataset) -> list[Rule]:
    """Every rule a delivery's suite can hold (volume too, which needs a previous delivery)."""
    context = SuiteContext(
        rows=0, null_counts={}, received_columns=[], delivered_at=datetime(2000, 1, 1), previous_rows=1
    )
    return build_suite(dataset, context)


def _check_result(
    key: AssetKey, name: str, blocking: bool, description: str, dimension: str, deliveries: list[Delivery]
) -> AssetCheckResult:
    """The asset check of one rule over the deliveries a run handled, from their quality runs."""
    runs = [d.quality for d in deliveries if d.quality is not None]
    results = [(run, r) for run in runs for r in run.rules if r.name == name]
    failing = [(run, r) for run, r in results if not r.success]
    return AssetCheckResult(
        asset_key=key,
        check_name=check_name(name),
        passed=not failing,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        description=description or None,
        metadata={
            "blocking": blocking,
            "dimension": dimension,
            "deliveries_checked": len(results),
            "evaluated": sum(r.evaluated for _, r in results),
            "failed": sum(r.failed for _, r in results),
            "failing_deliveries": MetadataValue.json([run.delivery.source_file for run, _ in failing]),
            "sample": MetadataValue.json([item for _, r in failing for item in r.sample][:20]),
            # whole-file rules: what each failing delivery showed against what was expected
            "details": MetadataValue.json([r.detail for _, r in failing if r.detail][:20]),
        },
    )


def _rule_checks(dataset: Dataset, deliveries: list[Delivery]) -> Iterator[AssetCheckResult]:
    """One result per declared rule, over the deliveries this run checked."""
    key = stage_key(dataset, "checked")
    for rule in declared_rules(dataset):
        yield _check_result(key, rule.name, rule.blocking, rule.description or "", rule.dimension, deliveries)


# Checks of the published stage, kept as rules of the delivery's quality run (docs/privacy.md).
PRIVACY_CHECKS = (
    (pipeline.PII_LEAK_RULE, True, "no direct identifier in what is shared (blocks the publication)"),
    ("k_anonymity", False, "the shared quasi-identifiers reach the contract's k; rows withheld otherwise"),
)


def _stage_asset(dataset: Dataset, stage: str) -> AssetsDefinition:
    previous = pipeline.STAGES.index(stage) - 1
    deps = [stage_key(dataset, pipeline.STAGES[previous])] if previous >= 0 else []
    if stage == "checked":  # consistency rules read other datasets' published rows
        deps += [AssetKey([name, "published"]) for r in declared_rules(dataset) for name in r.reads]
    descriptions = {
        "raw": f"{dataset.title}: new deliveries from the landing zone, read as text with lineage.",
        "conformed": f"{dataset.title}: rows conformed to the dictionary; failures quarantined with reasons.",
        "checked": f"{dataset.title}: the contract's expectation suite; blocking failures hold a delivery.",
        "published": f"{dataset.title}: desensitised rows published as an immutable snapshot version.",
    }
    checks = []
    if stage == "checked":
        checks += [
            AssetCheckSpec(
                check_name(rule.name),
                asset=stage_key(dataset, stage),
                description=rule.description or rule.name,
            )
            for rule in declared_rules(dataset)
        ]
    if stage == "published":
        checks.append(
            AssetCheckSpec(
                "rows_reconciled",
                asset=stage_key(dataset, stage),
                description="rows in = rows published + rows quarantined, per delivery",
            )
        )
        checks += [
            AssetCheckSpec(name, asset=stage_key(dataset, stage), description=description)
            for name, _, description in PRIVACY_CHECKS
        ]

    spec = AssetSpec(
        key=stage_key(dataset, stage),
        deps=deps,
        group_name=dataset.name,
        description=descriptions[stage],
        kinds={"parquet", "polars"},
        owners=[],
        tags={
            "department": dataset.owner_department or "external",
            "sharing_class": dataset.sharing_class.value,
        },
    )

    @multi_asset(specs=[spec], check_specs=checks, name=f"{dataset.name}__{stage}")
    def _asset(
        context: AssetExecutionContext, platform: PlatformResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        p = platform.platform
        handled = pipeline.run_stage(p, dataset, stage)
        summaries = [pipeline.summary(p, d) for d in handled]
        if stage in ("checked", "published"):
            with p.metadata.session() as s:
                loaded = [d for d in (s.get(Delivery, d) for d in handled) if d is not None]
                if stage == "checked":
                    checks = list(_rule_checks(dataset, loaded))
                else:
                    checks = [
                        _check_result(spec.key, name, blocking, description, "accessibility", loaded)
                        for name, blocking, description in PRIVACY_CHECKS
                    ]
        metadata: dict[str, Any] = {
            "deliveries": len(summaries),
            "files": MetadataValue.json([s.source_file for s in summaries]),
            "rows_in": sum(s.rows_in or 0 for s in summaries),
            "rows_quarantined": sum(s.rows_quarantined or 0 for s in summaries),
        }
        if stage == "published":
            metadata["rows_published"] = sum(s.rows_published or 0 for s in summaries)
            metadata["snapshot_version"] = (summaries[-1].snapshot_version or "") if summaries else ""
        context.log.info("%s %s: %d deliveries", dataset.name, stage, len(summaries))
        if stage == "checked":
            metadata["blocked"] = MetadataValue.json(
                [s.source_file for s in summaries if s.status == "blocked"]
            )
        yield MaterializeResult(asset_key=spec.key, metadata=metadata)
        if stage == "checked":
            yield from checks
        if stage == "published":
            # A delivery this stage handled counts only when it finished and its rows reconciled: one
            # that ended failed (or still claimed) is not reconciled.
            unreconciled = [s.source_file for s in summaries if not is_reconciled(s.status, s.reconciled)]
            unfinished = {s.source_file: s.status for s in summaries if s.status not in DeliveryStatus.FINAL}
            yield AssetCheckResult(
                asset_key=spec.key,
                check_name="rows_reconciled",
                passed=not unreconciled,
                description=_unfinished_text(len(unfinished), Counter(unfinished.values())) or None,
                metadata={
                    "deliveries": len(summaries),
                    "unreconciled": MetadataValue.json(unreconciled),
                    "unfinished": MetadataValue.json(unfinished),
                },
            )
            yield from checks

    return _asset


def _unfinished_text(count: int, by_status: Counter[str]) -> str:
    """``2 deliveries unfinished (failed: 1, publishing: 1): not reconciled until they finish``."""
    if not count:
        return ""
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
    noun = "delivery" if count == 1 else "deliveries"
    return f"{count} {noun} unfinished ({statuses}): not reconciled until they finish"


def dataset_assets(dataset: Dataset) -> list[AssetsDefinition]:
    return [_stage_asset(dataset, stage) for stage in pipeline.STAGES]


def status_asset(datasets: list[Dataset]) -> AssetsDefinition:
    spec = AssetSpec(
        key=STATUS_KEY,
        deps=[stage_key(d, "published") for d in datasets],
        group_name="governance",
        description="Daily cross-dataset status: versions, reconciliation and freshness of every dataset.",
        kinds={"json"},
    )
    check = AssetCheckSpec("all_deliveries_reconciled", asset=STATUS_KEY)

    @multi_asset(specs=[spec], check_specs=[check], name="governance__dataset_status")
    def _status(platform: PlatformResource) -> Iterator[MaterializeResult | AssetCheckResult]:
        p = platform.platform
        statuses = dataset_status(p)
        path = write_status_report(p, statuses)
        unreconciled = {s.dataset: s.unreconciled_deliveries for s in statuses if not s.all_reconciled}
        # Deliveries not finished (waiting, claimed, failed) are not reconciled until they finish.
        unfinished = {
            s.dataset: [
                {"delivery_id": d["delivery_id"], "source_file": d["source_file"], "status": d["status"]}
                for d in s.unfinished_deliveries
            ]
            for s in statuses
            if s.unfinished_deliveries
        }
        by_status: Counter[str] = Counter()
        for s in statuses:
            by_status.update(s.unfinished_statuses)
        stale = [s.dataset for s in statuses if s.stale]
        yield MaterializeResult(
            asset_key=STATUS_KEY,
            metadata={
                "path": str(path),
                "datasets": len(statuses),
                "stale": MetadataValue.json(stale),
                "unfinished": sum(by_status.values()),
            },
        )
        yield AssetCheckResult(
            asset_key=STATUS_KEY,
            check_name="all_deliveries_reconciled",
            passed=not unreconciled,
            description=_unfinished_text(sum(by_status.values()), by_status) or None,
            metadata={
                "unreconciled": MetadataValue.json(unreconciled),
                "unfinished": MetadataValue.json(unfinished),
                "unfinished_count": sum(by_status.values()),
                "unfinished_statuses": MetadataValue.json(dict(sorted(by_status.items()))),
            },
        )

    return _status
