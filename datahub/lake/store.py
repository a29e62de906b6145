"""The lake: Parquet files per layer and immutable published snapshots.

Layout under ``settings.lake_dir``::

    raw/<dataset>/<delivery>.parquet          the delivery as text, with lineage columns
    conformed/<dataset>/<delivery>.parquet    unified names, types and codes (valid rows only)
    quarantine/<dataset>/<delivery>.parquet   rows that failed, raw values plus their reasons
    published/<dataset>/parts/<delivery>.parquet   desensitised rows, never rewritten
    published/<dataset>/versions/<version>.json    a manifest: which parts make up this version
    published/<dataset>/CURRENT                     the current version, switched atomically
    restricted/<dataset>/parts/<delivery>.parquet  the raw values of the personal columns of the
                                                   published rows, by key; read only for a grant
                                                   that names a column and states a legal basis

A published version lists its parts, so an append delivery publishes one new part and a new manifest
without copying earlier data; readers holding an older manifest keep a consistent view.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class SnapshotManifest:
    dataset: str
    version: str
    created_at: str
    contract_version: str
    parts: list[str]
    rows: int
    delivery_id: str | None
    schema: dict[str, str]
    restricted_parts: list[str] = field(default_factory=list)  # under restricted/<dataset>/

    @classmethod
    def read(cls, path: Path) -> SnapshotManifest:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


FAST_STATISTICS = {"min": False, "max": False, "distinct_count": False, "null_count": True}


def write_parquet(frame: pl.DataFrame, path: Path, *, fast: bool = False) -> Path:
    """Write a Parquet file so that no reader ever sees half of it. ``fast``: for working layers a
    later stage reads once, the lightest zstd level and null counts as the only statistics (a third
    faster to write, about the same size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    statistics = FAST_STATISTICS if fast else True
    frame.write_parquet(tmp, compression="zstd", compression_level=1 if fast else None, statistics=statistics)
    os.replace(tmp, path)
    return path


class Lake:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def layer_path(self, layer: str, dataset: str, delivery_id: str) -> Path:
        return self.root / layer / dataset / f"{delivery_id}.parquet"

    def write_layer(self, layer: str, dataset: str, delivery_id: str, frame: pl.DataFrame) -> Path:
        return write_parquet(frame, self.layer_path(layer, dataset, delivery_id))

    def published_dir(self, dataset: str) -> Path:
        return self.root / "published" / dataset

    def restricted_dir(self, dataset: str) -> Path:
        return self.root / "restricted" / dataset

    def current_manifest(self, dataset: str) -> SnapshotManifest | None:
        pointer = self.published_dir(dataset) / "CURRENT"
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        return SnapshotManifest.read(self.published_dir(dataset) / "versions" / f"{version}.json")

    def current_parts(self, dataset: str) -> list[Path]:
        """The Parquet files of the dataset's current snapshot (none before its first publication)."""
        manifest = self.current_manifest(dataset)
        if manifest is None:
            return []
        return [self.published_dir(dataset) / part for part in manifest.parts]

    def scan_current(self, dataset: str) -> pl.LazyFrame | None:
        manifest = self.current_manifest(dataset)
        if manifest is None or not manifest.parts:
            return None
        base = self.published_dir(dataset)
        return pl.scan_parquet([base / part for part in manifest.parts])

    def publish(
        self,
        dataset: str,
        delivery_id: str,
        frame: pl.DataFrame,
        *,
        append: bool,
        contract_version: str,
        restricted: pl.DataFrame | None = None,
    ) -> SnapshotManifest:
        """Write the delivery's part (and its ``restricted`` part: key columns and the raw values of
        personal columns of the same rows), then a manifest naming every part, then switch CURRENT."""
        base = self.published_dir(dataset)
        part = f"parts/{delivery_id}.parquet"
        write_parquet(frame, base / part)
        previous = self.current_manifest(dataset) if append else None
        parts = [*(previous.parts if previous else []), part]
        restricted_parts = list(previous.restricted_parts if previous else [])
        if restricted is not None:
            write_parquet(restricted, self.restricted_dir(dataset) / part)
            restricted_parts.append(part)
        now = datetime.now(UTC)
        manifest = SnapshotManifest(
            dataset=dataset,
            version=f"{now:%Y%m%dT%H%M%S%fZ}-{delivery_id[:8]}",
            created_at=now.isoformat(),
            contract_version=contract_version,
            parts=parts,
            rows=(previous.rows if previous else 0) + frame.height,
            delivery_id=delivery_id,
            schema={name: str(dtype) for name, dtype in frame.schema.items()},
            restricted_parts=restricted_parts,
        )
        body = json.dumps(asdict(manifest), ensure_ascii=False, indent=2).encode("utf-8")
        _atomic_write_bytes(base / "versions" / f"{manifest.version}.json", body)
        _atomic_write_bytes(base / "CURRENT", manifest.version.encode("utf-8"))
        return manifest
