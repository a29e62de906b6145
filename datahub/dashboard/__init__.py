"""The steward dashboard (数据治理看板): Chinese pages over quality, the quarantine, sharing and event KPIs,
served by the API application at ``/dashboard`` (docs/dashboard.md)."""

from datahub.dashboard.app import DASHBOARD_PATH, create_dashboard

__all__ = ["DASHBOARD_PATH", "create_dashboard"]
