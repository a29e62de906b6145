"""What another engine needs to attach to the lake: the Iceberg catalog and every table in it.

The catalog is pyiceberg's ``SqlCatalog`` over the metadata database, whose two tables are those of
Iceberg's JDBC catalog; an engine attaches with the same database, the same catalog name (``datahub``:
it is stored in every row) and the same warehouse (docs/lake.md, "Attach from other engines").
Nothing here prints a password or an S3 key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url
from sqlalchemy.engine import URL

from datahub.lake.storage import pyiceberg_properties
from datahub.lake.tables import CATALOG_NAME, TableSnapshot, TableStore

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from datahub.settings import Settings

MASK = "***"


def lake_info(settings: Settings) -> dict[str, Any]:
    """The lake's catalog and tables, as ``datahub lake info --json`` prints them::

        {"catalog": {"type", "name", "uri", "jdbc_uri", "jdbc_user", "warehouse", "s3_endpoint",
                     "s3_region"},
         "tables": [{"table", "namespace", "name", "snapshot_id", "committed_at", "rows",
                     "delivery_id", "contract_version", "snapshots", "partition_spec", "location",
                     "metadata_location"}]}

    Tables are sorted by namespace and name; a table without a snapshot has ``snapshot_id`` None and
    ``rows`` 0. The catalog's ``uri`` is the metadata database's URL with its password masked."""
    properties = pyiceberg_properties(settings)
    warehouse = properties["warehouse"]
    store = TableStore.for_settings(settings, warehouse, properties)
    try:
        tables = [_table_info(store.table(ns, name)) for ns, name in store.tables()]
    finally:
        store.close()
    url = make_url(settings.database_url)
    return {
        "catalog": {
            "type": "sql",
            "name": CATALOG_NAME,
            "uri": masked_uri(settings.database_url),
            "jdbc_uri": jdbc_uri(url),
            "jdbc_user": url.username,
            "warehouse": warehouse,
            "s3_endpoint": settings.s3_endpoint if settings.lake_on_s3 else None,
            "s3_region": settings.s3_region if settings.lake_on_s3 else None,
        },
        "tables": tables,
    }


def masked_uri(uri: str) -> str:
    """A database URL fit to print: its password (in the user part or as a ``password`` query
    parameter) replaced by ``***``."""
    url = make_url(uri)
    if any(key.lower() == "password" for key in url.query):
        url = url.update_query_dict(
            {key: MASK for key in url.query if key.lower() == "password"}, append=False
        )
    return url.render_as_string(hide_password=True).replace("%2A%2A%2A", MASK)


def jdbc_uri(url: URL) -> str:
    """The JDBC URL of the same database, for Java engines (user and password are given apart):
    ``jdbc:postgresql://HOST:PORT/DB`` or ``jdbc:sqlite:/PATH``."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"jdbc:sqlite:{url.database or ''}"
    # A database reached over a Unix socket (no host in the URL, libpq's ?host=/PATH) is named by
    # localhost: JDBC connects over TCP.
    host = url.host or "localhost"
    number = url.port or url.query.get("port")
    port = f":{number}" if number else ""
    return f"jdbc:{backend}://{host}{port}/{url.database or ''}"


def _table_info(table: Table) -> dict[str, Any]:
    namespace, name = table.name()[-2:]
    current = table.current_snapshot()
    seen = TableSnapshot.of(current) if current is not None else None
    schema = table.schema()
    return {
        "table": f"{namespace}.{name}",
        "namespace": namespace,
        "name": name,
        "snapshot_id": seen.snapshot_id if seen else None,
        "committed_at": seen.committed_at.isoformat() if seen else None,
        "rows": seen.rows if seen else 0,
        "delivery_id": seen.delivery_id if seen else None,
        "contract_version": seen.contract_version if seen else None,
        "snapshots": len(table.snapshots()),
        "partition_spec": [
            f"{field.transform}({schema.find_column_name(field.source_id)})" for field in table.spec().fields
        ],
        "location": table.location(),
        "metadata_location": table.metadata_location,
    }
