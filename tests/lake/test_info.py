"""`datahub lake info`: the catalog and tables other engines attach to (datahub.lake.info), checked
against a real SQL catalog in SQLite, and read back with pyiceberg alone and with DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField
from sqlalchemy import make_url
from typer.testing import CliRunner

from datahub.cli import app
from datahub.contracts import Catalog, Dataset, load_contract
from datahub.contracts.model import PartitionField
from datahub.dictionary import Dictionary
from datahub.lake.info import jdbc_uri, lake_info, masked_uri
from datahub.lake.storage import pyiceberg_properties
from datahub.lake.tables import PUBLISHED, RESTRICTED, VIEWS, TableStore
from datahub.settings import Settings
from tests.conftest import ROOT
from tests.lake.seaweed import SeaweedS3
from tests.lake.test_tables import published, restricted

runner = CliRunner()

CATALOG_KEYS = ["type", "name", "uri", "jdbc_uri", "jdbc_user", "warehouse", "s3_endpoint", "s3_region"]
TABLE_KEYS = [
    "table",
    "namespace",
    "name",
    "snapshot_id",
    "committed_at",
    "rows",
    "delivery_id",
    "contract_version",
    "snapshots",
    "partition_spec",
    "location",
    "metadata_location",
]
COMMITTED = {"published.hotline_12345": 5, "restricted.hotline_12345": 3, "views.events_unified": 4}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "var"
    for variable in ("DATAHUB_METADATA_URL", "DATAHUB_LAKE_WAREHOUSE", "DATAHUB_S3_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DATAHUB_HOME", str(home))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    monkeypatch.setenv("COLUMNS", "250")
    return home


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home, demo_mode=True)


@pytest.fixture
def lake(settings: Settings, catalog: Catalog, dictionary: Dictionary) -> Iterator[TableStore]:
    """Two datasets committed: hotline_12345 by month of report time in two deliveries (3 + 2 rows, and
    the first's personal columns in the restricted namespace), and the events_unified view (4 rows)."""
    properties = pyiceberg_properties(settings)
    store = TableStore.for_settings(settings, properties["warehouse"], properties)
    hotline = replace(catalog.get("hotline_12345"), partitioning=(PartitionField("report_time", "month"),))
    view: Dataset = load_contract(ROOT / "contracts" / "views" / "events_unified.odcs.yaml", dictionary)[0]
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(3)), replace=False, contract_version="1.0.0"
    )
    store.commit(
        RESTRICTED, hotline, "d1", restricted(hotline, range(3)), replace=False, contract_version="1.0.0"
    )
    store.commit(
        PUBLISHED, hotline, "d2", published(hotline, range(3, 5)), replace=False, contract_version="1.1.0"
    )
    store.commit(VIEWS, view, "v1", published(view, range(4)), replace=True, contract_version="2.0.0")
    yield store
    store.close()


def test_lake_info_lists_the_catalog_and_every_table(settings: Settings, lake: TableStore) -> None:
    info = lake_info(settings)
    assert info["catalog"] == {
        "type": "sql",
        "name": "datahub",
        "uri": settings.database_url,  # SQLite: no password to mask
        "jdbc_uri": f"jdbc:sqlite:{settings.home / 'metadata.db'}",
        "jdbc_user": None,
        "warehouse": (settings.home / "lake" / "warehouse").as_uri(),
        "s3_endpoint": None,
        "s3_region": None,
    }
    tables = {t["table"]: t for t in info["tables"]}
    assert list(tables) == sorted(COMMITTED)
    assert {name: t["rows"] for name, t in tables.items()} == COMMITTED
    hotline = tables["published.hotline_12345"]
    current = lake.current(PUBLISHED, "hotline_12345")
    assert current is not None
    assert hotline["snapshot_id"] == current.snapshot_id
    assert hotline["committed_at"] == current.committed_at.isoformat()
    assert (hotline["delivery_id"], hotline["contract_version"], hotline["snapshots"]) == ("d2", "1.1.0", 2)
    assert hotline["partition_spec"] == ["month(report_time)"]
    assert hotline["location"] == f"{info['catalog']['warehouse']}/published/hotline_12345"
    assert hotline["metadata_location"].startswith(hotline["location"] + "/metadata/")
    view = tables["views.events_unified"]
    assert (view["delivery_id"], view["contract_version"], view["snapshots"]) == ("v1", "2.0.0", 1)
    assert view["partition_spec"] == ["month(report_time)"]  # as its contract declares


def test_a_table_without_a_snapshot_has_no_rows(settings: Settings) -> None:
    store = TableStore.for_settings(settings)
    store.catalog.create_table((PUBLISHED, "empty"), Schema(NestedField(1, "id", LongType())))
    store.close()
    [table] = lake_info(settings)["tables"]
    assert (table["table"], table["snapshot_id"], table["rows"], table["snapshots"]) == (
        "published.empty",
        None,
        0,
        0,
    )


def test_the_json_keeps_its_keys(home: Path, lake: TableStore) -> None:
    done = runner.invoke(app, ["lake", "info", "--json"])
    assert done.exit_code == 0, done.output
    info = json.loads(done.stdout)
    assert list(info) == ["catalog", "tables"]
    assert list(info["catalog"]) == CATALOG_KEYS
    assert all(list(t) == TABLE_KEYS for t in info["tables"])
    assert {t["table"]: t["rows"] for t in info["tables"]} == COMMITTED


def test_the_text_names_the_catalog_and_every_table(home: Path, lake: TableStore) -> None:
    done = runner.invoke(app, ["lake", "info"])
    assert done.exit_code == 0, done.output
    assert "datahub" in done.output and f"sqlite:///{home / 'metadata.db'}" in done.output
    assert (home / "lake" / "warehouse").as_uri() in done.output
    lines = {line.split("│")[1].strip(): line for line in done.output.splitlines() if line.count("│") > 5}
    for table, rows in COMMITTED.items():
        assert f" {rows} " in lines[table]
    assert "month(report_time)" in lines["published.hotline_12345"]


def test_every_table_reads_with_pyiceberg_alone_and_with_duckdb(home: Path, lake: TableStore) -> None:
    """What `lake info --json` prints is enough for another reader: a fresh SqlCatalog named as it says,
    on its URI and warehouse, reads every table (no datahub code), and DuckDB reads pyiceberg's scan."""
    info = json.loads(runner.invoke(app, ["lake", "info", "--json"]).stdout)
    lake.close()
    attached = SqlCatalog(
        info["catalog"]["name"], uri=info["catalog"]["uri"], warehouse=info["catalog"]["warehouse"]
    )
    try:
        assert sorted(
            f"{ns[0]}.{name}" for ns in attached.list_namespaces() for _, name in attached.list_tables(ns)
        ) == sorted(COMMITTED)
        for listed in info["tables"]:
            table = attached.load_table(listed["table"])
            assert table.current_snapshot().snapshot_id == listed["snapshot_id"]
            assert table.scan().to_arrow().num_rows == listed["rows"] == COMMITTED[listed["table"]]
            connection = table.scan().to_duckdb("t")
            assert connection.execute("select count(*) from t").fetchone() == (listed["rows"],)
    finally:
        attached.close()
    other_name = SqlCatalog(
        "spark_catalog", uri=info["catalog"]["uri"], warehouse=info["catalog"]["warehouse"]
    )
    assert other_name.list_namespaces() == []  # the catalog name is part of every row
    other_name.close()


def test_lake_info_on_a_fresh_home_lists_no_table(home: Path) -> None:
    done = runner.invoke(app, ["lake", "info", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["tables"] == []


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql+psycopg://hub:s3cret@db.city:5432/hub", "postgresql+psycopg://hub:***@db.city:5432/hub"),
        ("postgresql+psycopg://hub:p%40ss%3Aword@db/hub", "postgresql+psycopg://hub:***@db/hub"),
        (
            "postgresql://hub@db/hub?password=s3cret&sslmode=require",
            "postgresql://hub@db/hub?password=***&sslmode=require",
        ),
        ("postgresql+psycopg://hub@db/hub", "postgresql+psycopg://hub@db/hub"),  # no password: as it is
        ("sqlite:////srv/datahub/metadata.db", "sqlite:////srv/datahub/metadata.db"),
    ],
)
def test_a_password_in_the_uri_is_masked(uri: str, shown: str) -> None:
    assert masked_uri(uri) == shown
    assert "s3cret" not in masked_uri(uri) and "ss%3Aword" not in masked_uri(uri)


@pytest.mark.parametrize(
    ("uri", "jdbc"),
    [
        ("postgresql+psycopg://hub:s3cret@db.city:5432/hub", "jdbc:postgresql://db.city:5432/hub"),
        ("postgresql://hub@db/hub", "jdbc:postgresql://db/hub"),
        ("sqlite:////srv/datahub/metadata.db", "jdbc:sqlite:/srv/datahub/metadata.db"),
    ],
)
def test_the_jdbc_uri_names_the_same_database_without_credentials(uri: str, jdbc: str) -> None:
    assert jdbc_uri(make_url(uri)) == jdbc


def test_the_cli_masks_a_postgres_password(
    home: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: str, catalog: Catalog
) -> None:
    """On Postgres (the scale-out database) the printed URI hides the password; the tables are listed."""
    with_password = postgres_database.replace("postgres@", "postgres:s3cret@")  # trust auth ignores it
    monkeypatch.setenv("DATAHUB_METADATA_URL", with_password)
    store = TableStore.for_settings(Settings())
    hotline = catalog.get("hotline_12345")
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(3)), replace=False, contract_version="1.0.0"
    )
    store.close()
    done = runner.invoke(app, ["lake", "info", "--json"])
    assert done.exit_code == 0, done.output
    assert "s3cret" not in done.stdout
    info = json.loads(done.stdout)
    assert info["catalog"]["uri"] == masked_uri(with_password) and ":***@" in info["catalog"]["uri"]
    url = make_url(postgres_database)
    assert info["catalog"]["jdbc_uri"] == f"jdbc:postgresql://localhost:{url.query['port']}/{url.database}"
    assert info["catalog"]["jdbc_user"] == "postgres"
    assert [(t["table"], t["rows"]) for t in info["tables"]] == [("published.hotline_12345", 3)]


def test_on_object_storage_the_endpoint_is_shown_never_a_key(
    home: Path, monkeypatch: pytest.MonkeyPatch, seaweedfs: SeaweedS3, catalog: Catalog
) -> None:
    """A warehouse on S3 (a real SeaweedFS server): the catalog names the endpoint and region, no key is
    printed, and pyiceberg alone reads the table with the printed warehouse and its own keys."""
    bucket = seaweedfs.create_bucket()
    for variable, value in seaweedfs.environment(f"s3://{bucket}/lake/warehouse").items():
        monkeypatch.setenv(variable, value)
    settings = Settings()
    properties = pyiceberg_properties(settings)
    store = TableStore.for_settings(settings, properties["warehouse"], properties)
    hotline = catalog.get("hotline_12345")
    store.commit(
        PUBLISHED, hotline, "d1", published(hotline, range(6)), replace=False, contract_version="1.0.0"
    )
    store.close()
    done = runner.invoke(app, ["lake", "info", "--json"])
    assert done.exit_code == 0, done.output
    assert seaweedfs.access_key not in done.stdout and seaweedfs.secret_key not in done.stdout
    info = json.loads(done.stdout)
    assert info["catalog"]["warehouse"] == f"s3://{bucket}/lake/warehouse"
    assert (info["catalog"]["s3_endpoint"], info["catalog"]["s3_region"]) == (
        seaweedfs.endpoint_url,
        seaweedfs.region,
    )
    [table] = info["tables"]
    assert table["location"] == f"s3://{bucket}/lake/warehouse/published/hotline_12345"
    text = runner.invoke(app, ["lake", "info"]).stdout
    assert seaweedfs.endpoint_url in text and seaweedfs.secret_key not in text
    s3 = {
        "s3.endpoint": seaweedfs.endpoint_url,
        "s3.access-key-id": seaweedfs.access_key,
        "s3.secret-access-key": seaweedfs.secret_key,
        "s3.region": seaweedfs.region,
        "s3.force-virtual-addressing": "false",
    }
    attached = SqlCatalog("datahub", uri=info["catalog"]["uri"], warehouse=info["catalog"]["warehouse"], **s3)
    assert attached.load_table(table["table"]).scan().to_arrow().num_rows == table["rows"] == 6
    attached.close()


def test_after_the_pipeline_every_dataset_and_view_is_a_table_with_the_rows_status_shows(
    home: Path, tmp_path: Path
) -> None:
    from datahub import pipeline
    from datahub.platform import Platform
    from datahub.status import dataset_status
    from datahub.views import build_views
    from datahub.views.schemas import VIEWS as VIEW_NAMES
    from tests.hotline_rows import valid_row, write_hotline

    platform = Platform(Settings())
    hotline = platform.catalog.get("hotline_12345")
    for first in (1, 31):
        rows = [valid_row(platform.dictionary, i) for i in range(first, first + 30)]
        file = write_hotline(tmp_path / "in" / f"h{first}.csv", rows, hotline)
        assert pipeline.ingest_file(platform, hotline.name, file).status == "published"
    build_views(platform)
    result = runner.invoke(app, ["lake", "info", "--json"])
    assert result.exit_code == 0, result.output
    tables = {t["table"]: t for t in json.loads(result.output)["tables"]}
    shown = {s.dataset: s for s in dataset_status(platform) if s.current_version is not None}
    assert set(shown) == {"hotline_12345"}
    for name, status in shown.items():
        assert tables[f"published.{name}"]["rows"] == status.rows_current == 60
        assert str(tables[f"published.{name}"]["snapshot_id"]) == status.current_version
    assert tables["restricted.hotline_12345"]["rows"] == 60
    assert {f"views.{v}" for v in VIEW_NAMES} <= set(tables)
    assert tables["views.events_unified"]["rows"] == 60
    # The views' contracts partition their tables by month.
    spec = platform.lake.tables.table("views", "events_unified").spec()
    assert [(f.name, str(f.transform)) for f in spec.fields] == [("report_time_month", "month")]
    platform.metadata.dispose()
