"""Who sees what on the dashboard (docs/dashboard.md, "Who sees what").

=============  ================================================================================
steward/admin  everything: every department, dataset pages, the quarantine, grant decisions, reads
department     its own department: the overview and dataset pages of the datasets it owns, the
               grants on them (read only), its own figures
leader         the city's summaries: overview, event KPIs, the sharing rate; no dataset rows, no
               quarantine, no grant decisions
consumer       nothing: a consuming system reads through the API, not the dashboard
=============  ================================================================================
"""

from __future__ import annotations

from datahub.access import Principal, Role
from datahub.access.grants import DECIDERS
from datahub.access.policy import PRIVILEGED
from datahub.contracts import Dataset

DASHBOARD_ROLES = (Role.steward, Role.admin, Role.department, Role.leader)


def may_use(principal: Principal) -> bool:
    return principal.role in DASHBOARD_ROLES


def sees_everything(principal: Principal) -> bool:
    return principal.role in PRIVILEGED


def department_scope(principal: Principal) -> str | None:
    """The one department a caller's figures are limited to; None for the whole city."""
    return principal.department if principal.role is Role.department else None


def opens_datasets(principal: Principal) -> bool:
    """Dataset pages at all: not leaders, whose view is the summaries."""
    return principal.role in (Role.steward, Role.admin, Role.department)


def may_open_dataset(principal: Principal, dataset: Dataset) -> bool:
    """Dataset pages (rules, failing rows, quarantine): stewards, admins and the owner department."""
    if sees_everything(principal):
        return True
    return principal.role is Role.department and principal.department == dataset.owner_department


def decides_grants(principal: Principal) -> bool:
    return principal.role in DECIDERS


def sees_reads(principal: Principal) -> bool:
    """The audit log's reads (who read what): stewards and admins, as in the API's ``/audit``."""
    return sees_everything(principal)
