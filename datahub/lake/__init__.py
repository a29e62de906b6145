"""The lake: layers as Parquet files and immutable published snapshots with an atomic current pointer."""

from datahub.lake.store import Lake, SnapshotManifest, write_parquet

__all__ = ["Lake", "SnapshotManifest", "write_parquet"]
