"""The lake's storage: the same code on local disk and on a real S3-compatible server (SeaweedFS), the
settings that choose between them, and pyiceberg writing a table to the object storage."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from datahub.errors import ConfigError, StorageUnavailable
from datahub.lake.storage import LakeStorage, lake_storage, pyiceberg_properties
from datahub.settings import Settings
from tests.lake.seaweed import SeaweedS3

ROWS = pa.table({"case_id": ["c1", "c2", "c3"], "district": ["黄浦", "徐汇", None], "n": [1, 2, 3]})


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> LakeStorage:
    """The lake's storage on each backend, chosen only by settings."""
    if request.param == "local":
        return lake_storage(Settings(home=tmp_path / "var"))
    seaweedfs: SeaweedS3 = request.getfixturevalue("seaweedfs")
    bucket = seaweedfs.create_bucket()
    return lake_storage(
        Settings(home=tmp_path / "var", **seaweedfs.settings_values(f"s3://{bucket}/warehouse"))
    )


def test_a_parquet_round_trip_is_the_same_on_each_storage(storage: LakeStorage) -> None:
    storage.check()
    assert storage.list() == [] and storage.list("raw") == []
    storage.write_parquet("raw/hotline_12345/d-1.parquet", ROWS)
    storage.write_parquet("raw/hotline_12345/d-2.parquet", ROWS.slice(0, 1))
    storage.write_parquet("conformed/hotline_12345/d-1.parquet", ROWS.select(["case_id"]))

    assert storage.list("raw") == ["raw/hotline_12345/d-1.parquet", "raw/hotline_12345/d-2.parquet"]
    assert len(storage.list()) == 3
    assert storage.read_parquet("raw/hotline_12345/d-1.parquet").equals(ROWS)
    whole = storage.read_parquet("raw/hotline_12345")  # a prefix reads as one table
    assert whole.num_rows == 4 and whole.schema == ROWS.schema
    assert storage.read_parquet("raw/hotline_12345/d-1.parquet", columns=["n"]).column_names == ["n"]
    assert storage.exists("raw/hotline_12345/d-1.parquet") and not storage.exists("raw/hotline_12345")

    storage.delete("raw/hotline_12345/d-1.parquet")
    assert storage.list("raw") == ["raw/hotline_12345/d-2.parquet"]
    assert not storage.exists("raw/hotline_12345/d-1.parquet")
    storage.delete("raw")  # a prefix: everything under it
    storage.delete("raw")  # nothing there: no error
    assert storage.list() == ["conformed/hotline_12345/d-1.parquet"]
    with pytest.raises(FileNotFoundError):
        storage.read_parquet("raw/hotline_12345/d-1.parquet")


def test_bytes_round_trip_and_keys_stay_inside_the_lake(storage: LakeStorage) -> None:
    storage.write_bytes("quarantine/ds/reasons.json", b'{"missing": 2}')
    storage.write_bytes("quarantine/ds/reasons.json", b'{"missing": 3}')  # replaced whole
    assert json.loads(storage.read_bytes("quarantine/ds/reasons.json")) == {"missing": 3}
    assert storage.uri("quarantine/ds/reasons.json") == f"{storage.location}/quarantine/ds/reasons.json"
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("quarantine/ds/nothing.json")
    for key in ("../escape", "/abs", "raw//x", "raw/./x", ""):
        with pytest.raises(ValueError, match="lake key"):
            storage.write_bytes(key, b"x")


def test_local_storage_is_the_home_lake_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "var")
    storage = lake_storage(settings)
    assert storage.location == str(settings.lake_dir)  # where the working layers are today
    assert storage.warehouse == (settings.lake_dir / "warehouse").as_uri()
    assert pyiceberg_properties(settings) == {"warehouse": storage.warehouse}
    storage.write_parquet("raw/ds/d-1.parquet", ROWS)
    assert [p.name for p in (settings.lake_dir / "raw" / "ds").iterdir()] == ["d-1.parquet"]
    elsewhere = lake_storage(Settings(home=tmp_path / "var", lake_warehouse=f"file://{tmp_path}/w/tables/"))
    assert elsewhere.location == f"{tmp_path}/w" and elsewhere.warehouse == f"file://{tmp_path}/w/tables"


def test_s3_storage_places_the_lake_beside_the_warehouse(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    bucket = seaweedfs.create_bucket()
    settings = Settings(home=tmp_path, **seaweedfs.settings_values(f"s3://{bucket}/city/warehouse/"))
    storage = lake_storage(settings)
    assert (storage.location, storage.warehouse) == (f"s3://{bucket}/city", f"s3://{bucket}/city/warehouse")
    storage.write_bytes("raw/ds/x.bin", b"x")
    assert seaweedfs.filesystem().get_file_info(f"{bucket}/city/raw/ds/x.bin").size == 1
    assert not (tmp_path / "lake").exists()  # nothing on local disk


def test_object_storage_that_cannot_be_used_is_a_clear_error(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    bucket = seaweedfs.create_bucket()
    values = seaweedfs.settings_values(f"s3://{bucket}/warehouse")
    wrong_key = lake_storage(Settings(home=tmp_path, **{**values, "s3_secret_key": "not-the-secret"}))
    with pytest.raises(StorageUnavailable, match=rf"cannot write s3://{bucket}/raw/ds/x.bin: .*signature"):
        wrong_key.write_bytes("raw/ds/x.bin", b"x")
    with pytest.raises(StorageUnavailable, match=rf"cannot look up s3://{bucket}: .*ACCESS_DENIED"):
        wrong_key.check()
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        down = {**values, "s3_endpoint": f"http://127.0.0.1:{closed.getsockname()[1]}"}
    with pytest.raises(StorageUnavailable, match=r"cannot write .*Could not connect to server"):
        lake_storage(Settings(home=tmp_path, **down)).write_bytes("raw/ds/x.bin", b"x")
    no_bucket = lake_storage(Settings(home=tmp_path, **{**values, "lake_warehouse": "s3://no-such-bucket/w"}))
    with pytest.raises(StorageUnavailable, match="the bucket no-such-bucket does not exist"):
        no_bucket.check()
    assert "not-the-secret" not in str(values)


S3 = {"lake_warehouse": "s3://lake/w", "s3_endpoint": "http://127.0.0.1:8333"}
KEYS = {"s3_access_key": "key", "s3_secret_key": "the-secret-value"}
ALL_THREE = "DATAHUB_S3_ENDPOINT, DATAHUB_S3_ACCESS_KEY, DATAHUB_S3_SECRET_KEY"


@pytest.mark.parametrize(
    ("values", "variable", "message"),
    [
        # An s3:// warehouse needs the endpoint and both keys: every missing one is named.
        (
            {"lake_warehouse": "s3://lake/w"},
            ALL_THREE,
            "required when DATAHUB_LAKE_WAREHOUSE is an s3:// URL",
        ),
        (S3 | {"s3_access_key": "key"}, "DATAHUB_S3_SECRET_KEY", "required when"),
        (S3 | KEYS | {"s3_secret_key": ""}, "DATAHUB_S3_SECRET_KEY", "required when"),  # empty is missing
        # Warehouses that are no local path, file:///PATH or s3://BUCKET/PATH.
        ({"lake_warehouse": "s3://lake"}, "DATAHUB_LAKE_WAREHOUSE", "an S3 URL with a bucket and a path"),
        ({"lake_warehouse": "gs://lake/w"}, "DATAHUB_LAKE_WAREHOUSE", "a local path, a file:///PATH URL or"),
        ({"lake_warehouse": "file://host/w"}, "DATAHUB_LAKE_WAREHOUSE", "a local path"),
        # Endpoints that are no http(s) URL of a host.
        ({"s3_endpoint": "127.0.0.1:8333"}, "DATAHUB_S3_ENDPOINT", "an http:// or https:// URL"),
        ({"s3_endpoint": "http://h:port"}, "DATAHUB_S3_ENDPOINT", "an http:// or https:// URL"),
        ({"s3_endpoint": "http://h:1/bucket"}, "DATAHUB_S3_ENDPOINT", "an http:// or https:// URL"),
    ],
)
def test_object_storage_settings_that_cannot_be_used_name_the_variable(
    tmp_path: Path, values: dict[str, str], variable: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Settings(home=tmp_path, **values)
    assert caught.value.path == variable


def test_complete_object_storage_settings_are_taken(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, **S3, **KEYS)
    assert settings.lake_on_s3 and settings.lake_warehouse == "s3://lake/w"
    assert pyiceberg_properties(settings) == {
        "warehouse": "s3://lake/w",
        "s3.endpoint": "http://127.0.0.1:8333",
        "s3.access-key-id": "key",
        "s3.secret-access-key": "the-secret-value",
        "s3.region": "us-east-1",
        "s3.force-virtual-addressing": "false",
        "s3.connect-timeout": "10.0",
        "s3.request-timeout": "120.0",
    }
    assert "the-secret-value" not in repr(settings)


def test_object_storage_settings_come_from_the_environment(
    seaweedfs: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One variable moves the lake; a command started without a key stops with a clear error that never
    repeats the secret."""
    environment = {"DATAHUB_HOME": str(tmp_path), **seaweedfs.environment("s3://b/warehouse")}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    storage = lake_storage(Settings())
    assert (storage.location, storage.warehouse, storage.on_s3) == ("s3://b", "s3://b/warehouse", True)

    del environment["DATAHUB_S3_ACCESS_KEY"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    command = [sys.executable, "-m", "datahub.cli", "status"]
    done = subprocess.run(command, env=clean | environment, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "DATAHUB_S3_ACCESS_KEY: required when DATAHUB_LAKE_WAREHOUSE is an s3:// URL" in done.stderr
    assert "Traceback" not in done.stderr and seaweedfs.secret_key not in done.stdout + done.stderr


def test_pyiceberg_writes_and_reads_a_table_on_seaweedfs(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    bucket = seaweedfs.create_bucket()
    settings = Settings(home=tmp_path, **seaweedfs.settings_values(f"s3://{bucket}/warehouse"))
    catalog = SqlCatalog(
        "smoke", uri=f"sqlite:///{tmp_path / 'catalog.db'}", **pyiceberg_properties(settings)
    )
    catalog.create_namespace("published")
    table = catalog.create_table("published.hotline_12345", schema=ROWS.schema)
    table.append(ROWS)
    table.append(ROWS.slice(0, 1))

    again = SqlCatalog("smoke", uri=f"sqlite:///{tmp_path / 'catalog.db'}", **pyiceberg_properties(settings))
    read = again.load_table("published.hotline_12345").scan().to_arrow()
    assert read.num_rows == 4 and sorted(read.column("case_id").to_pylist()) == ["c1", "c1", "c2", "c3"]
    assert table.metadata_location.startswith(f"s3://{bucket}/warehouse/published/hotline_12345/")
    # The files are on the object storage, where the lake's own storage sees them.
    files = lake_storage(settings).list("warehouse/published/hotline_12345")
    assert any(key.endswith(".parquet") for key in files) and any(
        key.endswith(".metadata.json") for key in files
    )
    assert not (tmp_path / "lake").exists()
