"""One dataset's pipeline over its deliveries: landing → raw → conformed → checked → published.

Each stage takes every delivery of a dataset that is waiting for it, does its work from and to the
lake, and records the outcome in the metadata database, so any process (the CLI, a Dagster asset,
a retry after a crash) can pick up where the last one stopped. Rows are reconciled per delivery:
rows in = rows published + rows quarantined. A delivery on which a blocking quality rule fails is
``blocked``: its rows join the quarantine and the current snapshot stays as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from datahub.contracts import Dataset, Desensitise, PublishMode
from datahub.errors import DatahubError, UnreadableDelivery
from datahub.faults import crash_point
from datahub.ingest.landing import LINK_REFUSED, discover, land_file, recorded, sweep_landing
from datahub.ingest.readers import read_delivery
from datahub.ingest.refusals import refusal_counts, refused_rows
from datahub.lake.store import write_parquet
from datahub.metadata import Delivery, DeliveryStatus, QuarantineReason, Snapshot
from datahub.metadata.models import QualityRun, RuleResult
from datahub.pipeline import claims
from datahub.platform import Platform
from datahub.privacy.leaks import Leak, find_leaks
from datahub.privacy.policy import Desensitised, desensitise, mask_for_quarantine, personal_values
from datahub.quality.checking import check_delivery, hold
from datahub.quality.conformity import LINEAGE, REASONS_COLUMN, conform_file
from datahub.quality.reasons import Reason
from datahub.quality.schema import published_columns

log = logging.getLogger(__name__)

STAGES = ("raw", "conformed", "checked", "published")
# Per stage: the status a delivery waits in, and the status that claims it for one process.
_CLAIMS = {
    "raw": (DeliveryStatus.landed, DeliveryStatus.reading),
    "conformed": (DeliveryStatus.raw, DeliveryStatus.conforming),
    "checked": (DeliveryStatus.conformed, DeliveryStatus.checking),
    "published": (DeliveryStatus.checked, DeliveryStatus.publishing),
}


class LostClaim(Exception):
    """The stage's claim was taken over by another run (its lease ran out): its result is dropped."""


class StageFailed(DatahubError):
    """The platform failed while processing a delivery (a full disk, a broken setting): the delivery
    is ``failed`` and `datahub deliveries retry` (or ingesting the same file again) restarts it."""

    code = "stage_failed"


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
    rows_withheld: int | None = None  # of the rows quarantined: withheld for k-anonymity
    reconciled: bool | None = None
    snapshot_version: str | None = None
    error: str | None = None
    duplicate_of: str | None = None
    notes: list[str] = field(default_factory=list)  # e.g. the columns ignored as the contract allows
    reasons: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] | None = None  # scores, pass rate and failing rules of the quality run
    timings: dict[str, float] = field(default_factory=dict)
    # True when this run did no work on the file: an earlier run (or another process) had finished it.
    earlier: bool = False
    corrects: str | None = None  # a resubmission: the delivery whose quarantined rows it fixes

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
            rows_withheld=d.rows_withheld,
            reconciled=d.reconciled,
            snapshot_version=d.snapshot_version,
            error=d.error,
            duplicate_of=d.duplicate_of,
            notes=list(d.notes or []),
            reasons=[{"reason": r.reason, "column": r.column, "rows": r.rows} for r in d.reasons],
            quality=quality_summary(d.quality) if d.quality else None,
            timings=dict(d.timings or {}),
            corrects=d.corrects,
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
                "detail": r.detail,
            }
            for r in run.rules
            if not r.success
        ],
    }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def waiting(platform: Platform, dataset: Dataset, stage: str) -> list[str]:
    """The deliveries the stage may claim: those waiting for it, and those a stage run claimed whose
    holder is gone (killed, or its lease ran out)."""
    waits_in, claimed_as = _CLAIMS[stage]
    at = _now()
    with platform.metadata.session() as s:
        rows = s.execute(
            select(Delivery.id, Delivery.status, Delivery.claimed_by, Delivery.lease_until)
            .where(Delivery.dataset == dataset.name, Delivery.status.in_((waits_in, claimed_as)))
            .order_by(Delivery.delivered_at, Delivery.source_file)
        ).all()
    return [
        id_
        for id_, status, holder, lease in rows
        if status == waits_in or not claims.alive(holder, lease, at)
    ]


def _claim(platform: Platform, delivery_id: str, stage: str, holder: str) -> bool:
    """Take the delivery for ``stage``: from the status it waits in, or over from a holder that is
    gone. A compare-and-set on the status and the holder: of two runs racing, one wins."""
    waits_in, claimed_as = _CLAIMS[stage]
    with platform.metadata.session() as s:
        found = s.execute(
            select(Delivery.status, Delivery.claimed_by, Delivery.lease_until).where(
                Delivery.id == delivery_id
            )
        ).first()
    if found is None:
        return False
    status, previous, lease = found
    if status == claimed_as and claims.alive(previous, lease):
        return False
    if status not in (waits_in, claimed_as):
        return False
    same_holder = Delivery.claimed_by.is_(None) if previous is None else Delivery.claimed_by == previous
    with platform.metadata.session() as s:
        taken = s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == status, same_holder)
            .values(
                status=claimed_as,
                claimed_by=holder,
                lease_until=_now() + claims.LEASE,
                attempts=func.coalesce(Delivery.attempts, 0) + 1,
            )
        )
    return taken.rowcount == 1  # type: ignore[attr-defined]


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


def _finish(s: Session, delivery_id: str, holder: str, **values: Any) -> None:
    """Record a stage's result, in the caller's transaction, only while the stage still holds the
    delivery; otherwise :class:`LostClaim` rolls the transaction back."""
    done = s.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.claimed_by == holder, Delivery.status.in_(_CLAIMED))
        .values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LostClaim(delivery_id)


_CLAIMED = tuple(claimed for _, claimed in _CLAIMS.values())


def _save(platform: Platform, delivery_id: str, holder: str, **values: Any) -> None:
    with platform.metadata.session() as s:
        _finish(s, delivery_id, holder, **values)


def to_raw(platform: Platform, dataset: Dataset, delivery_id: str, holder: str) -> None:
    """Read the delivered file as text and keep it, with lineage, in the raw layer. The records the
    reader refused go, with their reasons, to the refused layer, which the conformed stage adds to the
    delivery's quarantine: rows in counts them too."""
    delivery = _load(platform, delivery_id)
    timings: dict[str, float] = {}
    landed = Path(delivery.landed_path)
    try:
        if landed.is_symlink():  # put there since discovery: never followed
            raise UnreadableDelivery(LINK_REFUSED, file=delivery.landed_path)
        with _timed(timings, "read"):
            read = read_delivery(landed, dataset)
    except UnreadableDelivery as exc:
        _save(
            platform,
            delivery_id,
            holder,
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
    lineage = {
        "_source_file": pl.lit(delivery.source_file),
        "_ingested_at": pl.lit(_now()),
        "_file_hash": pl.lit(delivery.file_hash),
    }
    order = [*read.frame.columns, *LINEAGE]
    refused_path = platform.lake.layer_path("refused", dataset.name, delivery_id)
    with _timed(timings, "write_raw"):
        platform.lake.write_layer(
            "raw", dataset.name, delivery_id, read.accepted().with_columns(**lineage).select(order)
        )
        if read.problems:
            refused = refused_rows(read, dataset).with_columns(**lineage)
            platform.lake.write_layer(
                "refused", dataset.name, delivery_id, refused.select(*order, REASONS_COLUMN)
            )
        else:
            refused_path.unlink(missing_ok=True)
    crash_point("written:raw")
    _save(
        platform,
        delivery_id,
        holder,
        status=DeliveryStatus.raw,
        rows_in=read.records,
        timings=timings,
        notes=read.notes or None,
    )


def _add_refused(
    platform: Platform, dataset: Dataset, delivery_id: str
) -> tuple[int, list[tuple[str, str, int]]]:
    """Add the records the reader refused to the delivery's quarantine (just written by conformity);
    how many, and their (reason, column, rows) counts."""
    refused_path = platform.lake.layer_path("refused", dataset.name, delivery_id)
    if not refused_path.is_file():
        return 0, []
    refused = pl.read_parquet(refused_path)
    quarantine_path = platform.lake.layer_path("quarantine", dataset.name, delivery_id)
    quarantine = pl.concat([pl.read_parquet(quarantine_path), refused], how="vertical_relaxed")
    write_parquet(quarantine.sort("_row_number"), quarantine_path)
    return refused.height, refusal_counts(refused)


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
    for delivery_id in _conformed_not_published(platform, dataset):
        platform.lake.fetch(dataset.name, delivery_id, ("conformed",))
        frames.append(
            pl.scan_parquet(platform.lake.layer_path("conformed", dataset.name, delivery_id)).select(columns)
        )
    return pl.concat(frames, how="vertical_relaxed") if frames else None


def to_conformed(platform: Platform, dataset: Dataset, delivery_id: str, holder: str) -> None:
    """Conform to the dictionary; failing rows go to quarantine with their reasons.

    For an append dataset with a key (or unique columns), the check of the delivery's keys (and unique
    values) against every row accepted before it and the record of its own accepted rows are one step
    under the dataset's ``keys`` lock: two deliveries with the same keys conformed at once cannot both
    pass."""
    lake = platform.lake
    checked = published_columns(dataset)  # the key and unique columns new rows must not repeat
    keyed = dataset.delivery.publish_mode is PublishMode.append and bool(checked)
    with lake.lock(dataset.name, "keys").held() if keyed else nullcontext():
        delivery = _load(platform, delivery_id)
        timings = dict(delivery.timings or {})
        before = _accepted_before(platform, dataset)
        crash_point("read:keys")
        with _timed(timings, "conform"):  # in batches, straight from the raw file into the two layers
            result = conform_file(
                lake.layer_path("raw", dataset.name, delivery_id),
                dataset,
                platform.dictionary,
                conformed_path=lake.layer_path("conformed", dataset.name, delivery_id),
                quarantine_path=lake.layer_path("quarantine", dataset.name, delivery_id),
                published_keys=before.select(checked).collect() if before is not None and checked else None,
                mask_value=mask_for_quarantine,
            )
        refused, refused_counts = _add_refused(platform, dataset, delivery_id)
        crash_point("written:conformed")
        with platform.metadata.session() as s:
            s.execute(delete(QuarantineReason).where(QuarantineReason.delivery_id == delivery_id))
            for reason, column, rows in [*result.reason_counts, *refused_counts]:
                s.add(QuarantineReason(delivery_id=delivery_id, reason=reason, column=column, rows=rows))
            _finish(
                s,
                delivery_id,
                holder,
                status=DeliveryStatus.conformed,
                rows_quarantined=result.rows_quarantined + refused,
                timings=timings,
            )


PII_LEAK_RULE = "pii_leak"
"""The blocking check before every publication: no direct identifier in what would be shared."""


def to_published(platform: Platform, dataset: Dataset, delivery_id: str, holder: str) -> None:
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
            holder,
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
    rows_withheld = 0
    if result.k_anonymity is not None and result.withheld.len():
        withheld = conformed.get_column("_row_number").gather(result.withheld)
        label = ", ".join(result.k_anonymity.levels)
        hold(platform, dataset, delivery_id, Reason.k_anonymity, label, withheld)
        rows_withheld = withheld.len()
        rows_quarantined += rows_withheld
    shared = result.frame
    if rows_withheld and shared.height == 0:  # nothing left to share: no new version
        crash_point("written:published")
        _save(
            platform,
            delivery_id,
            holder,
            status=DeliveryStatus.withheld,
            rows_published=0,
            rows_quarantined=rows_quarantined,
            rows_withheld=rows_withheld,
            reconciled=(delivery.rows_in or 0) == rows_quarantined,
            finished_at=_now(),
            timings=timings,
            desensitised=result.counts,
            error=f"every row withheld for k-anonymity ({rows_withheld} rows): nothing published",
        )
        return
    lake = platform.lake
    # The snapshot and its record in the metadata database are one step under the dataset's publish
    # lock: a run that takes over a delivery killed between the two finds its snapshot committed
    # (Lake.publish returns it) and records it, instead of publishing the rows twice.
    with lake.lock(dataset.name).held():
        if not _holds(platform, delivery_id, holder):
            raise LostClaim(delivery_id)
        with _timed(timings, "publish"):
            version = lake.publish(
                dataset,
                delivery_id,
                shared,
                append=dataset.delivery.publish_mode is PublishMode.append,
                restricted=restricted_values(conformed, dataset, result.withheld),
            )
        current = lake.current_version(dataset.name)
        rows_in = delivery.rows_in or 0
        with platform.metadata.session() as s:
            Snapshot.record(s, version, delivery_id)
            s.execute(
                update(Snapshot)
                .where(Snapshot.dataset == dataset.name)
                .values(is_current=Snapshot.version == (current.version if current else ""))
            )
            _finish(
                s,
                delivery_id,
                holder,
                status=DeliveryStatus.published,
                rows_published=shared.height,
                rows_quarantined=rows_quarantined,
                rows_withheld=rows_withheld,
                reconciled=rows_in == shared.height + rows_quarantined,
                snapshot_version=version.version,
                finished_at=_now(),
                timings=timings,
                desensitised=result.counts,
            )


def _holds(platform: Platform, delivery_id: str, holder: str) -> bool:
    with platform.metadata.session() as s:
        return s.scalar(select(Delivery.claimed_by).where(Delivery.id == delivery_id)) == holder


def restricted_values(conformed: pl.DataFrame, dataset: Dataset, withheld: pl.Series) -> pl.DataFrame | None:
    """The key and the raw values of the personal columns of the rows being published (the conformed
    rows less those withheld), or None when the dataset has no key or nothing personal."""
    personal = [c.name for c in dataset.columns if c.desensitise is not Desensitise.keep]
    if not dataset.key_columns or not personal:
        return None
    kept = (
        conformed.filter(~pl.int_range(pl.len()).is_in(withheld.implode())) if withheld.len() else conformed
    )
    return kept.select(list(dict.fromkeys([*dataset.key_columns, *personal])))  # a key may be personal too


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


def to_checked(platform: Platform, dataset: Dataset, delivery_id: str, holder: str) -> None:
    """Run the delivery's expectation suite; a blocking failure holds its rows in quarantine."""
    delivery = _load(platform, delivery_id)
    timings = dict(delivery.timings or {})
    with platform.metadata.session() as s:  # a run taken over starts its quality run afresh
        s.execute(delete(QualityRun).where(QualityRun.delivery_id == delivery_id))
    waiting_ids = _conformed_not_published(platform, dataset)
    before = waiting_ids[: waiting_ids.index(delivery_id)] if delivery_id in waiting_ids else waiting_ids
    for d in before:
        platform.lake.fetch(dataset.name, d, ("conformed",))
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
    crash_point("written:checked")
    _save(platform, delivery_id, holder, **values)


STAGE_FUNCTIONS = {
    "raw": to_raw,
    "conformed": to_conformed,
    "checked": to_checked,
    "published": to_published,
}


def preflight(platform: Platform) -> None:
    """What every stage needs, checked before any work: a settings error is reported at the start,
    not after the file has been read and conformed."""
    platform.settings.secret_key  # noqa: B018 - raises ConfigError for the placeholder outside the demo


def run_stage(platform: Platform, dataset: Dataset, stage: str) -> list[str]:
    """Run one stage on every delivery waiting for it (or whose claim's holder is gone); returns the
    delivery ids it handled. A delivery the stage fails on is ``failed`` (with the stage); the others
    still run, and the first failure is raised at the end."""
    if stage == "raw":  # every run starts here, the Dagster asset's as a CLI ingest's
        platform.lake.sweep(dataset.name)  # temporary files a killed writer left behind
        sweep_landing(platform, dataset)
        discover(platform, dataset)
    handled: list[str] = []
    failures: list[BaseException] = []
    with claims.holding(platform.metadata) as holder:
        for delivery_id in waiting(platform, dataset, stage):
            # The landing sensor's run, a CLI ingest and a retry may race for a delivery: one claims it.
            if not _claim(platform, delivery_id, stage, holder):
                continue
            crash_point(f"claimed:{stage}")
            handled.append(delivery_id)
            try:
                platform.lake.fetch(dataset.name, delivery_id)  # written on another machine, if so
                STAGE_FUNCTIONS[stage](platform, dataset, delivery_id, holder)
                platform.lake.keep(dataset.name, delivery_id)  # where any machine finds them
            except LostClaim:
                log.warning("%s: the %s stage's claim on %s was taken over", dataset.name, stage, delivery_id)
            except Exception as exc:
                failures.append(_failed(platform, dataset, delivery_id, holder, stage, exc))
    if failures:
        raise failures[0]
    return handled


def _failed(
    platform: Platform, dataset: Dataset, delivery_id: str, holder: str, stage: str, exc: Exception
) -> DatahubError:
    """Mark the delivery failed at ``stage`` (if the database can still be written: otherwise its
    claim stays and a later run takes it over) and return the error to report."""
    log.debug("%s: delivery %s failed at stage %s", dataset.name, delivery_id, stage, exc_info=exc)
    message = f"{stage}: {exc}"
    try:
        _save(
            platform,
            delivery_id,
            holder,
            status=DeliveryStatus.failed,
            failed_stage=stage,
            error=message,
            finished_at=_now(),
        )
    except Exception:
        log.exception("%s: could not record the failure of %s", dataset.name, delivery_id)
    if isinstance(exc, DatahubError):
        return exc
    error = StageFailed(
        f"delivery {delivery_id} failed at stage {stage}: {exc}; fix the cause, then "
        f"`datahub deliveries retry {delivery_id}`",
        path=stage,
    )
    error.__cause__ = exc
    return error


def restart(platform: Platform, delivery_id: str) -> bool:
    """Put a ``failed`` delivery back where its failed stage waits; False when it is not failed."""
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.failed:
            return False
        stage = delivery.failed_stage or (delivery.error or "").split(":", 1)[0]
        waits_in = _CLAIMS[stage][0] if stage in _CLAIMS else DeliveryStatus.landed
        done = s.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.failed)
            .values(status=waits_in, error=None, failed_stage=None, finished_at=None)
        )
        return done.rowcount == 1  # type: ignore[attr-defined]


def process(platform: Platform, dataset: Dataset) -> list[DeliverySummary]:
    """Every stage in order for every waiting delivery; summaries of the deliveries touched."""
    preflight(platform)
    new = [d.id for d in discover(platform, dataset)]
    crash_point("registered")
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


WAIT = 0.5
"""Seconds between two looks at a delivery another process is working on."""


def converge(
    platform: Platform, dataset: Dataset, delivery_id: str, *, retry_failed: bool, registered: bool = False
) -> DeliverySummary:
    """Run the dataset's pipeline until the delivery is finished (or failed), whoever does the work:
    this process, another one it waits for, or this process again after taking a dead one's claim
    over. ``retry_failed``: a delivery that failed in an earlier run is restarted once; ``registered``:
    this run registered the delivery (so a duplicate is this run's finding, not an earlier one)."""
    touched: set[str] = {delivery_id} if registered else set()
    while True:
        touched |= {s.delivery_id for s in process(platform, dataset)}
        current = summary(platform, delivery_id)
        if current.status == DeliveryStatus.failed and retry_failed and restart(platform, delivery_id):
            retry_failed = False
            continue
        if current.status in DeliveryStatus.FINAL or current.status == DeliveryStatus.failed:
            current.earlier = delivery_id not in touched
            return current
        time.sleep(WAIT)


@contextmanager
def platform_errors(what: str) -> Iterator[None]:
    """A disk or database failure outside a stage (landing a file, registering it, claiming it) as a
    clear error: nothing is lost, the next run starts again from what is recorded."""
    try:
        yield
    except (OSError, SQLAlchemyError) as exc:
        detail = getattr(exc, "orig", None) or exc
        raise StageFailed(f"{what}: {detail}") from exc


def ingest_file(platform: Platform, dataset_name: str, source: Path) -> DeliverySummary:
    """Land one file for a dataset and run its pipeline; the summary of that file's delivery: what
    became of it, whether this run, another process or an earlier run did the work. Ingesting a file
    whose delivery failed before restarts it; nothing is published twice."""
    dataset = platform.catalog.get(dataset_name)
    source = Path(source)
    if not source.is_file():
        raise UnreadableDelivery("no such file", file=recorded(source))
    preflight(platform)
    with platform_errors(f"{recorded(source.name)} could not be landed and processed"):
        landed = land_file(platform, dataset, source)
        crash_point("landed")
        registered = {d.id for d in discover(platform, dataset)}
        with platform.metadata.session() as s:
            delivery_id = s.scalars(
                select(Delivery.id).where(
                    Delivery.dataset == dataset.name, Delivery.landed_path == recorded(landed)
                )
            ).one()
        return converge(
            platform, dataset, delivery_id, retry_failed=True, registered=delivery_id in registered
        )
