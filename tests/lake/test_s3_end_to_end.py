"""The platform with its lake on S3-compatible object storage (a real SeaweedFS server): deliveries go
through the pipeline into Iceberg tables in a bucket, the views are built from them, and the sharing API
(a real uvicorn server) reads and exports the current and an earlier snapshot. Same code as on local
disk: only the settings differ."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from pyarrow import fs
from pyiceberg.catalog.sql import SqlCatalog

from datahub import pipeline
from datahub.api import create_app
from datahub.platform import Platform
from datahub.quality.history import quarantined_rows
from datahub.settings import Settings
from datahub.views import build_views
from tests.api.conftest import serve
from tests.hotline_rows import valid_row, write_hotline
from tests.lake.seaweed import SeaweedS3

API = "/api/v1"
DATASET = "hotline_12345"


@pytest.fixture
def on_s3(tmp_path: Path, seaweedfs: SeaweedS3) -> Iterator[tuple[Platform, str]]:
    bucket = seaweedfs.create_bucket()
    settings = Settings(
        home=tmp_path / "var", demo_mode=True, **seaweedfs.settings_values(f"s3://{bucket}/city/warehouse")
    )
    platform = Platform(settings)
    yield platform, bucket
    platform.metadata.dispose()


def _delivery(platform: Platform, path: Path, numbers: range, bad_phone: int | None = None) -> Path:
    rows = [valid_row(platform.dictionary, i) for i in numbers]
    if bad_phone is not None:
        rows[bad_phone] = rows[bad_phone] | {"联系电话": "123"}
    return write_hotline(path, rows, platform.catalog.get(DATASET))


def test_deliveries_to_published_tables_in_a_bucket_then_read_and_exported_through_the_api(
    tmp_path: Path, seaweedfs: SeaweedS3, on_s3: tuple[Platform, str]
) -> None:
    platform, bucket = on_s3
    first = pipeline.ingest_file(
        platform, DATASET, _delivery(platform, tmp_path / "in" / "a.csv", range(1, 21))
    )
    second = pipeline.ingest_file(
        platform, DATASET, _delivery(platform, tmp_path / "in" / "b.csv", range(21, 41))
    )
    assert (first.status, first.rows_published, first.reconciled) == ("published", 20, True)
    assert (second.status, second.rows_published, second.reconciled) == ("published", 20, True)
    views = build_views(platform)
    assert views["events_unified"].rows == 40

    # The tables' files are objects in the bucket; nothing of the warehouse is on local disk.
    objects = seaweedfs.filesystem().get_file_info(
        fs.FileSelector(f"{bucket}/city/warehouse", recursive=True)
    )
    data = [o.path for o in objects if o.path.endswith(".parquet")]
    assert any("/published/hotline_12345/data/" in p for p in data), data
    assert any("/views/events_unified/data/" in p for p in data), data
    assert any("/restricted/hotline_12345/data/" in p for p in data), data
    assert not (platform.settings.lake_dir / "warehouse").exists()

    # Another engine attaches with the catalog database and the bucket's credentials alone.
    outside = SqlCatalog(
        "datahub",
        uri=platform.settings.database_url,
        warehouse=f"s3://{bucket}/city/warehouse",
        **{
            "s3.endpoint": seaweedfs.endpoint_url,
            "s3.access-key-id": seaweedfs.access_key,
            "s3.secret-access-key": seaweedfs.secret_key,
            "s3.region": seaweedfs.region,
        },
    )
    assert outside.load_table(("published", DATASET)).scan().to_arrow().num_rows == 40

    current = platform.lake.current_version(DATASET)
    earlier = platform.lake.version_of(DATASET, first.delivery_id)
    assert current is not None and earlier is not None and earlier.rows == 20
    app = create_app(platform.settings)
    with serve(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        key = app.state.clients.create("steward on s3", "steward").api_key
        auth = {"Authorization": f"Bearer {key}"}
        page = http.get(f"{API}/views/{DATASET}/rows", params={"limit": 1000}, headers=auth)
        assert page.status_code == 200, page.text
        assert page.json()["count"] == 40
        assert page.headers["X-Datahub-Version"] == page.headers["X-Datahub-Snapshot"] == current.version
        # The earlier snapshot, by id and by a time: the first delivery's rows only.
        by_id = http.get(f"{API}/views/{DATASET}/rows", params={"snapshot": earlier.version}, headers=auth)
        assert by_id.status_code == 200, by_id.text
        assert (by_id.json()["count"], by_id.json()["version"]) == (20, earlier.version)
        at = http.get(
            f"{API}/views/{DATASET}/rows", params={"as_of": earlier.created_at.isoformat()}, headers=auth
        )
        assert at.status_code == 200 and at.json()["version"] == earlier.version
        before = http.get(
            f"{API}/views/{DATASET}/rows", params={"as_of": "2000-01-01T00:00:00Z"}, headers=auth
        )
        assert before.status_code == 404 and "had no snapshot" in before.text, before.text
        both = {"as_of": "2026-01-01T00:00:00Z", "snapshot": earlier.version}
        assert http.get(f"{API}/views/{DATASET}/rows", params=both, headers=auth).status_code == 422
        unknown = http.get(f"{API}/views/{DATASET}/rows", params={"snapshot": 1}, headers=auth)
        assert unknown.status_code == 404 and "no snapshot 1" in unknown.text
        exported = http.get(f"{API}/views/{DATASET}/export", params={"format": "parquet"}, headers=auth)
        assert exported.status_code == 200, exported.text
        assert exported.headers["X-Datahub-Snapshot"] == current.version
        assert pq.read_table(io.BytesIO(exported.content)).num_rows == 40
        old_export = http.get(
            f"{API}/views/{DATASET}/export",
            params={"format": "parquet", "snapshot": earlier.version},
            headers=auth,
        )
        assert pq.read_table(io.BytesIO(old_export.content)).num_rows == 20
        assert old_export.headers["X-Datahub-Snapshot"] == earlier.version
        view = http.get(f"{API}/views/events_unified/rows", headers=auth)
        assert view.status_code == 200 and view.json()["count"] == 40


def test_the_working_layers_are_kept_in_the_bucket_and_another_machine_carries_on_from_them(
    tmp_path: Path, seaweedfs: SeaweedS3, on_s3: tuple[Platform, str]
) -> None:
    platform, bucket = on_s3
    file = _delivery(platform, tmp_path / "in" / "a.csv", range(1, 21), bad_phone=4)
    first = pipeline.ingest_file(platform, DATASET, file)
    assert (first.rows_published, first.rows_quarantined, first.reconciled) == (19, 1, True)
    keys = {
        o.path.removeprefix(f"{bucket}/city/")
        for o in seaweedfs.filesystem().get_file_info(fs.FileSelector(f"{bucket}/city", recursive=True))
        if o.type == fs.FileType.File and not o.path.startswith(f"{bucket}/city/warehouse/")
    }
    assert {
        f"{layer}/{DATASET}/{first.delivery_id}.parquet" for layer in ("raw", "conformed", "quarantine")
    } <= keys

    # Another machine: the same catalog database and bucket, none of the first machine's working files.
    for layer in ("raw", "conformed", "quarantine", "refused", "flags"):
        shutil.rmtree(platform.settings.lake_dir / layer, ignore_errors=True)
    other = Platform(platform.settings)
    held = quarantined_rows(other, other.catalog.get(DATASET))
    assert held.height == 1 and held.get_column("_delivery").to_list() == [first.delivery_id]
    # Its next delivery repeats two keys: they are found among the published rows and quarantined.
    second = pipeline.ingest_file(other, DATASET, _delivery(other, tmp_path / "in" / "b.csv", range(19, 31)))
    assert (second.rows_in, second.rows_published, second.rows_quarantined, second.reconciled) == (
        12,
        10,
        2,
        True,
    )
    current = other.lake.current_version(DATASET)
    assert current is not None and current.rows == 29
    other.metadata.dispose()
