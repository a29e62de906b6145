"""One small two-month city per test session (tests/reports/world.py)."""

from __future__ import annotations

import pytest

from tests.reports.world import ReportWorld, build_report_world


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> ReportWorld:
    built = build_report_world(tmp_path_factory.mktemp("report_world"))
    yield built
    built.platform.metadata.dispose()
