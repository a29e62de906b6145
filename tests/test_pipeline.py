"""The pipeline on hand-built deliveries: reconciliation, idempotency, rejection, publication."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from datahub import pipeline
from datahub.errors import NotFound, UnreadableDelivery
from datahub.metadata import Delivery
from datahub.pipeline import claims
from datahub.platform import Platform
from datahub.privacy.policy import pseudonym
from tests.hotline_rows import VALID_ID, VALID_PHONE, valid_row, write_hotline


def _hotline_file(
    platform: Platform, path: Path, n: int = 20, bad: dict[int, dict[str, str]] | None = None
) -> Path:
    rows = [valid_row(platform.dictionary, i) for i in range(1, n + 1)]
    for i, change in (bad or {}).items():
        rows[i] = rows[i] | change
    return write_hotline(path, rows, platform.catalog.get("hotline_12345"))


def test_ingest_reconciles_and_publishes_masked_rows(platform: Platform, tmp_path: Path) -> None:
    file = _hotline_file(
        platform,
        tmp_path / "in" / "hotline_1.csv",
        bad={2: {"联系电话": "123"}, 5: {"满意度": "42"}, 9: {"诉求分类": "ZZ000"}},
    )
    summary = pipeline.ingest_file(platform, "hotline_12345", file)
    assert summary.status == "published"
    assert (summary.rows_in, summary.rows_published, summary.rows_quarantined) == (20, 17, 3)
    assert summary.reconciled is True
    assert {(r["reason"], r["column"], r["rows"]) for r in summary.reasons} == {
        ("invalid_format", "caller_phone", 1),
        ("out_of_range", "satisfaction", 1),
        ("unmapped_code", "event_category", 1),
    }
    current = platform.lake.scan_current("hotline_12345")
    assert current is not None
    published = current.collect()
    assert published.height == 17
    text = published.write_csv()
    assert VALID_PHONE not in text and VALID_ID not in text
    # the contract asks for a pseudonym: the same keyed token for the same number, everywhere
    assert set(published.get_column("caller_phone")) == {pseudonym(VALID_PHONE, platform.settings.secret_key)}
    assert published.item(0, "caller_id_number").endswith(VALID_ID[-4:])
    with platform.metadata.session() as s:
        masked = s.get(Delivery, summary.delivery_id).desensitised  # type: ignore[union-attr]
    assert masked["caller_phone:pseudonymised"] == 17
    assert masked["caller_id_number:masked"] == 17
    assert masked["complaint_text:CN_MOBILE"] == 17
    quarantine = pl.read_parquet(platform.lake.layer_path("quarantine", "hotline_12345", summary.delivery_id))
    assert sorted(quarantine.get_column("_row_number").to_list()) == [3, 6, 10]


def test_ingesting_the_same_file_twice_publishes_nothing_twice(platform: Platform, tmp_path: Path) -> None:
    file = _hotline_file(platform, tmp_path / "in" / "hotline_2.csv")
    first = pipeline.ingest_file(platform, "hotline_12345", file)
    again = pipeline.ingest_file(platform, "hotline_12345", file)
    copy = tmp_path / "elsewhere" / "renamed.csv"
    copy.parent.mkdir()
    copy.write_bytes(file.read_bytes())
    renamed = pipeline.ingest_file(platform, "hotline_12345", copy)
    assert first.rows_published == 20
    # The same file again: nothing happens twice, and the summary tells what became of the file.
    assert again.earlier and again.delivery_id == first.delivery_id
    assert (again.status, again.rows_published) == ("published", 20)
    assert renamed.status == "duplicate" and renamed.duplicate_of == first.delivery_id
    manifest = platform.lake.current_version("hotline_12345")
    assert manifest is not None and manifest.rows == 20 and manifest.delivery_id == first.delivery_id
    assert [s.delivery_id for s in platform.lake.tables.snapshots("published", "hotline_12345")] == [
        first.delivery_id
    ]  # committed once


def test_a_second_delivery_appends_and_rejects_republished_keys(platform: Platform, tmp_path: Path) -> None:
    pipeline.ingest_file(platform, "hotline_12345", _hotline_file(platform, tmp_path / "a.csv", n=10))
    rows = [valid_row(platform.dictionary, i) for i in range(8, 16)]  # 8, 9, 10 were published already
    second = pipeline.ingest_file(
        platform,
        "hotline_12345",
        write_hotline(tmp_path / "b.csv", rows, platform.catalog.get("hotline_12345")),
    )
    assert (second.rows_in, second.rows_published, second.rows_quarantined) == (8, 5, 3)
    assert second.reasons == [{"reason": "duplicate_key", "column": "work_order_id", "rows": 3}]
    manifest = platform.lake.current_version("hotline_12345")
    assert manifest is not None and manifest.rows == 15


def test_unreadable_file_is_rejected_and_recorded(platform: Platform, tmp_path: Path) -> None:
    bad = tmp_path / "hotline_bad.csv"
    bad.write_bytes(b"\x00\x01\x02binary")
    summary = pipeline.ingest_file(platform, "hotline_12345", bad)
    assert summary.status == "rejected"
    assert "binary" in (summary.error or "")
    assert summary.rows_published == 0 and summary.reconciled is True
    assert platform.lake.current_version("hotline_12345") is None
    with platform.metadata.session() as s:
        assert s.get(Delivery, summary.delivery_id) is not None


def test_unknown_dataset_and_missing_file(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        pipeline.ingest_file(platform, "no_such_dataset", tmp_path / "x.csv")
    with pytest.raises(UnreadableDelivery):
        pipeline.ingest_file(platform, "hotline_12345", tmp_path / "missing.csv")


def _claim_as(platform: Platform, delivery_id: str, holder: str, *, lease: float = 60.0) -> None:
    with platform.metadata.session() as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        d.status, d.claimed_by = "reading", holder
        d.lease_until = claims.now() + timedelta(seconds=lease)


def test_a_claimed_delivery_is_left_to_the_live_process_that_claimed_it(
    platform: Platform, tmp_path: Path
) -> None:
    dataset = platform.catalog.get("hotline_12345")
    pipeline.land_file(platform, dataset, _hotline_file(platform, tmp_path / "claimed.csv", n=3))
    (delivery,) = pipeline.discover(platform, dataset)
    sleeper = subprocess.Popen(["sleep", "60"])  # a live process on this host holds the claim
    try:
        live = str(claims.Holder(claims.HOST, sleeper.pid, claims._started(sleeper.pid), "t0"))
        _claim_as(platform, delivery.id, live)
        assert pipeline.run_stage(platform, dataset, "raw") == []
        assert pipeline.summary(platform, delivery.id).status == "reading"
        assert pipeline.discover(platform, dataset) == []
    finally:
        sleeper.kill()
        sleeper.wait()
    # Its holder gone, the next run takes the claim over and finishes the stage.
    assert pipeline.run_stage(platform, dataset, "raw") == [delivery.id]
    assert pipeline.summary(platform, delivery.id).status == "raw"


def test_a_claim_of_another_host_holds_until_its_lease_runs_out(platform: Platform, tmp_path: Path) -> None:
    dataset = platform.catalog.get("hotline_12345")
    pipeline.land_file(platform, dataset, _hotline_file(platform, tmp_path / "remote.csv", n=3))
    (delivery,) = pipeline.discover(platform, dataset)
    _claim_as(platform, delivery.id, "other-host/4242/123/t1")
    assert pipeline.run_stage(platform, dataset, "raw") == []
    _claim_as(platform, delivery.id, "other-host/4242/123/t1", lease=-1)
    assert pipeline.run_stage(platform, dataset, "raw") == [delivery.id]
    with platform.metadata.session() as s:
        d = s.get(Delivery, delivery.id)
        assert d is not None and d.status == "raw" and d.attempts == 1
