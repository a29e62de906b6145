"""Fixtures of the lake's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lake.seaweed import SeaweedS3, running_seaweedfs


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the whole session (tests make their own buckets: ``create_bucket``)."""
    with running_seaweedfs() as server:
        yield server
