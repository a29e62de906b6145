"""One dataset's pipeline over its deliveries: landing → raw → conformed → checked → published.

Each stage takes every delivery of a dataset that is waiting for it, does its work from and to the
lake, and records the outcome in the metadata database, so any process (the CLI, a Dagster asset,
a retry after a crash) can pick up where the last one stopped. Rows are reconciled per delivery:
rows in = rows published + rows quarantined. A delivery on which a blocking quality rule fails is
``blocked``: its rows join the quarantine and the current snapshot stays as it was.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from datahub.contracts import Dataset, Desensitise, PublishMode
from datahub.errors import UnreadableDelivery
from datahub.files import file_sha256
from datahub.ingest.readers import read_delivery
from datahub.metadata import Delivery, DeliveryStatus, QuarantineReason, Snapshot
from datahub.metadata.models import QualityRun, RuleResult
from datahub.platform import Platform
from datahub.privacy.leaks import Leak, find_leaks
from datahub.privacy.policy import Desensitised, desensitise, mask_for_quarantine, personal_values
from datahub.quality.checking import check_delivery, hold
from datahub.quality.conformity import conform_file
from datahub.quality.reasons import Reason

STAGES = ("raw", "conformed", "checked", "published")
# Per stage: the status a delivery waits in, and the status that claims it for one process.
_CLAIMS = {
    "raw": (DeliveryStatus.landed, DeliveryStatus.reading),
    "conformed": (DeliveryStatus.raw, DeliveryStatus.conforming),
    "checked": (DeliveryStatus.conformed, DeliveryStatus.checking),
    "published": (DeliveryStatus.checked, DeliveryStatus.publishing),
}


@dataclass
class DeliverySummary:
    """What happened to one delivery: the JSON printed by `datahub ingest`."""

    dataset: str
    delivery_id: str
    source_file: str
    status: str
    rows_in: int | None = None
    rows_published: int | None = None
    rows_quarantined: int | None = None
    reconciled: bool | None = None
    snapshot_version: str | None = None
    error: str | None = None
    duplicate_of: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] | None = None  # scores, pass rate and failing rules of the quality run
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, d: Delivery) -> DeliverySummary:
        return cls(
            dataset=d.dataset,
            delivery_id=d.id,
            source_file=d.source_file,
            status=d.status,
            rows_in=d.rows_in,
            rows_published=d.rows_published,
            rows_quarantined=d.rows_quarantined,
            reconciled=d.reconciled,
            snapshot_version=d.snapshot_version,
            error=d.error,
            duplicate_of=d.duplicate_of,
            reasons=[{"reason": r.reason, "column": r.column, "rows": r.rows} for r in d.reasons],
            quality=quality_summary(d.quality) if d.quality else None,
            timings=dict(d.timings or {}),
        )


def quality_summary(run: QualityRun) -> dict[str, Any]:
    return {
        "success": run.success,
        "blocked": run.blocked,
        "pass_rate": run.pass_rate,
        "overall_score": run.overall_score,
        "scores": {s.dimension: s.score for s in run.scores},
        "failed_rules": [
            {
                "rule": r.name,
                "check": r.check,
                "column": r.column,
                "blocking": r.blocking,
                "failed": r.failed,
                "evaluated": r.evaluated,
            }
            for r in run.rules
            if not r.success
        ],
    }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def landing_dir(platform: Platform, dataset: Dataset) -> Path:
    return platform.settings.landing_dir / (dataset.owner_department or "external") / dataset.name


def land_file(platform: Platform, dataset: Dataset, source: Path) -> Path:
    """Copy a file into the dataset's landing zone (keeping its delivery time), unless it is there."""
    target_dir = landing_dir(platform, dataset)
    source = Path(source).resolve()
    if source.parent == target_dir.resolve():
        return source
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / source.name
    if target.exists():
        digest = file_sha256(source)
        if file_sha256(target) != digest:  # a new file under an old name keeps both
            target = target_dir / f"{source.stem}.{digest[:8]}{source.suffix}"
    if not target.exists():
        tmp = target.with_name(f".{target.name}.part")
        shutil.copy2(source, tmp)
        tmp.replace(target)
    return target


def _landed_files(platform: Platform, dataset: Dataset) -> list[Path]:
    directory = landing_dir(platform, dataset)
    if not directory.is_dir():
        return []
    return sorted(
        (p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: (p.stat().st_mtime, p.name),
    )


def unregistered_files(platform: Platform, dataset: Dataset) -> list[Path]:
    """Files in the landing zone that no run has registered yet (what the landing sensor looks for)."""
    with platform.metadata.session() as s:
        known = set(s.scalars(select(Delivery.landed_path).where(Delivery.dataset == dataset.name)))
    return [p for p in _landed_files(platform, dataset) if str(p) not in known]


def discover(platform: Platform, dataset: Dataset) -> list[Delivery]:
    """Register every file in the landing zone not seen before; the same bytes twice are duplicates."""
    found = []
    for path in unregistered_files(platform, dataset):
        digest = file_sha256(path)
        stat = path.stat()
        try:
            with platform.metadata.session() as s:
                first = s.scalars(
                    select(Delivery).where(
                        Delivery.dataset == dataset.name,
                        Delivery.file_hash == digest,
                        Delivery.status != DeliveryStatus.duplicate,
                    )
                ).first()
                delivery = Delivery(
                    id=hashlib.sha256(f"{dataset.name}:{digest}:{path}".encode()).hexdigest()[:32],
                    dataset=dataset.name,
                    source_file=path.name,
                    landed_path=str(path),
                    file_hash=digest,
                    size_bytes=stat.st_size,
                    contract_version=dataset.version,
                    status=DeliveryStatus.duplicate if first else DeliveryStatus.landed,
                    duplicate_of=first.id if first else None,
                    delivered_at=datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None),
                    landed_at=_now(),
                    finished_at=_now() if first else None,
                )
                s.add(delivery)
        except IntegrityError:  # another process registered this file a moment ago
            continue
        found.append(delivery)
    return found


def waiting(platform: Platform, dataset: Dataset, stage: str) -> list[str]:
    with platform.metadata.session() as s:
        return list(
            s.scalars(
                select(Delivery.id)
                .where(Delivery.dataset == dataset.name, Delivery.status == _CLAIMS[stage][0])
                .order_by(Delivery.delivered_at, Delivery.source_file)
            )
        )


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 3)


def _load(platform: Platform, delivery_id: str) -> Delivery:
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, delivery_id)
        assert delivery is not None, delivery_id
        return delivery


def _save(platform: Platform, delivery_id: str, **values: Any) -> None:
    with platform.metadata.session() as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


def to_raw(platform: Platform, dataset: Dataset, delivery_id: str) -> None:
    """Read the delivered file as text and keep it, with lineage, in the raw layer."""
    delivery = _load(platform, delivery_id)
    timings: dict[str, float] = {}
    try:
        with _timed(timings, "read"):
            frame = read_delivery(Path(delivery.landed_path), dataset)
    except UnreadableDelivery as exc:
        _save(
            platform,
            delivery_id,
            status=DeliveryStatus.rejected,
            error=str(exc),
            rows_in=0,
            rows_published=0,
            rows_quarantined=0,
            reconciled=True,
            finished_at=_now(),
            timings=timings,
        )
        return
    frame = frame.with_columns(
        pl.lit(delivery.source_file).alias("_source_file"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number"),
        pl.lit(_now()).alias("_ingested_at"),
        pl.lit(delivery.file_hash).alias("_file_hash"),
    )
    with _timed(timings, "write_raw"):
        platform.lake.write_layer("raw", dataset.name, delivery_id, frame)
    _save(platform, delivery_id, status=DeliveryStatus.raw, rows_in=frame.height, timings=timings)


def _conformed_not_published(platform: Platform, dataset: Dataset) -> list[str]:
    statuses = (
        DeliveryStatus.conformed,
        DeliveryStatus.checking,
        DeliveryStatus.checked,
        DeliveryStatus.publishing,
    )
    with platform.metadata.session() as s:
        query = select(Delivery.id).where(Delivery.dataset == dataset.name, Delivery.status.in_(statuses))
        return list(s.scalars(query.order_by(Delivery.delivered_at, Delivery.source_file)))


def _accepted_before(platform: Platform, dataset: Dataset) -> pl.LazyFrame | None:
    """Rows accepted before this delivery: the current snapshot plus earlier deliveries that are
    conformed and waiting for publication (a run conforms several deliveries before publishing)."""
    if dataset.delivery.publish_mode is not PublishMode.append:
        return None
    columns = [c.name for c in dataset.columns]
    frames = []
    current = platform.lake.scan_current(dataset.name)
    if current is not None:
        frames.append(current.select(columns))
    frames += [
        pl.scan_parquet(platform.lake.layer_path("conformed", dataset.name, delivery_id)).select(columns)
        for delivery_id in _conformed_not_published(platform, dataset)
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def to_conformed(platform: Platform, dataset: Dataset, delivery_id: str) -> None:
    """Conform to the dictionary; failing rows go to quarantine with their reasons."""
    delivery = _load(platform, delivery_id)
    timings = dict(delivery.timings or {})
    before = _accepted_before(platform, dataset)
    lake = platform.lake
    with _timed(timings, "conform"):  # in batches, straight from the raw file into the two layers
        result = conform_file(
            lake.layer_path("raw", dataset.name, delivery_id),
            dataset,
            platform.dictionary,
            conformed_path=lake.layer_path("conformed", dataset.name, delivery_id),
            quarantine_path=lake.layer_path("quarantine", dataset.name, delivery_id),
            published_keys=before.select(dataset.key_columns).collect()
            if before is not None and dataset.key_columns
            else None,
            mask_value=mask_for_quarantine,
        )
    with platform.metadata.session() as s:
        for reason, column, rows in result.reason_counts:
            s.add(QuarantineReason(delivery_id=delivery_id, reason=reason, column=column, rows=rows))
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(
                status=DeliveryStatus.conformed, rows_quarantined=result.rows_quarantined, timings=timings
            )
        )


PII_LEAK_RULE = "pii_leak"
"""The blocking check before every publication: no direct identifier in what would be shared."""


def to_published(platform: Platform, dataset: Dataset, delivery_id: str) -> None:
    """Desensitise the conformed rows and publish them as a new immutable snapshot version.

    Rows withheld for k-anonymity go to quarantine (reason ``k_anonymity``); a direct identifier
    left in what would be shared blocks the publication (the leak scan), holding every row in
    quarantine while the current snapshot stays. Both results join the delivery's quality run.
    """
    delivery = _load(platform, delivery_id)
    timings = dict(delivery.timings or {})
    conformed = pl.read_parquet(platform.lake.layer_path("conformed", dataset.name, delivery_id))
    with _timed(timings, "desensitise"):
        result = desensitise(conformed, dataset, platform.settings.secret_key)
    with _timed(timings, "leak_scan"):
        personal = personal_values(conformed, dataset, result.withheld)
        looked = frozenset(c.name for c in dataset.columns if c.desensitise is Desensitise.scan)
        leaks = find_leaks(result.frame, dataset, personal, looked=looked)
    _record_privacy(platform, dataset, delivery_id, result, leaks, rows=conformed.height)
    rows_quarantined = delivery.rows_quarantined or 0
    if leaks:
        hold(platform, dataset, delivery_id, Reason.blocked_by_rule, PII_LEAK_RULE)
        found = ", ".join(f"{leak.column}: {leak.rows} {leak.entity}" for leak in leaks)
        _save(
            platform,
            delivery_id,
            status=DeliveryStatus.blocked,
            rows_published=0,
            rows_quarantined=rows_quarantined + conformed.height,
            reconciled=True,
            finished_at=_now(),
            timings=timings,
            desensitised=result.counts,
            error=f"blocked by {PII_LEAK_RULE}: {found}",
        )
        return
    if result.k_anonymity is not None and result.withheld.len():
        withheld = conformed.get_column("_row_number").gather(result.withheld)
        label = ", ".join(result.k_anonymity.levels)
        hold(platform, dataset, delivery_id, Reason.k_anonymity, label, withheld)
        rows_quarantined += withheld.len()
    shared = result.frame
    with _timed(timings, "publish"):
        manifest = platform.lake.publish(
            dataset.name,
            delivery_id,
            shared,
            append=dataset.delivery.publish_mode is PublishMode.append,
            contract_version=dataset.version,
            restricted=restricted_values(conformed, dataset, result.withheld),
        )
    rows_in = delivery.rows_in or 0
    reconciled = rows_in == shared.height + rows_quarantined
    with platform.metadata.session() as s:
        s.execute(update(Snapshot).where(Snapshot.dataset == dataset.name).values(is_current=False))
        s.add(
            Snapshot(
                version=manifest.version,
                dataset=dataset.name,
                created_at=_now(),
                rows=manifest.rows,
                manifest_path=str(
                    platform.lake.published_dir(dataset.name) / "versions" / f"{manifest.version}.json"
                ),
                delivery_id=delivery_id,
                is_current=True,
            )
        )
        s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(
                status=DeliveryStatus.published,
                rows_published=shared.height,
                rows_quarantined=rows_quarantined,
                reconciled=reconciled,
                snapshot_version=manifest.version,
                finished_at=_now(),
                timings=timings,
                desensitised=result.counts,
            )
        )


def restricted_values(conformed: pl.DataFrame, dataset: Dataset, withheld: pl.Series) -> pl.DataFrame | None:
    """The key and the raw values of the personal columns of the rows being published (the conformed
    rows less those withheld), or None when the dataset has no key or nothing personal."""
    personal = [c.name for c in dataset.columns if c.desensitise is not Desensitise.keep]
    if not dataset.key_columns or not personal:
        return None
    kept = (
        conformed.filter(~pl.int_range(pl.len()).is_in(withheld.implode())) if withheld.len() else conformed
    )
    return kept.select(*dataset.key_columns, *personal)


def _record_privacy(
    platform: Platform, dataset: Dataset, delivery_id: str, result: Desensitised, leaks: list[Leak], rows: int
) -> None:
    """The k-anonymity reached and the leak scan, as rules of the delivery's quality run."""
    rules = [
        RuleResult(
            name=PII_LEAK_RULE,
            check="pii_leak_scan",
            dimension="accessibility",
            blocking=True,
            column=", ".join(sorted({leak.column for leak in leaks})) or None,
            success=not leaks,
            evaluated=rows - result.withheld.len(),
            failed=sum(leak.rows for leak in leaks),
            observed=[leak.as_dict() for leak in leaks],
            sample=[{"column": leak.column, "value": leak.sample} for leak in leaks[:20]],
        )
    ]
    k = result.k_anonymity
    if k is not None:
        rules.append(
            RuleResult(
                name="k_anonymity",
                check="k_anonymity",
                dimension="accessibility",
                blocking=False,
                column=", ".join(k.levels),
                success=k.k_reached >= k.k_required,
                evaluated=rows,
                failed=k.rows_suppressed,
                observed={
                    "k_required": k.k_required,
                    "k_before": k.k_before,
                    "k_reached": k.k_reached,
                    "rows_withheld": k.rows_suppressed,
                    "levels": k.levels,
                },
                sample=[],
            )
        )
    with platform.metadata.session() as s:
        run = s.execute(select(QualityRun).where(QualityRun.delivery_id == delivery_id)).scalar_one_or_none()
        if run is None:
            return
        run.rules = [r for r in run.rules if r.name not in {rule.name for rule in rules}] + rules
        if leaks:  # blocked after all: nothing of the delivery reaches the snapshot (docs/quality.md)
            run.blocked, run.success, run.rows_passed, run.pass_rate = True, False, 0, 0.0
            for score in run.scores:
                if score.dimension == "accessibility":
                    score.score = 0.0
            if run.scores:
                run.overall_score = round(sum(sc.score for sc in run.scores) / len(run.scores), 3)


def to_checked(platform: Platform, dataset: Dataset, delivery_id: str) -> None:
    """Run the delivery's expectation suite; a blocking failure holds its rows in quarantine."""
    delivery = _load(platform, delivery_id)
    timings = dict(delivery.timings or {})
    waiting_ids = _conformed_not_published(platform, dataset)
    before = waiting_ids[: waiting_ids.index(delivery_id)] if delivery_id in waiting_ids else waiting_ids
    earlier = [platform.lake.layer_path("conformed", dataset.name, d) for d in before]
    with _timed(timings, "check"):
        outcome = check_delivery(platform, dataset, delivery, earlier)
    values: dict[str, Any] = {"timings": timings}
    if outcome.blocked:
        values.update(
            status=DeliveryStatus.blocked,
            rows_published=0,
            rows_quarantined=delivery.rows_in,
            reconciled=True,
            finished_at=_now(),
            error="blocked by " + ", ".join(outcome.blocking_rules),
        )
    else:
        values["status"] = DeliveryStatus.checked
    _save(platform, delivery_id, **values)


STAGE_FUNCTIONS = {
    "raw": to_raw,
    "conformed": to_conformed,
    "checked": to_checked,
    "published": to_published,
}


def run_stage(platform: Platform, dataset: Dataset, stage: str) -> list[str]:
    """Run one stage on every delivery waiting for it; returns the delivery ids it handled."""
    if stage == "raw":
        discover(platform, dataset)
    handled = []
    waits_in, claimed_as = _CLAIMS[stage]
    for delivery_id in waiting(platform, dataset, stage):
        # The landing sensor's run and a CLI ingest may race for the same delivery: one claims it.
        with platform.metadata.session() as s:
            claim = s.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == waits_in)
                .values(status=claimed_as)
            )
        if claim.rowcount != 1:  # type: ignore[attr-defined]
            continue
        handled.append(delivery_id)
        try:
            STAGE_FUNCTIONS[stage](platform, dataset, delivery_id)
        except Exception as exc:
            _save(
                platform,
                delivery_id,
                status=DeliveryStatus.failed,
                error=f"{stage}: {exc}",
                finished_at=_now(),
            )
            raise
    return handled


def process(platform: Platform, dataset: Dataset) -> list[DeliverySummary]:
    """Every stage in order for every waiting delivery; summaries of the deliveries touched."""
    new = [d.id for d in discover(platform, dataset)]
    touched = list(new)
    for stage in STAGES:
        for delivery_id in run_stage(platform, dataset, stage):
            if delivery_id not in touched:
                touched.append(delivery_id)
    return [summary(platform, delivery_id) for delivery_id in touched]


def summary(platform: Platform, delivery_id: str) -> DeliverySummary:
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, delivery_id)
        assert delivery is not None
        return DeliverySummary.of(delivery)


def ingest_file(platform: Platform, dataset_name: str, source: Path) -> DeliverySummary:
    """Land one file for a dataset and run its pipeline; the summary of that file's delivery."""
    dataset = platform.catalog.get(dataset_name)
    source = Path(source)
    if not source.is_file():
        raise UnreadableDelivery("no such file", file=str(source))
    landed = land_file(platform, dataset, source)
    touched = {s.delivery_id: s for s in process(platform, dataset)}
    with platform.metadata.session() as s:
        delivery = s.scalars(
            select(Delivery).where(Delivery.dataset == dataset.name, Delivery.landed_path == str(landed))
        ).one()
        if delivery.id in touched:
            return touched[delivery.id]
        # The same bytes at the same place were processed by an earlier run: nothing happens twice.
        return DeliverySummary(
            dataset=dataset.name,
            delivery_id=delivery.id,
            source_file=delivery.source_file,
            status=DeliveryStatus.duplicate,
            duplicate_of=delivery.id,
            rows_in=0,
            rows_published=0,
            rows_quarantined=0,
            reconciled=True,
        )
