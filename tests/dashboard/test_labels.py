"""Every code the dashboard shows has a Chinese name: contract changes, checks, statuses."""

from __future__ import annotations

from datetime import datetime

from datahub.contracts import Catalog
from datahub.contracts.diff import RULES
from datahub.dashboard import labels
from datahub.metadata import DeliveryStatus, GrantStatus
from datahub.quality.expectations import SuiteContext, build_suite
from datahub.quality.reasons import Reason
from datahub.reports import figures


def _codes(holder: type) -> set[str]:
    return {v for k, v in vars(holder).items() if not k.startswith("_") and isinstance(v, str)}


def test_every_contract_change_reason_status_and_role_has_a_name() -> None:
    assert set(RULES) <= set(labels.CHANGE_KIND_NAMES)
    assert set(Reason) <= set(labels.REASON_NAMES)
    assert _codes(DeliveryStatus) <= set(labels.DELIVERY_STATUS_NAMES)
    assert _codes(GrantStatus) <= set(labels.GRANT_STATUS_NAMES)
    assert labels.label(labels.CHANGE_KIND_NAMES, "no_such_kind") == "no_such_kind"
    assert labels.label(labels.CHANGE_KIND_NAMES, None) == "—"


def test_every_check_of_every_contract_has_a_name(catalog: Catalog) -> None:
    context = SuiteContext(
        rows=0, null_counts={}, received_columns=[], delivered_at=datetime(2000, 1, 1), previous_rows=1
    )
    checks = {rule.check for dataset in catalog for rule in build_suite(dataset, context)}
    # Publication adds two checks of its own to every run (the leak scan and k-anonymity).
    checks |= {"pii_leak_scan", "k_anonymity"}
    assert checks <= set(figures.CHECK_NAMES), checks - set(figures.CHECK_NAMES)
