"""Build and publish the views from the current published snapshots (the only I/O of the package).

Each view is published like a dataset: a snapshot of its table in the lake's ``views`` namespace
(``Lake.publish`` in replace mode) and a current ``Snapshot`` row in the metadata database. The build is
named by a hash of the source versions and the view contracts' versions, so building again from the
same sources publishes nothing new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
from sqlalchemy import update

from datahub.contracts import Dataset, load_contract
from datahub.dictionary import Dictionary
from datahub.errors import ContractError
from datahub.lake import PublishedVersion
from datahub.lake.namespaces import VIEWS as VIEW_TABLES
from datahub.metadata import Snapshot
from datahub.platform import Platform
from datahub.views.codes import ViewCodes
from datahub.views.events import events_unified
from datahub.views.kpis import event_kpis_daily
from datahub.views.resources import resources_available
from datahub.views.schemas import SOURCE_SCHEMAS, VIEWS, conform
from datahub.views.sensors import sensor_alerts

VIEW_CONTRACTS_DIR = "views"
BUILD_LOGIC = "1"
"""Bumped when a view's rules change, so the same sources give a new build."""


def load_view_contracts(directory: Path, dictionary: Dictionary) -> dict[str, Dataset]:
    """The view contracts (``*.odcs.yaml``) of a directory, by view name."""
    views: dict[str, Dataset] = {}
    for path in sorted(Path(directory).glob("*.odcs.yaml")):
        for dataset in load_contract(path, dictionary):
            if dataset.name in views:
                raise ContractError(f"view declared twice: {dataset.name}", file=str(path))
            views[dataset.name] = dataset
    return views


def view_contracts(platform: Platform) -> dict[str, Dataset]:
    """The contracts of the views, ``contracts/views/*.odcs.yaml`` (``Catalog`` does not read them)."""
    return load_view_contracts(platform.settings.contracts_path / VIEW_CONTRACTS_DIR, platform.dictionary)


def read_sources(platform: Platform) -> dict[str, pl.DataFrame]:
    """The current snapshot of every source dataset, as the views read it (empty when unpublished)."""
    return {
        name: conform(platform.lake.scan_current(name), schema) for name, schema in SOURCE_SCHEMAS.items()
    }


def build_frames(
    sources: dict[str, pl.DataFrame], dictionary: Dictionary | ViewCodes
) -> dict[str, pl.DataFrame]:
    """Every view from the source frames (no I/O): sensor_alerts, events_unified, event_kpis_daily,
    resources_available."""
    codes = dictionary if isinstance(dictionary, ViewCodes) else ViewCodes.of(dictionary)
    alerts = sensor_alerts(sources.get("iot_sensor_readings"), codes)
    events = events_unified({**sources, "sensor_alerts": alerts}, codes)
    return {
        "sensor_alerts": alerts,
        "events_unified": events,
        "event_kpis_daily": event_kpis_daily(events, codes),
        "resources_available": resources_available(sources.get("emergency_resources"), codes),
    }


def _build_id(platform: Platform, contracts: dict[str, Dataset]) -> str:
    versions: dict[str, str | None] = {}
    for name in SOURCE_SCHEMAS:
        version = platform.lake.current_version(name)
        versions[name] = version.version if version else None
    state = {
        "sources": versions,
        "contracts": {name: contracts[name].version for name in sorted(contracts)},
        "logic": BUILD_LOGIC,
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


def _record(platform: Platform, version: PublishedVersion) -> None:
    """The view's new version as its one current ``Snapshot`` (as the pipeline records a dataset's)."""
    with platform.metadata.session() as s:
        s.execute(update(Snapshot).where(Snapshot.dataset == version.dataset).values(is_current=False))
        Snapshot.record(s, version, None).is_current = True


def build_views(platform: Platform) -> dict[str, PublishedVersion]:
    """Read the current snapshots, build the four views and publish each (unless this very build is
    already current); the current manifest of every view."""
    contracts = view_contracts(platform)
    missing = [name for name in VIEWS if name not in contracts]
    if missing:
        raise ContractError(f"no contract for view(s) {', '.join(missing)}", file=str(VIEW_CONTRACTS_DIR))
    build_id = _build_id(platform, contracts)
    current = {name: platform.lake.current_version(name) for name in VIEWS}
    if all(m is not None and m.delivery_id == build_id for m in current.values()):
        return {name: m for name, m in current.items() if m is not None}
    frames = build_frames(read_sources(platform), platform.dictionary)
    out: dict[str, PublishedVersion] = {}
    for name in VIEWS:
        existing = current[name]
        if existing is not None and existing.delivery_id == build_id:
            out[name] = existing
            continue
        version = platform.lake.publish(
            contracts[name], build_id, frames[name], append=False, namespace=VIEW_TABLES
        )
        _record(platform, version)
        out[name] = version
    return out
