"""Notices of contract versions to come reach the consumers holding grants on what they change
(issue 17): the dataset itself and the views built from it."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import yaml

from datahub.access import Clients, GrantRequest
from datahub.contracts.registry import Caller, now_utc
from datahub.platform import Platform
from datahub.serving.service import Service

ROOT = Path(__file__).resolve().parents[2]
HOTLINE_ID = "urn:datahub:contract:hotline_12345"


def breaking_hotline() -> str:
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    doc["version"] = "2.0.0"
    del doc["schema"][0]["properties"][-1]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def test_a_consumer_with_a_grant_is_told_and_the_version_takes_effect_on_its_date(platform: Platform) -> None:
    service = Service(platform)
    try:
        clients = Clients(platform.metadata, platform.dictionary)
        steward = clients.authenticate(clients.create("office", "steward").api_key)
        holder = clients.authenticate(clients.create("ops", "consumer").api_key)
        other = clients.authenticate(clients.create("elsewhere", "consumer").api_key)
        owner = clients.authenticate(clients.create("oc", "department", "OC").api_key)
        assert steward and holder and other and owner
        asked = service.grants.request(holder, GrantRequest("events_unified", "城运研判"))
        service.grants.approve(asked["grant_id"], steward)
        assert service.notices(holder) == [] and service.pending_header("events_unified") is None

        platform.registry.register(breaking_hotline(), source="hotline 2.0.0")
        service._upcoming = None  # read the registry now rather than within the second
        told = service.notices(holder)
        assert [(n.contract_id, n.version, n.state) for n in told] == [
            (HOTLINE_ID, "2.0.0", "awaiting_approval")
        ]
        assert {"hotline_12345", "events_unified", "event_kpis_daily"} <= set(told[0].affects)
        assert "resources_available" not in told[0].affects
        assert told[0].changes and all(c["breaking"] for c in told[0].changes)
        assert service.notices(other) == []  # no grant on anything it changes
        assert [n.contract_id for n in service.notices(owner)] == [HOTLINE_ID]  # its own contract
        assert [n.contract_id for n in service.notices(steward)] == [HOTLINE_ID]
        header = service.pending_header("events_unified")
        assert header is not None and header.startswith(
            f"{HOTLINE_ID} 2.0.0 (awaiting approval; in force: 1.0.0)"
        )
        assert service.pending_header("resources_available") is None

        when = now_utc() + timedelta(seconds=2)
        platform.registry.approve(HOTLINE_ID, "2.0.0", caller=Caller("office", "steward"), effective_at=when)
        service._upcoming = None
        assert service.notices(holder)[0].state == "scheduled"
        platform.forget_catalog()
        assert platform.catalog.get("hotline_12345").version == "1.0.0"
        time.sleep(max(0.0, (when - now_utc()).total_seconds()) + 0.2)
        platform.forget_catalog()
        assert platform.catalog.get("hotline_12345").version == "2.0.0"  # on its date, with no action
        assert service.catalog["hotline_12345"].contract.version == "2.0.0"  # the API serves it
        service._upcoming = None
        assert service.notices(holder) == [] and service.pending_header("events_unified") is None
    finally:
        service.close()
        platform.metadata.dispose()
