"""The demo's sharing seed: a steward, a consuming system, and a grant request waiting for a decision."""

from __future__ import annotations

from datahub.access import Clients, Role
from datahub.audit import open_audit_log
from datahub.demo import seed_sharing
from datahub.metadata import Grant, GrantStatus
from datahub.platform import Platform


def test_the_demo_leaves_a_consumers_grant_request_for_the_steward(platform: Platform) -> None:
    steward_key, consumer_key = seed_sharing(platform)
    clients = Clients(platform.metadata, platform.dictionary)
    steward, consumer = clients.authenticate(steward_key), clients.authenticate(consumer_key)
    assert steward is not None and steward.role is Role.steward
    assert consumer is not None and consumer.role is Role.consumer
    with platform.metadata.session() as s:
        grants = s.query(Grant).all()
        assert [(g.client_id, g.view, g.status) for g in grants] == [
            (consumer.client_id, "events_unified", GrantStatus.requested)
        ]
        assert grants[0].row_filter == "response_level in ('red', 'yellow')"
    records = open_audit_log(platform).query()
    assert [(r["action"], r["client_id"]) for r in records] == [("grant.request", consumer.client_id)]


def test_the_demo_onboards_a_dataset_over_http_and_leaves_a_breaking_version_pending(
    platform: Platform,
) -> None:
    from datetime import date

    from datahub.demo import ONBOARDED, onboard_over_http

    done = onboard_over_http(platform.settings, date(2026, 11, 2))
    assert done["rows_published"] > 0 and done["rows_served"] == done["rows_published"]
    platform.forget_catalog()
    assert platform.catalog.get(ONBOARDED).version == "1.0.0"
    standing = platform.registry.standing(f"urn:datahub:contract:{ONBOARDED}")
    assert standing.pending is not None and (standing.pending.version, standing.pending.state) == (
        "2.0.0",
        "pending",
    )
