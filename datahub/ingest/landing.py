"""The landing zone: where delivered files arrive, and their registration as deliveries.

A file is copied in under a temporary name, flushed and renamed, so a file in the zone is always
whole; discovery registers each file once (the same bytes a second time are a ``duplicate``).
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from datahub.contracts import Dataset
from datahub.files import file_sha256
from datahub.lake.store import commit_file, sweep_temporary, temporary_name
from datahub.metadata import Delivery, DeliveryStatus
from datahub.platform import Platform


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
        tmp = temporary_name(target)
        try:
            shutil.copy2(source, tmp)
            commit_file(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target


def sweep_landing(platform: Platform, dataset: Dataset) -> list[Path]:
    """Remove the half-copied files killed copies left in the dataset's landing zone."""
    return sweep_temporary(landing_dir(platform, dataset))


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
                    rows_in=0 if first else None,
                    rows_published=0 if first else None,
                    rows_quarantined=0 if first else None,
                    reconciled=True if first else None,
                )
                s.add(delivery)
        except IntegrityError:  # another process registered this file a moment ago
            continue
        found.append(delivery)
    return found
