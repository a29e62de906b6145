"""Two processes at once: publishing one dataset, delivering the same keys, ingesting the same file."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from datahub.contracts import Catalog
from datahub.dictionary import load_dictionary
from datahub.faults import DELAY_ENV
from datahub.lake import Lake
from datahub.lake.tables import TableStore
from datahub.platform import Platform
from tests.conftest import ROOT
from tests.faults.world import DATASET, assert_converged, cli_env, home_settings, hotline_file
from tests.lake.test_tables import published

PUBLICATIONS = 12  # per process


def _publish_many(root: str, tag: str, start: Event) -> None:
    """One publisher process: its own lake and catalog connection over the same home."""
    dataset = Catalog.load(ROOT / "contracts", load_dictionary(ROOT / "dictionary")).get(DATASET)
    url, warehouse = f"sqlite:///{Path(root) / 'metadata.db'}", (Path(root) / "warehouse").as_uri()
    lake = Lake(Path(root) / "lake", lambda: TableStore(url, warehouse))
    first = 0 if tag == "a" else 100_000
    start.wait()
    for i in range(PUBLICATIONS):
        frame = published(dataset, range(first + i * 50, first + (i + 1) * 50))
        lake.publish(dataset, f"{tag}{i:04d}" + "0" * 24, frame, append=True)


def test_two_processes_publishing_one_dataset_lose_no_delivery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each publisher waits a little after its restricted commit, inside the publish lock.
    monkeypatch.setenv(DELAY_ENV, "written:restricted=0.05")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_publish_many, args=(str(tmp_path), tag, start)) for tag in ("a", "b")]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0
    store = TableStore(f"sqlite:///{tmp_path / 'metadata.db'}", (tmp_path / "warehouse").as_uri())
    lake = Lake(tmp_path / "lake", lambda: store)
    version = lake.current_version(DATASET)
    assert version is not None and version.rows == 2 * PUBLICATIONS * 50
    committed = [s.delivery_id for s in store.snapshots(version.namespace, DATASET)]
    assert len(committed) == len(set(committed)) == 2 * PUBLICATIONS
    rows = lake.rows(version).to_table(columns=["work_order_id"])
    assert rows.num_rows == len(set(rows.column("work_order_id").to_pylist())) == 2 * PUBLICATIONS * 50
    store.close()


def _start_ingest(home: Path, file: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "datahub.cli", "ingest", DATASET, str(file), "--json"],
        env=cli_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    return dict(json.loads(out))


def test_the_same_keys_delivered_at_once_are_published_once(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    a = hotline_file(platform, tmp_path / "in" / "a.csv", 1, 200)
    b = hotline_file(platform, tmp_path / "in" / "b.csv", 101, 200)  # keys 101-200 in both
    # Each waits 8 s after reading the keys accepted before it: both conform at the same time.
    slow = {DELAY_ENV: "read:keys=8"}
    first, second = (_finish(p) for p in [_start_ingest(home, a, **slow), _start_ingest(home, b, **slow)])
    assert {first["status"], second["status"]} == {"published"}
    assert first["rows_published"] + second["rows_published"] == 300  # type: ignore[operator]
    assert first["rows_quarantined"] + second["rows_quarantined"] == 100  # type: ignore[operator]
    rows = assert_converged(platform)
    assert rows.height == 300


def test_the_same_file_ingested_twice_at_once_tells_both_what_became_of_it(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(home_settings(home))
    file = hotline_file(platform, tmp_path / "in" / "same.csv", 1, 200)
    first, second = (_finish(p) for p in [_start_ingest(home, file), _start_ingest(home, file)])
    for summary in (first, second):
        assert (summary["status"], summary["rows_in"], summary["rows_published"]) == ("published", 200, 200)
        assert summary["reconciled"] is True
    assert first["delivery_id"] == second["delivery_id"]
    assert first["snapshot_version"] == second["snapshot_version"]
    assert assert_converged(platform).height == 200
