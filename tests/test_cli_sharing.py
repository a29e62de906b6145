"""The sharing commands: clients with keys shown once, grant decisions from the console, the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datahub.access import Clients, GrantRequest, Grants
from datahub.cli import app
from datahub.platform import Platform

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    return tmp_path / "var"


def test_clients_from_the_console(home: Path) -> None:
    made = runner.invoke(app, ["client", "create", "district-platform", "--role", "consumer", "--json"])
    assert made.exit_code == 0, made.output
    body = json.loads(made.stdout)
    assert set(body) == {"client_id", "api_key"} and body["api_key"].startswith("dh_")
    platform = Platform()
    clients = Clients(platform.metadata, platform.dictionary)
    found = clients.authenticate(body["api_key"])
    assert found is not None and found.client_id == body["client_id"]
    again = runner.invoke(app, ["client", "create", "district-platform", "--role", "consumer", "--json"])
    assert again.exit_code == 2 and json.loads(again.stdout)["error"]["code"] == "conflict"
    bad = runner.invoke(app, ["client", "create", "x", "--role", "department"])
    assert bad.exit_code == 2 and "[invalid_input]" in bad.output
    listed = runner.invoke(app, ["client", "list", "--json"])
    assert listed.exit_code == 0 and body["api_key"] not in listed.stdout
    assert [c["name"] for c in json.loads(listed.stdout)] == ["district-platform"]
    assert runner.invoke(app, ["client", "disable", body["client_id"]]).exit_code == 0
    assert Clients(platform.metadata, platform.dictionary).authenticate(body["api_key"]) is None
    platform.metadata.dispose()


def test_grant_decisions_from_the_console_are_audited(home: Path) -> None:
    platform = Platform()
    clients = Clients(platform.metadata, platform.dictionary)
    made = clients.create("ops", "consumer")
    consumer = clients.authenticate(made.api_key)
    assert consumer is not None
    views = {d.name: d for d in platform.catalog}
    grants = Grants(
        platform.metadata, lambda: views, lambda view, text: None, signal=platform.settings.grants_signal
    )
    first = grants.request(consumer, GrantRequest("hotline_12345", "研判"))["grant_id"]
    second = grants.request(consumer, GrantRequest("gov_app_reports", "研判"))["grant_id"]
    assert runner.invoke(app, ["grant", "approve", str(first), "--note", "同意"]).exit_code == 0
    assert runner.invoke(app, ["grant", "refuse", str(second)]).exit_code == 0
    assert runner.invoke(app, ["grant", "approve", str(second)]).exit_code == 2  # decided already
    assert [g.id for g in grants.active(consumer.client_id)] == [first]
    assert runner.invoke(app, ["grant", "revoke", str(first)]).exit_code == 0
    assert grants.active(consumer.client_id) == []
    listed = json.loads(runner.invoke(app, ["grant", "list", "--json"]).stdout)
    assert [(g["grant_id"], g["status"]) for g in listed] == [(second, "refused"), (first, "revoked")]
    audit = json.loads(runner.invoke(app, ["audit", "list", "--json"]).stdout)
    assert [r["action"] for r in audit] == ["grant.revoke", "grant.refuse", "grant.approve"]
    assert audit[0]["client_name"].startswith("console:")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    platform.metadata.dispose()
