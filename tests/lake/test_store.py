"""The lake as the platform uses it: publish a delivery as a snapshot, read the current or an earlier
version, the restricted values as of a version, and the working layers beside the tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow.dataset as ds
import pytest

from datahub.contracts import Catalog, Dataset
from datahub.errors import NotFound
from datahub.lake import Lake
from datahub.lake.tables import PUBLISHED, RESTRICTED, VIEWS, TableStore
from tests.lake.test_tables import published, restricted


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    store = TableStore(f"sqlite:///{tmp_path / 'metadata.db'}", (tmp_path / "warehouse").as_uri())
    yield Lake(tmp_path / "lake", lambda: store)
    store.close()


@pytest.fixture
def hotline(catalog: Catalog) -> Dataset:
    return catalog.get("hotline_12345")


def keys(rows: ds.Dataset, key: str) -> list[str]:
    return sorted(rows.to_table(columns=[key]).column(key).to_pylist())


def test_append_commits_one_snapshot_per_delivery_and_keeps_earlier_ones(
    lake: Lake, hotline: Dataset
) -> None:
    key = hotline.key_columns[0]
    first = lake.publish(hotline, "d1", published(hotline, range(0, 2)), append=True)
    second = lake.publish(hotline, "d2", published(hotline, range(2, 3)), append=True)
    assert (first.rows, second.rows) == (2, 3)
    assert (second.delivery_id, second.contract_version, second.table) == (
        "d2",
        hotline.version,
        f"{PUBLISHED}.hotline_12345",
    )
    assert second.version == str(second.snapshot_id) != first.version
    assert lake.current_version("hotline_12345") == second
    assert keys(lake.rows(second), key) == ["K000000", "K000001", "K000002"]
    assert keys(lake.rows(first), key) == ["K000000", "K000001"]  # the earlier version reads as it was
    current = lake.scan_current("hotline_12345")
    assert current is not None and current.select(pl.len()).collect().item() == 3
    # An earlier version by its id, or by a time between the two commits.
    assert lake.current_version("hotline_12345", snapshot=first.snapshot_id) == first
    between = first.created_at + (second.created_at - first.created_at) / 2
    if second.created_at > first.created_at:  # commits within one millisecond share a time
        assert lake.current_version("hotline_12345", as_of=between) == first
    with pytest.raises(NotFound, match="no snapshot 42"):
        lake.current_version("hotline_12345", snapshot=42)
    with pytest.raises(NotFound, match="had no snapshot"):
        lake.current_version("hotline_12345", as_of=first.created_at - timedelta(days=1))


def test_a_delivery_published_again_is_not_committed_twice(lake: Lake, hotline: Dataset) -> None:
    first = lake.publish(hotline, "d1", published(hotline, range(0, 5)), append=True)
    again = lake.publish(hotline, "d1", published(hotline, range(0, 5)), append=True)
    assert again == first and lake.version_of("hotline_12345", "d1") == first
    assert lake.version_of("hotline_12345", "never") is None
    assert len(lake.tables.snapshots(PUBLISHED, "hotline_12345")) == 1


def test_replace_keeps_only_the_new_rows_and_old_versions_stay_readable(lake: Lake, hotline: Dataset) -> None:
    key = hotline.key_columns[0]
    old = lake.publish(hotline, "d1", published(hotline, range(0, 2)), append=False)
    new = lake.publish(hotline, "d2", published(hotline, range(9, 10)), append=False)
    assert new.rows == 1 and keys(lake.rows(new), key) == ["K000009"]
    assert keys(lake.rows(old), key) == ["K000000", "K000001"]


def test_views_go_to_their_namespace_and_the_pointer_moves_with_each_commit(
    lake: Lake, hotline: Dataset
) -> None:
    assert lake.pointer("hotline_12345") is None and lake.namespace_of("hotline_12345") is None
    lake.publish(hotline, "b1", published(hotline, range(0, 2)), append=False, namespace=VIEWS)
    assert lake.namespace_of("hotline_12345") == VIEWS
    before = lake.pointer("hotline_12345")
    lake.publish(hotline, "b2", published(hotline, range(0, 3)), append=False, namespace=VIEWS)
    assert before is not None and lake.pointer("hotline_12345") not in (None, before)
    assert lake.tables.tables() == [(VIEWS, "hotline_12345")]


def test_restricted_values_are_read_as_of_the_version_and_only_through_their_own_call(
    lake: Lake, hotline: Dataset
) -> None:
    key = hotline.key_columns[0]
    first = lake.publish(
        hotline,
        "d1",
        published(hotline, range(0, 2)),
        append=True,
        restricted=restricted(hotline, range(0, 2)),
    )
    second = lake.publish(
        hotline,
        "d2",
        published(hotline, range(2, 4)),
        append=True,
        restricted=restricted(hotline, range(2, 4)),
    )
    secret_first, secret_second = lake.restricted_rows(first), lake.restricted_rows(second)
    assert secret_first is not None and secret_second is not None
    assert keys(secret_first, key) == ["K000000", "K000001"]
    assert keys(secret_second, key) == ["K000000", "K000001", "K000002", "K000003"]
    # The consumer path (current versions by name) never reaches the restricted namespace.
    assert lake.namespace_of("hotline_12345") == PUBLISHED
    assert (RESTRICTED, "hotline_12345") in lake.tables.locations()
    personal = {c.name for c in hotline.columns if c.desensitise.value != "keep"} - set(hotline.key_columns)
    assert personal and set(secret_second.schema.names) == {*hotline.key_columns, *personal}


def test_a_dataset_without_restricted_values_has_none(lake: Lake, hotline: Dataset) -> None:
    version = lake.publish(hotline, "d1", published(hotline, range(0, 2)), append=True)
    assert lake.restricted_rows(version) is None


def test_no_current_version_before_first_publication(lake: Lake) -> None:
    assert lake.current_version("nothing") is None
    assert lake.scan_current("nothing") is None
    with pytest.raises(NotFound, match="never been published"):
        lake.current_version("nothing", snapshot=1)
