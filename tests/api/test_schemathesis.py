"""Schemathesis against the OpenAPI document on a real server over a small published city: whatever it
generates, valid or not, no route answers with a server error, and answers match their schemas."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.api.test_openapi import API_ROUTES
from tests.api.world import World, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("schemathesis")) as built:
        yield built


def _run(world: World, who: str) -> int:
    """Every operation of the document with Hypothesis-generated requests; the number of operations."""
    schema = schemathesis.openapi.from_url(f"{world.server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def generated(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=world.server.url,
                headers=world.headers(who),
                checks=[not_a_server_error, response_schema_conformance],
            )

        generated()
    return len(operations)


# (schemathesis.pytest.from_fixture does not work with pytest 9: the operations are walked here instead.)
@pytest.mark.parametrize("who", ["steward", "consumer"])
def test_no_server_error(world: World, who: str) -> None:
    assert _run(world, who) == len(API_ROUTES)  # every route of the document was walked
