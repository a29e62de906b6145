"""The lake: working layers as Parquet files, published datasets and views as Iceberg tables."""

from datahub.lake.store import Lake, PublishedVersion, write_parquet

__all__ = ["Lake", "PublishedVersion", "write_parquet"]
