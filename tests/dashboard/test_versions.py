"""Every dataset page shows the contract version in force and any pending one; stewards approve or
reject breaking versions on the dashboard (issue 17, "Versions take effect by rule").

A city of its own, without deliveries (versions need only the contracts): the ``dashboard`` fixture of
conftest.py is replaced here by one with what ``visit`` reads (the server's URL and keys). Each test
registers its breaking 2.0.0 on a dataset of its own, so the tests do not depend on their order."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from datahub.access import Clients
from datahub.api import create_app
from datahub.contracts.registry import effective_of, state_of
from datahub.platform import CATALOG_RECHECK_SECONDS
from datahub.serving.service import Service
from datahub.settings import Settings
from tests.api.conftest import serve

ROOT = Path(__file__).resolve().parents[2]
FUTURE = "2030-06-01T09:00"  # Beijing time, as a steward types it into the form


@dataclass
class Keys:
    keys: dict[str, str]


@dataclass
class VersionCity:
    url: str
    world: Keys
    service: Service

    def breaking(self, dataset: str) -> str:
        """Register the dataset's contract as 2.0.0 without its last column (breaking): the contract id."""
        doc = yaml.safe_load((ROOT / "contracts" / f"{dataset}.odcs.yaml").read_text(encoding="utf-8"))
        doc["version"] = "2.0.0"
        del doc["schema"][0]["properties"][-1]
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        registration = self.service.platform.registry.register(text, source=f"{dataset}-2.0.0.yaml")
        assert (registration.status, registration.state) == ("registered", "pending")
        return registration.contract_id

    def version(self, contract_id: str, version: str = "2.0.0") -> Any:
        return self.service.platform.registry.get(contract_id, version)


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VersionCity]:
    settings = Settings(home=tmp_path_factory.mktemp("versions") / "var", demo_mode=True)
    with serve(create_app(settings)) as server:
        service: Service = server.app.state.service
        clients: Clients = server.app.state.clients
        keys = {"steward": clients.create("数据管理员", "steward").api_key}
        for department in ("OC", "PS", "EM", "UM"):
            keys[f"dept_{department.lower()}"] = clients.create(
                f"部门 {department}", "department", department
            ).api_key
        assert "hotline_12345" in service.platform.catalog.names  # contracts/ seeded the registry
        yield VersionCity(server.url, Keys(keys), service)


# ------------------------------------------------------------------------------------ over HTTP


def _sign_in(city: VersionCity, who: str) -> tuple[httpx.Client, str]:
    """A browser signed in as ``who``: the client (its cookie jar holds the session) and its CSRF token."""
    http = httpx.Client(base_url=city.url, timeout=30)
    form = http.get("/dashboard/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    signed = http.post(
        "/dashboard/login", data={"login_token": token.group(1), "api_key": city.world.keys[who]}
    )
    assert signed.status_code == 303, signed.text[:500]
    page = http.get("/dashboard/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, page.text[:500]
    return http, csrf.group(1)


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", found.group(1)).strip()


def _states(html: str) -> dict[str, str]:
    """Each version's state badge on the page."""
    return dict(
        re.findall(r'data-version="([^"]+)">版本 [^<]*<span class="badge[^"]*version-state">([^<]+)<', html)
    )


def test_the_page_shows_the_version_in_force_and_the_pending_one(dashboard: VersionCity) -> None:
    dashboard.breaking("citymgmt_cases")
    steward, _ = _sign_in(dashboard, "steward")
    page = steward.get("/dashboard/datasets/citymgmt_cases")
    assert page.status_code == 200
    assert _text(page.text, "in-force-version") == "生效版本 1.0.0"
    assert _text(page.text, "pending-version") == "待生效版本 2.0.0 · 待审批"
    assert _states(page.text) == {"2.0.0": "待审批", "1.0.0": "生效中"}
    assert "含破坏性变更，等待数据管理员审批" in page.text
    assert "首个登记版本，登记即生效" in page.text
    assert 'action="/dashboard/datasets/citymgmt_cases/versions/2.0.0/approve"' in page.text
    assert 'action="/dashboard/datasets/citymgmt_cases/versions/2.0.0/reject"' in page.text
    assert 'name="effective_at"' in page.text

    # The owner department sees the same versions, and no form to decide.
    owner, _ = _sign_in(dashboard, "dept_um")
    page = owner.get("/dashboard/datasets/citymgmt_cases")
    assert page.status_code == 200
    assert _text(page.text, "pending-version") == "待生效版本 2.0.0 · 待审批"
    assert _states(page.text) == {"2.0.0": "待审批", "1.0.0": "生效中"}
    assert "/versions/2.0.0/approve" not in page.text and "/versions/2.0.0/reject" not in page.text
    # A dataset with nothing to come shows only the version in force.
    page = steward.get("/dashboard/datasets/population_grid")
    assert _text(page.text, "in-force-version") == "生效版本 1.0.0"
    assert 'id="pending-version"' not in page.text


def test_a_steward_approves_and_the_catalog_runs_the_new_version(dashboard: VersionCity) -> None:
    contract_id = dashboard.breaking("gov_app_reports")
    path = "/dashboard/datasets/gov_app_reports/versions/2.0.0/approve"

    department, csrf = _sign_in(dashboard, "dept_oc")  # the owner, not a steward
    refused = department.post(path, data={"csrf": csrf, "effective_at": ""})
    assert refused.status_code == 403 and "只有数据管理员" in refused.text
    steward, csrf = _sign_in(dashboard, "steward")
    no_token = steward.post(path, data={"effective_at": ""})
    assert no_token.status_code == 400 and "表单已失效" in no_token.text
    past = steward.post(path, data={"csrf": csrf, "effective_at": "2020-01-01T08:00"})
    assert past.status_code == 422 and "已经过去" in past.text
    assert state_of(dashboard.version(contract_id)) == "pending"
    assert dashboard.service.platform.catalog.get("gov_app_reports").version == "1.0.0"

    approved = steward.post(path, data={"csrf": csrf, "effective_at": "", "note": "已通知使用方"})
    assert approved.status_code == 303
    assert approved.headers["location"].startswith("/dashboard/datasets/gov_app_reports?done=approved")
    row = dashboard.version(contract_id)
    assert (state_of(row), row.decided_by, row.decision_note) == ("approved", "数据管理员", "已通知使用方")
    # forget_catalog: what runs is the new version from the next read on.
    assert dashboard.service.platform.catalog.get("gov_app_reports").version == "2.0.0"
    page = steward.get(approved.headers["location"])
    assert _text(page.text, "in-force-version") == "生效版本 2.0.0"
    assert 'id="pending-version"' not in page.text
    assert _text(page.text, "version-notice") == "已批准契约版本 2.0.0，已生效，并已写入审计日志。"
    assert _states(page.text) == {"2.0.0": "生效中", "1.0.0": "已被取代"}
    assert "数据管理员 于" in page.text and "批准：已通知使用方" in page.text
    [record] = [
        r
        for r in dashboard.service.audit_records(action="contract.approve")
        if r["detail"]["contract_id"] == contract_id
    ]
    assert record["client_name"] == "数据管理员" and record["detail"]["channel"] == "dashboard"
    again = steward.post(path, data={"csrf": csrf, "effective_at": ""})
    assert again.status_code == 409 and "已不在待审批状态" in again.text


def test_a_steward_rejects_with_a_reason(dashboard: VersionCity) -> None:
    contract_id = dashboard.breaking("police_110_transfers")
    path = "/dashboard/datasets/police_110_transfers/versions/2.0.0/reject"
    owner, csrf = _sign_in(dashboard, "dept_ps")
    assert owner.post(path, data={"csrf": csrf, "reason": "不要"}).status_code == 403
    steward, csrf = _sign_in(dashboard, "steward")
    empty = steward.post(path, data={"csrf": csrf, "reason": "  "})
    assert empty.status_code == 422 and "须填写理由" in empty.text
    assert state_of(dashboard.version(contract_id)) == "pending"

    rejected = steward.post(path, data={"csrf": csrf, "reason": "删除字段前须先征求使用方意见"})
    assert rejected.status_code == 303
    row = dashboard.version(contract_id)
    assert (state_of(row), row.decision_note, effective_of(row)) == (
        "rejected",
        "删除字段前须先征求使用方意见",
        None,
    )
    assert dashboard.service.platform.catalog.get("police_110_transfers").version == "1.0.0"
    page = owner.get("/dashboard/datasets/police_110_transfers")
    assert _states(page.text) == {"2.0.0": "已拒绝", "1.0.0": "生效中"}
    assert "拒绝：删除字段前须先征求使用方意见" in page.text
    assert 'id="pending-version"' not in page.text
    assert any(
        r["detail"]["contract_id"] == contract_id
        for r in dashboard.service.audit_records(action="contract.reject")
    )


def test_notices_reach_the_overview_and_the_sharing_page(dashboard: VersionCity) -> None:
    contract_id = dashboard.breaking("emergency_resources")
    time.sleep(CATALOG_RECHECK_SECONDS)  # the service reads versions to come at most once a second
    row = f'data-contract="{contract_id}"'
    for who in ("steward", "dept_em"):
        http, _ = _sign_in(dashboard, who)
        for path in ("/dashboard/", "/dashboard/sharing"):
            page = http.get(path)
            assert page.status_code == 200 and 'id="contract-notices"' in page.text, (who, path)
            notice = page.text[page.text.index(row) :].split("</tr>")[0]
            assert "1.0.0 → <strong>2.0.0</strong>" in notice
            assert "待审批" in notice and "含破坏性变更" in notice
            assert "<td>应急物资可用量</td>" in notice  # the view built from it
    other, _ = _sign_in(dashboard, "dept_ps")  # neither its contract nor a grant of its
    assert row not in other.get("/dashboard/").text


# --------------------------------------------------------------------------------- in a browser


def test_a_steward_approves_a_breaking_version_with_a_date(dashboard: VersionCity, visit: Any) -> None:
    contract_id = dashboard.breaking("hotline_12345")
    v = visit("steward")
    assert v.open("/dashboard/datasets/hotline_12345", shot="pending").status == 200
    assert v.text("#in-force-version") == "生效版本 1.0.0"
    assert v.text("#pending-version") == "待生效版本 2.0.0 · 待审批"
    version = v.page.locator("h3.version[data-version='2.0.0'] .version-state")
    assert version.inner_text() == "待审批"

    forms = v.page.locator(".version-forms[data-version='2.0.0']")
    forms.locator("input[name=effective_at]").fill(FUTURE)
    forms.locator("form.approve-version input[name=note]").fill("6月1日起按新版本交付")
    forms.locator("form.approve-version button").click()
    v.page.wait_for_url("**/dashboard/datasets/hotline_12345?done=approved*")
    v.screenshot("approved")
    assert v.text("#pending-version") == "待生效版本 2.0.0 · 将于 2030-06-01 09:00 生效（北京时间）"
    assert version.inner_text() == "已批准·将于 2030-06-01 09:00 生效"
    assert v.text("#in-force-version") == "生效版本 1.0.0"
    assert "将于 2030-06-01 09:00（北京时间）生效" in v.text("#version-notice")
    assert "数据管理员 于" in v.text(".version-decision[data-version='2.0.0']")
    assert v.page.locator(".version-forms").count() == 0
    row = dashboard.version(contract_id)
    assert str(effective_of(row)) == "2030-06-01 01:00:00"  # kept in UTC
    assert dashboard.service.platform.catalog.get("hotline_12345").version == "1.0.0"
