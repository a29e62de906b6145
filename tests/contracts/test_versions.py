"""The registry is what runs, and versions take effect by rule (issue 17).

Non-breaking versions are in force at once; breaking ones wait for a steward's approval and their
effective date; a pending version followed by a newer one is superseded; a dataset belongs to one
contract. Platform.catalog (what the pipeline, Dagster and the API run) follows the registry.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from datahub.contracts.registry import Caller, now_utc
from datahub.errors import Conflict, Forbidden, InputError, NotFound, RegistrationRefused
from datahub.platform import Platform

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = (ROOT / "contracts" / "hotline_12345.odcs.yaml").read_text(encoding="utf-8")
STEWARD = Caller("data-office", "steward")


def contract(name: str, version: str = "1.0.0", edit: str | None = None) -> str:
    """The hotline contract as another department's new dataset ``name``."""
    doc = yaml.safe_load(HOTLINE)
    doc["id"], doc["version"] = f"urn:datahub:contract:{name}", version
    doc["schema"][0]["name"] = name
    if edit == "describe":
        doc["description"]["usage"] = "更新了用途说明。"
    elif edit == "drop_column":
        del doc["schema"][0]["properties"][-1]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def fresh(platform: Platform) -> list[str]:
    platform.forget_catalog()
    return platform.catalog.names


def test_contracts_dir_seeds_the_registry_and_the_catalog_is_what_is_in_force(platform: Platform) -> None:
    names = fresh(platform)
    assert "hotline_12345" in names and len(names) == len(list((ROOT / "contracts").glob("*.odcs.yaml")))
    in_force = {row.contract_id: row.version for row in platform.registry.in_force()}
    assert in_force["urn:datahub:contract:hotline_12345"] == "1.0.0"
    # Seeding again registers nothing new.
    assert platform.registry.seed(platform.settings.contracts_path) == []


def test_a_registered_dataset_is_in_the_catalog_at_once_with_its_landing_zone(platform: Platform) -> None:
    with pytest.raises(NotFound, match="datahub contract register"):
        platform.catalog.get("baltimore_311")
    result = platform.registry.register(contract("baltimore_311"), source="baltimore.yaml")
    assert (result.status, result.state, result.in_force_version) == ("registered", "approved", "1.0.0")
    assert "baltimore_311" in fresh(platform)
    dataset = platform.catalog.get("baltimore_311")
    assert platform.settings.landing_zone(dataset.owner_department, dataset.name).is_dir()
    # Another process (a new Platform on the same home) sees it too.
    assert "baltimore_311" in Platform(platform.settings).catalog.names


def test_a_non_breaking_version_is_in_force_at_once(platform: Platform) -> None:
    platform.registry.register(contract("newds"))
    result = platform.registry.register(contract("newds", "1.1.0", "describe"))
    assert (result.state, result.in_force_version) == ("approved", "1.1.0")
    fresh(platform)
    assert platform.catalog.get("newds").version == "1.1.0"


def test_a_breaking_version_waits_for_approval_then_takes_effect_on_its_date(platform: Platform) -> None:
    registry = platform.registry
    registry.register(contract("newds"))
    waiting = registry.register(contract("newds", "2.0.0", "drop_column"))
    assert (waiting.state, waiting.effective_at, waiting.in_force_version) == ("pending", None, "1.0.0")
    fresh(platform)
    assert platform.catalog.get("newds").version == "1.0.0"  # nothing runs 2.0.0 yet
    st = registry.standing("urn:datahub:contract:newds")
    assert st.in_force is not None and st.in_force.version == "1.0.0"
    assert st.pending is not None and st.pending.version == "2.0.0"

    with pytest.raises(Forbidden):
        registry.approve("urn:datahub:contract:newds", "2.0.0", caller=Caller("ops", "department", "OC"))
    with pytest.raises(InputError, match="in the past"):
        registry.approve(
            "urn:datahub:contract:newds", "2.0.0", caller=STEWARD, effective_at=now_utc() - timedelta(days=1)
        )
    when = now_utc() + timedelta(days=3)
    approved = registry.approve("urn:datahub:contract:newds", "2.0.0", caller=STEWARD, effective_at=when)
    assert (approved.state, approved.effective_at, approved.decided_by) == ("approved", when, "data-office")
    fresh(platform)
    assert platform.catalog.get("newds").version == "1.0.0"  # approved, but not yet its date
    later = registry.standing("urn:datahub:contract:newds", at=when + timedelta(seconds=1))
    assert later.in_force is not None and later.in_force.version == "2.0.0" and later.pending is None
    with pytest.raises(Conflict, match="approved"):
        registry.approve("urn:datahub:contract:newds", "2.0.0", caller=STEWARD)


def test_an_approval_without_a_date_takes_effect_now(platform: Platform) -> None:
    registry = platform.registry
    registry.register(contract("newds"))
    registry.register(contract("newds", "2.0.0", "drop_column"))
    registry.approve("urn:datahub:contract:newds", "2.0.0", caller=STEWARD)
    fresh(platform)
    dataset = platform.catalog.get("newds")
    assert dataset.version == "2.0.0"
    assert len(dataset.columns) == len(yaml.safe_load(HOTLINE)["schema"][0]["properties"]) - 1


def test_a_rejected_version_never_takes_effect(platform: Platform) -> None:
    registry = platform.registry
    registry.register(contract("newds"))
    registry.register(contract("newds", "2.0.0", "drop_column"))
    with pytest.raises(InputError):
        registry.reject("urn:datahub:contract:newds", "2.0.0", caller=STEWARD, reason="  ")
    rejected = registry.reject("urn:datahub:contract:newds", "2.0.0", caller=STEWARD, reason="列不可删除")
    assert (rejected.state, rejected.decision_note) == ("rejected", "列不可删除")
    st = registry.standing("urn:datahub:contract:newds", at=now_utc() + timedelta(days=365))
    assert st.in_force is not None and st.in_force.version == "1.0.0" and st.pending is None


def test_a_pending_version_followed_by_a_newer_one_is_superseded(platform: Platform) -> None:
    registry = platform.registry
    registry.register(contract("newds"))
    registry.register(contract("newds", "2.0.0", "drop_column"))
    again = registry.register(contract("newds", "3.0.0", "drop_column"))
    assert again.state == "pending"  # still breaking against 1.0.0, the version in force
    assert registry.get("urn:datahub:contract:newds", "2.0.0").state == "superseded"
    st = registry.standing("urn:datahub:contract:newds")
    assert [r.version for r in st.upcoming] == ["3.0.0"]


def test_a_dataset_belongs_to_one_contract(platform: Platform) -> None:
    doc = yaml.safe_load(contract("copy"))
    doc["schema"][0]["name"] = "hotline_12345"  # the seeded hotline contract's dataset
    fresh(platform)
    with pytest.raises(
        RegistrationRefused, match="declared by contract 'urn:datahub:contract:hotline_12345'"
    ):
        platform.registry.register(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))


def test_a_state_less_row_from_an_earlier_release_counts_as_in_force(platform: Platform) -> None:
    from sqlalchemy import update

    from datahub.metadata import ContractVersion

    fresh(platform)
    with platform.metadata.session() as s:
        s.execute(update(ContractVersion).values(state=None, effective_at=None, breaking=None))
    platform.forget_catalog()
    assert "hotline_12345" in platform.catalog.names
