"""Stable reason codes for quarantined rows and delivery findings."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a row was quarantined (规范性 conformity failures found while conforming a delivery)."""

    missing_required = "missing_required"  # a required value is empty
    invalid_type = "invalid_type"  # not a number, date, time or boolean
    invalid_format = "invalid_format"  # fails the element's pattern or check character
    out_of_range = "out_of_range"  # outside the element's minimum/maximum or length
    unknown_code = "unknown_code"  # not a code (or name) of the element's code table
    unmapped_code = "unmapped_code"  # a department's local code with no crosswalk entry
    duplicate_key = "duplicate_key"  # the primary key occurred earlier in the delivery or is published


class FindingKind(StrEnum):
    """Problems of a delivery that do not quarantine rows."""

    stale_delivery = "stale_delivery"  # newest data older than the contract's latency allows
    stuck_value = "stuck_value"  # a device repeating one value for longer than the contract allows
