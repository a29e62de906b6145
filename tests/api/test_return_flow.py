"""回流 over a real server: `datahub grant return-flow` gives a district's platform exactly its district's
rows of each conditional dataset and view, every read audited with the standing grant, until revoked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
import pytest
from typer.testing import CliRunner

from datahub.cli import app as cli
from tests.api.world import World, build_world

API = "/api/v1"
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with build_world(tmp_path_factory.mktemp("return_flow")) as built:
        yield built


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=world.server.url, timeout=60) as client:
        yield client


@pytest.fixture
def console(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the world's home, beside its running server."""
    monkeypatch.setenv("DATAHUB_HOME", str(world.platform.settings.var))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")


def _walk(http: httpx.Client, key: str, view: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        response = http.get(f"{API}/views/{view}/rows", headers={"X-API-Key": key}, params=params)
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return rows


def _published(world: World, view: str) -> pl.DataFrame:
    frame = world.platform.lake.scan_current(view)
    assert frame is not None
    return frame.collect()


@pytest.mark.usefixtures("console")
def test_a_district_platform_reads_exactly_its_districts_rows(world: World, http: httpx.Client) -> None:
    hotline = _published(world, "hotline_12345")
    district = hotline["district_code"].drop_nulls().mode().sort()[0]
    refused = runner.invoke(cli, ["grant", "return-flow", "--district", "440305"])
    assert refused.exit_code == 2 and "dictionary/code_tables/districts.csv" in refused.output
    made = runner.invoke(cli, ["grant", "return-flow", "--district", district, "--json"])
    assert made.exit_code == 0, made.output
    standing = json.loads(made.stdout)
    key, standing_id = standing["api_key"], standing["standing_grant_id"]
    again = json.loads(runner.invoke(cli, ["grant", "return-flow", "--district", district, "--json"]).stdout)
    assert again["standing_grant_id"] == standing_id and "api_key" not in again  # reused, no new key

    for view, key_column in (("hotline_12345", "work_order_id"), ("events_unified", "event_id")):
        published = _published(world, view)
        expected = published.filter(pl.col("district_code") == district)[key_column].to_list()
        read = _walk(http, key, view)
        assert (
            sorted(r[key_column] for r in read) == sorted(expected) and 0 < len(expected) < published.height
        )
        assert {r["district_code"] for r in read} == {district}
    schema = http.get(f"{API}/views/hotline_12345", headers={"X-API-Key": key}).json()
    assert (
        schema["standing_grants"] == [standing_id]
        and schema["row_filter"] == f"(district_code = '{district}')"
    )
    assert {c["name"]: c["masking"] for c in schema["columns"]}["caller_phone"] == "pseudonym"
    # 不予共享 stays closed though it carries a district; 无条件共享 is read whole, as by anyone.
    police = http.get(f"{API}/views/police_110_transfers/rows", headers={"X-API-Key": key})
    assert police.status_code == 403
    assert len(_walk(http, key, "event_kpis_daily")) == _published(world, "event_kpis_daily").height
    listing = {v["name"]: v for v in http.get(f"{API}/views", headers={"X-API-Key": key}).json()["data"]}
    assert (
        listing["hotline_12345"]["access"] == "granted" and listing["gov_app_reports"]["access"] == "granted"
    )
    assert "police_110_transfers" not in listing  # not listed: nobody outside its owner may request it

    records = http.get(
        f"{API}/audit",
        headers=world.headers("steward"),
        params={"client_id": standing["client_id"], "view": "events_unified"},
    ).json()["data"]
    assert records and all(r["detail"]["standing_grants"] == [standing_id] for r in records)
    assert records[0]["purpose"] == standing["purpose"]

    listed = json.loads(runner.invoke(cli, ["grant", "list", "--standing", "--json"]).stdout)
    assert [(s["standing_grant_id"], s["area_code"], s["active"]) for s in listed] == [
        (standing_id, district, True)
    ]
    shown = runner.invoke(cli, ["grant", "list"])
    assert shown.exit_code == 0 and "回流" in shown.output
    assert runner.invoke(cli, ["grant", "revoke-standing", str(standing_id)]).exit_code == 0
    after = http.get(f"{API}/views/hotline_12345/rows", headers={"X-API-Key": key})
    assert after.status_code == 403  # revocation counts on the very next request
    assert runner.invoke(cli, ["grant", "revoke-standing", str(standing_id)]).exit_code == 2
    actions = [r["action"] for r in json.loads(runner.invoke(cli, ["audit", "list", "--json"]).stdout)]
    assert {"grant.return_flow", "grant.return_flow.revoke"} <= set(actions)
