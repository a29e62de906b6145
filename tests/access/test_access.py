"""Clients and keys, the grant lifecycle, and the access decision for every role and sharing class."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from datahub.access import Clients, GrantRequest, Grants, Principal, Role, decide
from datahub.access.grants import now_utc
from datahub.contracts import Dataset, SharingClass
from datahub.errors import Conflict, Forbidden, InputError, NotFound
from datahub.metadata import Client, Grant
from datahub.platform import Platform


@pytest.fixture
def clients(platform: Platform) -> Clients:
    return Clients(platform.metadata, platform.dictionary)


def _views(platform: Platform) -> dict[str, Dataset]:
    return {d.name: d for d in platform.catalog}


def _no_filter_check(view: Dataset, text: str) -> None:
    if "bad" in text:
        raise InputError("bad filter", path="row_filter")


@pytest.fixture
def grants(platform: Platform) -> Grants:
    return Grants(platform.metadata, lambda: _views(platform), _no_filter_check)


def test_a_key_is_shown_once_and_only_its_hash_is_kept(platform: Platform, clients: Clients) -> None:
    made = clients.create("district-platform", "consumer")
    assert made.api_key.startswith("dh_") and len(made.api_key) == 46
    with platform.metadata.session() as s:
        row = s.scalars(select(Client)).one()
        assert made.api_key not in (row.key_hash, row.key_prefix) and len(row.key_hash) == 64
    found = clients.authenticate(made.api_key)
    assert found == Principal(made.client_id, "district-platform", Role.consumer, None, 200)
    assert clients.authenticate(made.api_key[:-1] + ("A" if made.api_key[-1] != "A" else "B")) is None
    assert clients.authenticate("") is None and clients.authenticate("Bearer x") is None


def test_client_rules(clients: Clients) -> None:
    clients.create("oc", "department", "OC")
    with pytest.raises(Conflict):
        clients.create("oc", "consumer")
    with pytest.raises(InputError, match="unknown role"):
        clients.create("x", "superuser")
    with pytest.raises(InputError, match="needs --department"):
        clients.create("y", "department")
    with pytest.raises(InputError, match="unknown department"):
        clients.create("z", "department", "XX")
    with pytest.raises(InputError, match="only role department"):
        clients.create("w", "consumer", "OC")


def test_a_disabled_key_is_refused_at_once(clients: Clients) -> None:
    made = clients.create("ops", "consumer")
    assert clients.authenticate(made.api_key) is not None
    clients.disable(made.client_id)
    assert clients.authenticate(made.api_key) is None


def _principal(clients: Clients, name: str, role: str, department: str | None = None) -> Principal:
    made = clients.create(name, role, department)
    found = clients.authenticate(made.api_key)
    assert found is not None
    return found


def test_grant_lifecycle(platform: Platform, clients: Clients, grants: Grants) -> None:
    consumer = _principal(clients, "ops", "consumer")
    steward = _principal(clients, "office", "steward")
    asked = grants.request(
        consumer, GrantRequest("hotline_12345", "研判", ["work_order_id"], "district_code = '1'")
    )
    assert asked["status"] == "requested" and not asked["active"]
    assert grants.active(consumer.client_id, "hotline_12345") == []
    with pytest.raises(Forbidden):
        grants.approve(int(asked["grant_id"]), consumer)
    approved = grants.approve(int(asked["grant_id"]), steward, "ok")
    assert approved["status"] == "approved" and approved["active"] and approved["decided_by"] == "office"
    assert [g.id for g in grants.active(consumer.client_id, "hotline_12345")] == [asked["grant_id"]]
    with pytest.raises(Conflict):
        grants.refuse(int(asked["grant_id"]), steward)
    other = _principal(clients, "other", "consumer")
    with pytest.raises(NotFound):  # another client's grant is not even visible
        grants.revoke(int(asked["grant_id"]), other)
    assert grants.find(other) == [] and len(grants.find(steward)) == 1
    revoked = grants.revoke(int(asked["grant_id"]), consumer)
    assert revoked["status"] == "revoked" and grants.active(consumer.client_id) == []


def test_an_expired_grant_stops_counting(platform: Platform, clients: Clients, grants: Grants) -> None:
    consumer = _principal(clients, "ops", "consumer")
    steward = _principal(clients, "office", "steward")
    asked = grants.request(
        consumer, GrantRequest("hotline_12345", "p", expires_at=now_utc() + timedelta(hours=1))
    )
    grants.approve(int(asked["grant_id"]), steward)
    assert len(grants.active(consumer.client_id, "hotline_12345")) == 1
    with platform.metadata.session() as s:
        s.execute(update(Grant).values(expires_at=now_utc() - timedelta(seconds=1)))
    assert grants.active(consumer.client_id, "hotline_12345") == []


def test_grant_requests_are_checked(clients: Clients, grants: Grants) -> None:
    consumer = _principal(clients, "ops", "consumer")
    steward = _principal(clients, "office", "steward")
    with pytest.raises(Forbidden, match="does not request"):
        grants.request(steward, GrantRequest("hotline_12345", "p"))
    with pytest.raises(Forbidden, match="not shared"):
        grants.request(consumer, GrantRequest("police_110_transfers", "p"))
    with pytest.raises(NotFound):
        grants.request(consumer, GrantRequest("nope", "p"))
    with pytest.raises(InputError, match="purpose"):
        grants.request(consumer, GrantRequest("hotline_12345", "  "))
    with pytest.raises(InputError, match="unknown: x"):
        grants.request(consumer, GrantRequest("hotline_12345", "p", ["x"]))
    with pytest.raises(InputError, match="bad filter"):
        grants.request(consumer, GrantRequest("hotline_12345", "p", row_filter="bad"))
    with pytest.raises(InputError, match="past"):
        grants.request(consumer, GrantRequest("hotline_12345", "p", expires_at=now_utc() - timedelta(days=1)))


def _grant(grant_id: int, columns: list[str] | None, row_filter: str | None, legal: str | None) -> Grant:
    return Grant(
        id=grant_id,
        client_id="c",
        view="v",
        purpose=f"p{grant_id}",
        columns=columns,
        row_filter=row_filter,
        legal_basis=legal,
        status="approved",
    )


def test_the_access_decision_for_each_role_and_sharing_class(platform: Platform) -> None:
    hotline = platform.catalog.get("hotline_12345")
    columns = tuple(c.name for c in hotline.columns)
    views = {cls: replace(hotline, sharing_class=cls) for cls in SharingClass}
    who = {
        "steward": Principal("s", "s", Role.steward, None, 1),
        "admin": Principal("a", "a", Role.admin, None, 1),
        "owner": Principal("o", "o", Role.department, "OC", 1),
        "other_department": Principal("d", "d", Role.department, "PS", 1),
        "consumer": Principal("c", "c", Role.consumer, None, 1),
        "leader": Principal("l", "l", Role.leader, None, 1),
    }
    expected = {  # without grants: who reads which sharing class
        SharingClass.unconditional: {"steward", "admin", "owner", "other_department", "consumer", "leader"},
        SharingClass.conditional: {"steward", "admin", "owner"},
        SharingClass.not_shared: {"steward", "admin", "owner"},
    }
    for cls, view in views.items():
        for name, principal in who.items():
            access = decide(principal, view, [])
            assert access.allowed == (name in expected[cls]), (cls, name)
            if access.allowed:
                assert access.columns == columns and access.raw == frozenset() and access.row_filter is None
                assert (
                    access.masking["caller_phone"] == "pseudonym"
                    and access.masking["work_order_id"] == "none"
                )
    consumer = who["consumer"]
    one = _grant(1, ["work_order_id", "caller_phone"], "district_code = 'A'", None)
    access = decide(consumer, views[SharingClass.conditional], [one])
    assert access.allowed and access.columns == ("work_order_id", "caller_phone")
    assert access.raw == frozenset() and access.row_filter == "(district_code = 'A')"
    assert access.masking == {"work_order_id": "none", "caller_phone": "pseudonym"}
    legal = _grant(2, ["work_order_id", "caller_phone"], "district_code = 'B'", "《条例》第十条")
    access = decide(consumer, views[SharingClass.conditional], [one, legal])
    assert access.raw == frozenset({"caller_phone"}) and access.masking["caller_phone"] == "raw"
    assert access.row_filter == "(district_code = 'A') or (district_code = 'B')" and access.grants == (1, 2)
    whole = _grant(3, None, None, None)
    access = decide(consumer, views[SharingClass.conditional], [one, whole])
    assert access.columns == columns and access.row_filter is None
    assert decide(consumer, views[SharingClass.not_shared], [whole]).allowed is False
    # On an unconditional view a grant only adds raw columns; it never narrows.
    access = decide(consumer, views[SharingClass.unconditional], [legal])
    assert (
        access.columns == columns and access.row_filter is None and access.raw == frozenset({"caller_phone"})
    )
    # Stewards read everything, but raw only through a grant with a legal basis.
    assert decide(who["steward"], views[SharingClass.conditional], [legal]).raw == frozenset({"caller_phone"})


def test_cached_grants_follow_a_decision_made_elsewhere(
    platform: Platform, clients: Clients, tmp_path: Path
) -> None:
    """The API caches approved grants until the signal file is replaced; a decision made by another
    process (the CLI) replaces it, so the API's next request sees it."""
    signal = tmp_path / "grants.changed"
    api = Grants(platform.metadata, lambda: _views(platform), _no_filter_check, signal=signal)
    console = Grants(platform.metadata, lambda: _views(platform), _no_filter_check, signal=signal)
    consumer = _principal(clients, "ops", "consumer")
    steward = _principal(clients, "office", "steward")
    asked = api.request(consumer, GrantRequest("hotline_12345", "研判"))
    assert api.active(consumer.client_id, "hotline_12345") == []
    console.approve(asked["grant_id"], steward)
    assert [g.id for g in api.active(consumer.client_id, "hotline_12345")] == [asked["grant_id"]]
    assert [g.id for g in api.active(consumer.client_id, "hotline_12345")] == [asked["grant_id"]]  # cached
    console.revoke(asked["grant_id"], steward)
    assert api.active(consumer.client_id, "hotline_12345") == []
