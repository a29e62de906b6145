"""GET /api/v1/views and /views/{name} say which contract version is in force and which one is to come
(issue 17: every page and command shows the version in force and any pending one)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from datahub.access import Clients
from datahub.platform import CATALOG_RECHECK_SECONDS
from tests.api.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
HOTLINE_ID = "urn:datahub:contract:hotline_12345"


def _breaking_hotline() -> str:
    doc = yaml.safe_load((ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8"))
    doc["version"] = "2.0.0"
    del doc["schema"][0]["properties"][-1]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _views(client: httpx.Client, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    time.sleep(CATALOG_RECHECK_SECONDS)  # the service reads versions to come at most once a second
    listed = client.get("/api/v1/views", headers=headers)
    assert listed.status_code == 200, listed.text
    return {v["name"]: v for v in listed.json()["data"]}


def test_views_carry_the_version_in_force_and_the_one_to_come(
    live_server: LiveServer, client: httpx.Client
) -> None:
    clients: Clients = live_server.app.state.clients
    steward = {"Authorization": f"Bearer {clients.create('data-office', 'steward').api_key}"}
    before = _views(client, steward)
    assert before["hotline_12345"]["contract_version"] == "1.0.0"
    assert before["hotline_12345"]["pending_version"] is None

    registered = client.post(
        "/api/v1/contracts",
        content=_breaking_hotline(),
        headers={**steward, "Content-Type": "application/yaml"},
    )
    assert registered.status_code == 202, registered.text
    waiting = {
        "contract_id": HOTLINE_ID,
        "version": "2.0.0",
        "in_force_version": "1.0.0",
        "state": "awaiting_approval",
        "effective_at": None,
    }
    views = _views(client, steward)
    assert views["hotline_12345"]["contract_version"] == "1.0.0"
    assert views["hotline_12345"]["pending_version"] == waiting
    assert views["events_unified"]["pending_version"] == waiting  # a view built from the hotline
    assert views["population_grid"]["pending_version"] is None
    schema = client.get("/api/v1/views/hotline_12345", headers=steward).json()
    assert (schema["contract_version"], schema["pending_version"]) == ("1.0.0", waiting)

    approved = client.post(
        f"/api/v1/contracts/{HOTLINE_ID}/versions/2.0.0/approve",
        json={"effective_at": "2030-06-01T09:00:00+08:00"},
        headers=steward,
    )
    assert approved.status_code == 200, approved.text
    scheduled = {**waiting, "state": "scheduled", "effective_at": "2030-06-01T01:00:00Z"}
    views = _views(client, steward)
    assert (views["hotline_12345"]["contract_version"], views["hotline_12345"]["pending_version"]) == (
        "1.0.0",
        scheduled,
    )
    assert client.get("/api/v1/views/events_unified", headers=steward).json()["pending_version"] == scheduled
