"""Onboarding with nothing copied and nothing restarted (issue 17): a department registers a contract
over HTTP with a server already running; `datahub ingest` (its own process) runs the new dataset's
pipeline on real data nobody here wrote (Boston 311); the running server serves it; a breaking version
then waits for approval while the consumer is told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from datahub.access import Clients
from datahub.platform import Platform
from datahub.settings import Settings
from tests.api import server_process
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
BOSTON = SHARED_DATA / "service_requests" / "boston311" / "boston311-100.csv"
NAME = "boston311_pilot"
CONTRACT_ID = f"urn:datahub:contract:{NAME}"


def contract(version: str = "1.0.0", drop_last: bool = False) -> str:
    """The Boston 311 contract as a new department dataset of its own."""
    doc = yaml.safe_load((ROOT / "contracts" / "boston311_requests.odcs.yaml").read_text(encoding="utf-8"))
    doc["id"], doc["version"] = CONTRACT_ID, version
    doc["schema"][0]["name"] = NAME
    if drop_last:
        dropped = doc["schema"][0]["properties"].pop()
        ignored = next(c for c in doc["schema"][0]["customProperties"] if c["property"] == "ignoredColumns")
        ignored["value"].append(dropped["physicalName"] if "physicalName" in dropped else dropped["name"])
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "datahub.cli", *args],
        env=clean | {"DATAHUB_HOME": str(home), "DATAHUB_DEMO_MODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )


def eventually(ask: Callable[[], httpx.Response], seconds: float = 10) -> httpx.Response:
    """The registry is read again at most once a second: ask until the answer is a success."""
    deadline = time.monotonic() + seconds
    while True:
        answer = ask()
        if answer.status_code < 400 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


@pytest.mark.skipif(not BOSTON.is_file(), reason="needs the shared Boston 311 sample")
def test_registered_over_http_ingested_by_the_cli_served_by_the_running_server(tmp_path: Path) -> None:
    home = tmp_path / "var"
    platform = Platform(Settings(home=home, demo_mode=True))
    clients = Clients(platform.metadata, platform.dictionary)
    steward = {"Authorization": f"Bearer {clients.create('office', 'steward').api_key}"}
    department = {"Authorization": f"Bearer {clients.create('ex-dept', 'department', 'EX').api_key}"}
    consumer_key = clients.create("district-platform", "consumer").api_key
    consumer = {"Authorization": f"Bearer {consumer_key}"}
    platform.metadata.dispose()

    with server_process.start(home, steward["Authorization"].removeprefix("Bearer ")) as server:
        http = httpx.Client(base_url=server.url, timeout=60)
        assert http.get(f"/api/v1/views/{NAME}", headers=steward).status_code == 404
        unknown = cli(home, "ingest", NAME, str(BOSTON))
        assert unknown.returncode == 2 and "datahub contract register" in unknown.stdout + unknown.stderr

        made = http.post(
            "/api/v1/contracts",
            content=contract().encode(),
            headers={**department, "Content-Type": "application/yaml"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["in_force_version"] == "1.0.0"

        done = cli(home, "ingest", NAME, str(BOSTON), "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        summary = json.loads(done.stdout)
        assert summary["status"] == "published" and summary["reconciled"] is True
        published = summary["rows_published"]
        assert published > 0 and published + summary["rows_quarantined"] == summary["rows_in"]

        listed = eventually(lambda: http.get("/api/v1/views", headers=steward))
        assert NAME in {v["name"] for v in listed.json()["data"]}
        rows = eventually(lambda: http.get(f"/api/v1/views/{NAME}/rows?limit=1000", headers=consumer))
        assert rows.status_code == 200, rows.text  # unconditional: every consumer reads it
        assert rows.json()["count"] == published and len(rows.json()["data"]) == published

        # A breaking 2.0.0 waits: the server keeps serving 1.0.0, and readers are told.
        waiting = http.post(
            "/api/v1/contracts",
            content=contract("2.0.0", drop_last=True).encode(),
            headers={**department, "Content-Type": "application/yaml"},
        )
        assert waiting.status_code == 202 and waiting.json()["state"] == "pending", waiting.text
        forbidden = http.post(
            f"/api/v1/contracts/{CONTRACT_ID}/versions/2.0.0/approve", json={}, headers=department
        )
        assert forbidden.status_code == 403
        time.sleep(1.1)
        read = http.get(f"/api/v1/views/{NAME}/rows?limit=1", headers=consumer)
        assert read.status_code == 200
        assert (
            f"{CONTRACT_ID} 2.0.0 (awaiting approval; in force: 1.0.0)"
            in read.headers["X-Datahub-Pending-Version"]
        )
        notices = http.get("/api/v1/notices", headers=department).json()["data"]
        assert [(n["contract_id"], n["version"], n["state"]) for n in notices] == [
            (CONTRACT_ID, "2.0.0", "awaiting_approval")
        ]
        assert NAME in notices[0]["affects"] and notices[0]["changes"]

        approved = http.post(
            f"/api/v1/contracts/{CONTRACT_ID}/versions/2.0.0/approve",
            json={"effective_at": "2099-01-01T00:00:00", "note": "已通知各使用方"},
            headers=steward,
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["effective_at"].startswith("2098-12-31T16:00:00")  # city midnight, in UTC
        time.sleep(1.1)
        header = http.get(f"/api/v1/views/{NAME}/rows?limit=1", headers=consumer).headers
        assert (
            "2.0.0 (effective 2098-12-31T16:00:00+00:00; in force: 1.0.0)"
            in header["X-Datahub-Pending-Version"]
        )
        listed_versions = http.get(f"/api/v1/contracts/{CONTRACT_ID}", headers=consumer).json()
        assert (listed_versions["in_force_version"], listed_versions["pending_version"]) == ("1.0.0", "2.0.0")
        http.close()
