"""Random sequences of deliveries, crashes and retries always end reconciled: every delivered row is
published once or quarantined, whatever crashed where."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datahub import faults, pipeline
from datahub.errors import DatahubError
from datahub.platform import Platform
from tests.faults.test_kills import POINTS
from tests.faults.world import DATASET, assert_converged, home_settings, hotline_file

FILES = 4
ROWS = 16  # per file; file i holds work orders 8i+1 … 8i+16, so neighbours share 8 keys

deliver = st.tuples(st.just("deliver"), st.integers(0, FILES - 1), st.none() | st.sampled_from(POINTS))
retry = st.tuples(st.just("retry"), st.just(0), st.none() | st.sampled_from(POINTS[2:]))
steps = st.lists(deliver | retry, min_size=1, max_size=6)


def _run(step: tuple[str, int, str | None], platform: Platform, files: list[Path]) -> None:
    action, index, point = step
    if point is not None:
        faults.arm(point)
    try:
        if action == "deliver":
            pipeline.ingest_file(platform, DATASET, files[index])
        else:
            for row in pipeline.list_deliveries(platform, unfinished=True):
                pipeline.retry(platform, row.delivery_id)
    except faults.Crash:
        pass  # the process "died" here: its claims and files stay as they were
    except DatahubError as exc:  # retrying what another step finished, for example
        assert exc.code == "not_retryable", exc
    finally:
        faults.disarm()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_deliveries_crashes_and_retries_always_reconcile(sequence: list[tuple[str, int, str | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        platform = Platform(home_settings(Path(tmp) / "var"))
        files = [
            hotline_file(platform, Path(tmp) / "in" / f"d{i}.csv", 8 * i + 1, ROWS) for i in range(FILES)
        ]
        for step in sequence:
            _run(step, platform, files)
        delivered = sorted({index for action, index, _ in sequence if action == "deliver"})
        for index in delivered:  # each file sent once more: whatever was left unfinished converges
            pipeline.ingest_file(platform, DATASET, files[index])
        rows = assert_converged(platform)
        expected = {f"GD20261001{n:06d}" for i in delivered for n in range(8 * i + 1, 8 * i + 1 + ROWS)}
        key = platform.catalog.get(DATASET).key_columns[0]
        assert set(rows.get_column(key).to_list() if rows.height else []) == expected
        assert pl.Series(rows.get_column(key) if rows.height else []).is_duplicated().sum() == 0
        platform.metadata.dispose()
