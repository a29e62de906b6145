"""A small hotline world with an unfinished delivery: two real deliveries through the pipeline, one of
which is then put back into a status that is not final (``publishing``: its process was killed while
publishing; ``failed``: the platform failed on it), as a fault would leave it.

The delivery keeps the ``reconciled`` flag of its first run (True): only its status says it is not
finished, so whatever trusts the flag of an unfinished delivery is caught."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import update

from datahub import pipeline
from datahub.metadata import Delivery
from datahub.platform import Platform
from tests.hotline_rows import valid_row, write_hotline

MONTH = "2026-10"
DATASET = "hotline_12345"
FINISHED_FILE = "hotline_finished.csv"
UNFINISHED_FILE = "hotline_unfinished.csv"
ERROR = "published: [Errno 28] No space left on device"


@dataclass(frozen=True)
class Unfinished:
    platform: Platform
    finished_id: str
    unfinished_id: str
    status: str


def _delivery(platform: Platform, path: Path, first: int, day: int) -> str:
    rows = [valid_row(platform.dictionary, first + i) for i in range(8)]  # enough to be 5-anonymous
    file = write_hotline(path, rows, platform.catalog.get(DATASET))
    stamp = datetime(2026, 10, day, 2, 30).timestamp()  # delivered in October (city time)
    os.utime(file, (stamp, stamp))
    summary = pipeline.ingest_file(platform, DATASET, file)
    assert summary.status == "published" and summary.reconciled is True, summary
    return summary.delivery_id


def build(platform: Platform, tmp_path: Path, status: str) -> Unfinished:
    """Two published hotline deliveries of October; the second is then set to ``status``."""
    finished = _delivery(platform, tmp_path / "in" / FINISHED_FILE, 1, 5)
    unfinished = _delivery(platform, tmp_path / "in" / UNFINISHED_FILE, 1_000, 6)
    with platform.metadata.session() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == unfinished)
            .values(status=status, error=ERROR if status == "failed" else None)
        )
    return Unfinished(platform, finished, unfinished, status)
