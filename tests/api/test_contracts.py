"""The contract routes over a real server: identity, registration and its refusals, reads, diffs, errors.

Each test registers its own copy of the hotline contract under a fresh id, so the tests share one
server without depending on each other's order.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from datahub.access import Clients
from tests.api.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
HOTLINE_ID = "urn:datahub:contract:hotline_12345"
HOTLINE = (ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8")
CONTRACTS = "/api/v1/contracts"
_KEYS: dict[tuple[str, str | None, str | None], str] = {}
_CLIENTS: list[Clients] = []


@pytest.fixture(autouse=True)
def _clients(live_server: LiveServer) -> None:
    _CLIENTS[:] = [live_server.app.state.clients]


def caller(role: str, department: str | None = None, name: str | None = None) -> dict[str, str]:
    """Headers with the API key of a client of ``role`` (made once per role, department and name)."""
    wanted = (role, department, name)
    if wanted not in _KEYS:
        made = _CLIENTS[0].create(
            name or f"{role}-{department or 'x'}-{uuid.uuid4().hex[:6]}", role, department
        )
        _KEYS[wanted] = made.api_key
    return {"Authorization": f"Bearer {_KEYS[wanted]}"}


def steward() -> dict[str, str]:
    return caller("steward", name="data-office")


def hotline(contract_id: str, version: str = "1.0.0", edit: str | None = None) -> str:
    """The hotline contract under another id, at ``version``, with one edit."""
    doc = yaml.safe_load(HOTLINE)
    doc["id"], doc["version"] = contract_id, version
    doc["schema"][0]["name"] = "hotline_" + contract_id.rsplit(":", 1)[-1]  # a dataset has one contract
    props = doc["schema"][0]["properties"]
    if edit == "describe":
        doc["description"]["usage"] = "更新了用途说明。"
    elif edit == "drop_column":
        del props[-1]
    elif edit == "bad_element":
        props[1]["customProperties"][0]["value"] = "no_such_element"
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def register(client: httpx.Client, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = steward() if headers is None else headers
    return client.post(
        CONTRACTS, content=text.encode(), headers={**headers, "Content-Type": "application/yaml"}
    )


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def contract_id() -> str:
    return f"{HOTLINE_ID}:{uuid.uuid4().hex[:8]}"


# --- who is calling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no key at all
        {"X-Datahub-Role": "steward"},  # the old trusted headers are no identity
        {"Authorization": "Bearer dh_not-a-key"},
        {"Authorization": "Basic ZGF0YTpodWI="},
        {"X-API-Key": "dh_" + "A" * 43},
    ],
)
def test_callers_that_cannot_be_identified_are_refused(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get(CONTRACTS, headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert set(response.json()["error"]) >= {"code", "message", "file", "path"}


def test_a_key_works_as_x_api_key_too(client: httpx.Client) -> None:
    key = steward()["Authorization"].removeprefix("Bearer ")
    assert client.get(CONTRACTS, headers={"X-API-Key": key}).status_code == 200


def test_registering_without_a_caller_is_unauthenticated(client: httpx.Client) -> None:
    response = register(client, HOTLINE, headers={})
    assert response.status_code == 401 and error_code(response) == "unauthenticated"


@pytest.mark.parametrize("role", ["steward", "department", "consumer", "leader", "admin"])
def test_every_role_reads(client: httpx.Client, role: str) -> None:
    response = client.get(CONTRACTS, headers=caller(role, "EM" if role == "department" else None))
    assert response.status_code == 200
    assert "error" not in response.json()


# --- registration ------------------------------------------------------------------------------------


def test_the_seeded_hotline_contract_is_unchanged_and_a_new_one_registers_in_force(
    client: httpx.Client, contract_id: str
) -> None:
    seeded = register(client, HOTLINE)  # contracts/ seeded the registry: it is what runs
    assert seeded.status_code == 200, seeded.text
    assert seeded.json()["status"] == "unchanged"
    assert seeded.json()["state"] == "approved" and seeded.json()["in_force_version"] == "1.0.0"
    text = hotline(contract_id)
    first = register(client, text)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body.pop("effective_at") is not None
    assert body == {
        "contract_id": contract_id,
        "version": "1.0.0",
        "status": "registered",
        "state": "approved",
        "in_force_version": "1.0.0",
        "previous_version": None,
        "diff": None,
    }
    again = register(client, text)
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    shown = client.get(f"{CONTRACTS}/{contract_id}/versions/1.0.0", headers=steward())
    assert shown.status_code == 200
    assert shown.json()["content"] == text
    assert shown.json()["registered_by"] == "data-office"


def test_json_body_registers_like_yaml(client: httpx.Client, contract_id: str) -> None:
    response = client.post(CONTRACTS, json={"content": hotline(contract_id)}, headers=steward())
    assert response.status_code == 201, response.text
    assert response.json()["contract_id"] == contract_id


def test_a_second_version_is_registered_with_its_diff(client: httpx.Client, contract_id: str) -> None:
    assert register(client, hotline(contract_id)).status_code == 201
    response = register(client, hotline(contract_id, "1.1.0", "describe"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["version"], body["previous_version"]) == ("registered", "1.1.0", "1.0.0")
    assert body["diff"]["breaking"] is False
    assert {c["path"] for c in body["diff"]["changes"]} == {"description", "version"}


def test_breaking_change_without_a_new_major_version_is_refused(
    client: httpx.Client, contract_id: str
) -> None:
    assert register(client, hotline(contract_id)).status_code == 201
    refused = register(client, hotline(contract_id, "1.1.0", "drop_column"))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "contract_refused"
    assert "new major version" in error["message"]
    assert any("is_resolved" in p for p in error["problems"])
    waiting = register(client, hotline(contract_id, "2.0.0", "drop_column"))
    assert waiting.status_code == 202 and waiting.json()["state"] == "pending", waiting.text


def test_same_version_with_other_content_is_refused(client: httpx.Client, contract_id: str) -> None:
    assert register(client, hotline(contract_id)).status_code == 201
    refused = register(client, hotline(contract_id, "1.0.0", "describe"))
    assert refused.status_code == 409
    assert error_code(refused) == "contract_refused"
    assert "already registered with other content" in refused.json()["error"]["message"]


def test_a_contract_that_does_not_lint_is_refused_with_every_problem(
    client: httpx.Client, contract_id: str
) -> None:
    refused = register(client, hotline(contract_id, edit="bad_element"))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "contract_refused"
    assert error["file"] == "request body"
    assert (
        "request body: schema[0].properties[1].customProperties.dictionaryElement: "
        "unknown dictionary element 'no_such_element'"
    ) in error["problems"]
    missing = client.get(f"{CONTRACTS}/{contract_id}", headers=steward())
    assert missing.status_code == 404 and error_code(missing) == "not_found"


def test_text_that_is_not_yaml_is_refused(client: httpx.Client) -> None:
    refused = register(client, "id: [unclosed")
    assert refused.status_code == 422
    assert error_code(refused) == "contract_invalid"
    assert refused.json()["error"]["path"] == "line 1"


def test_a_department_registers_only_the_contracts_it_owns(client: httpx.Client, contract_id: str) -> None:
    police = register(client, hotline(contract_id), headers=caller("department", "PS", "police-system"))
    assert police.status_code == 403
    assert error_code(police) == "forbidden"
    assert "owner: OC" in police.json()["error"]["message"]
    ops = register(client, hotline(contract_id), headers=caller("department", "OC", "ops-centre"))
    assert ops.status_code == 201, ops.text
    shown = client.get(f"{CONTRACTS}/{contract_id}", headers=steward()).json()
    assert shown["versions"][0]["registered_by"] == "ops-centre"


@pytest.mark.parametrize("role", ["consumer", "leader"])
def test_consumers_and_leaders_may_not_register(client: httpx.Client, contract_id: str, role: str) -> None:
    response = register(client, hotline(contract_id), headers=caller(role))
    assert response.status_code == 403
    assert error_code(response) == "forbidden"
    assert client.get(f"{CONTRACTS}/{contract_id}", headers=steward()).status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code", "path"),
    [
        ("application/x-www-form-urlencoded", b"id=x", 415, "unsupported_media_type", None),
        ("application/json", b'{"contents": "id: x"}', 422, "invalid_request", "body.content"),
        ("application/json", b"not json", 422, "invalid_request", "body"),
        ("application/yaml", b"   \n", 422, "invalid_request", "body"),
        ("text/plain; charset=gbk", "版本".encode("gbk"), 422, "invalid_request", "body"),
    ],
)
def test_bodies_the_route_cannot_read(
    client: httpx.Client, content_type: str, body: bytes, status: int, code: str, path: str | None
) -> None:
    response = client.post(CONTRACTS, content=body, headers={**steward(), "Content-Type": content_type})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if path is not None:
        assert error["path"] == path


def test_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    response = register(client, "#" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


# --- reading -----------------------------------------------------------------------------------------


def test_list_shows_the_latest_version_of_each_contract(client: httpx.Client, contract_id: str) -> None:
    register(client, hotline(contract_id))
    register(client, hotline(contract_id, "1.1.0", "describe"))
    response = client.get(CONTRACTS, headers=caller("consumer"))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["data"])
    mine = [c for c in body["data"] if c["contract_id"] == contract_id]
    assert len(mine) == 1
    assert mine[0] | {"registered_at": None} == {
        "contract_id": contract_id,
        "name": "12345热线工单",
        "version": "1.1.0",
        "in_force_version": "1.1.0",  # not breaking: in force at once
        "pending_version": None,
        "pending_effective_at": None,
        "owner_department": "OC",
        "versions": 2,
        "registered_at": None,
    }
    assert mine[0]["registered_at"].endswith("Z") or mine[0]["registered_at"].endswith("+00:00")


def test_show_has_every_version_and_the_latest_document(client: httpx.Client, contract_id: str) -> None:
    register(client, hotline(contract_id))
    register(client, hotline(contract_id, "1.1.0", "describe"))
    response = client.get(f"{CONTRACTS}/{contract_id}", headers=caller("leader"))
    assert response.status_code == 200
    body = response.json()
    assert (body["contract_id"], body["latest_version"], body["owner_department"]) == (
        contract_id,
        "1.1.0",
        "OC",
    )
    assert [v["version"] for v in body["versions"]] == ["1.0.0", "1.1.0"]
    first, second = body["versions"]
    assert first["changes"] is None
    assert second["changes"] == {
        "breaking": False,
        "changes": 2,
        "kinds": ["metadata_changed", "version_changed"],
    }
    assert all(re.fullmatch(r"[0-9a-f]{64}", v["sha256"]) and v["registered_by"] for v in body["versions"])
    assert body["document"]["version"] == "1.1.0"
    assert body["document"]["description"]["usage"] == "更新了用途说明。"


def test_one_version_has_its_content_and_document(client: httpx.Client, contract_id: str) -> None:
    text = hotline(contract_id)
    register(client, text)
    register(client, hotline(contract_id, "1.1.0", "describe"))
    response = client.get(f"{CONTRACTS}/{contract_id}/versions/1.0.0", headers=caller("department", "PS"))
    assert response.status_code == 200
    body = response.json()
    assert (body["contract_id"], body["version"], body["content"]) == (contract_id, "1.0.0", text)
    assert body["document"] == yaml.safe_load(text) | {"id": contract_id}
    assert body["document"]["schema"][0]["properties"][0]["name"] == "work_order_id"


def test_dates_in_the_document_stay_strings(client: httpx.Client, contract_id: str) -> None:
    doc = yaml.safe_load(hotline(contract_id))
    doc["contractCreatedTs"] = "2024-05-01T08:00:00Z"
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).replace(
        "'2024-05-01T08:00:00Z'", "2024-05-01T08:00:00Z"
    )
    assert register(client, text).status_code == 201
    document = client.get(f"{CONTRACTS}/{contract_id}", headers=steward()).json()["document"]
    assert document["contractCreatedTs"] == "2024-05-01T08:00:00Z"


def test_diff_between_two_versions(client: httpx.Client, contract_id: str) -> None:
    register(client, hotline(contract_id))
    register(client, hotline(contract_id, "2.0.0", "drop_column"))
    response = client.get(
        f"{CONTRACTS}/{contract_id}/diff",
        params={"from_version": "1.0.0", "to_version": "2.0.0"},
        headers=caller("consumer"),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["contract_id"], body["from_version"], body["to_version"]) == (contract_id, "1.0.0", "2.0.0")
    assert body["breaking"] is True
    removed = [c for c in body["changes"] if c["kind"] == "column_removed"]
    assert removed and removed[0]["old"] == "is_resolved" and removed[0]["breaking"] is True


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "where"),
    [
        ("{contracts}/urn:datahub:contract:nope", {}, 404, "not_found", None),
        ("{contracts}/{id}/versions/9.9.9", {}, 404, "not_found", None),
        (
            "{contracts}/urn:datahub:contract:nope/diff",
            {"from_version": "1", "to_version": "2"},
            404,
            "not_found",
            None,
        ),
        ("{contracts}/{id}/diff", {"from_version": "1.0.0", "to_version": "9.9.9"}, 404, "not_found", None),
        ("{contracts}/{id}/diff", {"from_version": "1.0.0"}, 422, "invalid_request", "query.to_version"),
        ("/api/v1/no-such-route", {}, 404, "not_found", "/api/v1/no-such-route"),
    ],
)
def test_what_is_not_there_answers_a_json_error(
    client: httpx.Client,
    contract_id: str,
    path: str,
    params: dict[str, str],
    status: int,
    code: str,
    where: str | None,
) -> None:
    register(client, hotline(contract_id))
    response = client.get(path.format(contracts=CONTRACTS, id=contract_id), params=params, headers=steward())
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["path"] == where


def test_a_wrong_method_answers_a_json_error(client: httpx.Client) -> None:
    response = client.delete(CONTRACTS, headers=steward())
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert "GET" in response.headers["allow"]
