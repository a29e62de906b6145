"""Configuration and results of the synthetic department-data generator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

# Every kind of injected problem and the reason code the pipeline is expected to report for it.
# ``messy_valid`` rows are awkward but correct input that must be accepted (no reason expected).
DEFECT_REASONS: dict[str, str] = {
    "missing_required": "missing_required",
    "malformed_phone": "invalid_format",
    "malformed_id": "invalid_format",
    "malformed_date": "invalid_type",
    "out_of_range": "out_of_range",
    "unmapped_code": "unmapped_code",
    "unknown_code": "unknown_code",
    "duplicate_key": "duplicate_key",
    "stuck_sensor": "stuck_value",
    "stale_delivery": "stale_delivery",
    "dangling_reference": "missing_reference",
    "messy_valid": "",
}

GROUND_TRUTH_COLUMNS = ("dataset", "file", "row_number", "key", "defect", "column", "expected_reason")
EVENT_LINK_COLUMNS = ("app_report_id", "work_order_id", "app_file", "hotline_file")

# The datasets the generator knows, in generation order.
DATASETS = (
    "hotline_12345",
    "gov_app_reports",
    "citymgmt_cases",
    "police_110_transfers",
    "iot_sensor_readings",
    "emergency_resources",
    "population_grid",
)
WEEKLY = DATASETS[:5]


@dataclass(frozen=True)
class SynthConfig:
    start: dt.date  # first day
    days: int = 30
    rows_per_day: int = 2000  # hotline rows per day; the other event datasets scale from it
    seed: int = 20261001
    defect_rate: float = 0.01  # per defect kind per applicable dataset, fraction of rows
    # Each dataset's rate varies from month to month by up to this fraction of it (0: the same every
    # month), so that quality changes over months as it does in a city: the monthly report's trends.
    defect_drift: float = 0.0

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 1 <= self.rows_per_day <= 999_999:
            raise ValueError("rows_per_day must be between 1 and 999999 (6-digit daily sequence numbers)")
        if not 0 <= self.defect_rate <= 0.1:
            raise ValueError("defect_rate must be between 0 and 0.1")
        if not 0 <= self.defect_drift < 1:
            raise ValueError("defect_drift must be at least 0 and less than 1")

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


@dataclass(frozen=True)
class SynthFile:
    dataset: str
    path: Path
    rows: int
    period_start: dt.date
    period_end: dt.date


@dataclass(frozen=True)
class SynthResult:
    files: list[SynthFile]
    ground_truth: Path
    event_links: Path
    manifest: Path


@dataclass(frozen=True)
class Truth:
    """One row of ground_truth.csv."""

    dataset: str
    file: str
    row_number: int | None
    key: str
    defect: str
    column: str
    expected_reason: str

    def as_row(self) -> list[str]:
        row = "" if self.row_number is None else str(self.row_number)
        return [self.dataset, self.file, row, self.key, self.defect, self.column, self.expected_reason]
