"""回流: standing grants that return a district's (or street's) own rows of every view carrying it."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from datahub import pipeline
from datahub.access import Clients, Principal, Role, decide
from datahub.access.return_flow import AreaLevel, ReturnFlow, area_filter
from datahub.contracts import Dataset
from datahub.errors import Conflict, Forbidden, InputError, NotFound
from datahub.platform import Platform
from datahub.serving.service import Service
from datahub.settings import Settings

DISTRICT = "990102"
STREET = "990102001"


@pytest.fixture
def flow(platform: Platform) -> ReturnFlow:
    return ReturnFlow(platform.metadata, platform.dictionary, signal=platform.settings.grants_signal)


@pytest.fixture
def clients(platform: Platform) -> Clients:
    return Clients(platform.metadata, platform.dictionary)


def _without(view: Dataset, *columns: str) -> Dataset:
    return replace(view, columns=tuple(c for c in view.columns if c.name not in columns))


def test_an_unknown_area_is_refused_naming_the_code_table(flow: ReturnFlow) -> None:
    with pytest.raises(
        InputError, match=r"'district' \(dictionary/code_tables/districts.csv\): 990102 东湖区"
    ):
        flow.area("district", "440305")
    with pytest.raises(InputError, match=r"code_tables/streets.csv.*\(45 codes\)"):
        flow.area("street", "990102999")
    with pytest.raises(InputError, match="unknown area level"):
        flow.area("county", DISTRICT)
    assert flow.area("street", f" {STREET} ") == (AreaLevel.street, STREET)


def test_the_area_platform_is_a_consumer_made_once(flow: ReturnFlow, clients: Clients) -> None:
    first = flow.open("district", DISTRICT, clients=clients, created_by="console:test")
    assert first.client is not None and first.client.name == f"district-platform-{DISTRICT}"
    principal = clients.authenticate(first.client.api_key)
    assert principal is not None and principal.role is Role.consumer
    assert first.standing["purpose"] == f"回流：东湖区（{DISTRICT}）的本地数据" and first.standing["active"]
    again = flow.open("district", DISTRICT, clients=clients, created_by="console:test")
    assert again.client is None and again.standing["standing_grant_id"] == first.standing["standing_grant_id"]
    street = flow.open(
        "street", STREET, clients=clients, created_by="console:test", client_name=first.client.name
    )
    assert street.client is None and street.standing["client_id"] == first.client.client_id
    assert [s.code for s in flow.active(first.client.client_id)] == [DISTRICT, STREET]
    clients.create("ops-steward", "steward")
    with pytest.raises(Conflict, match="role steward"):
        flow.open("district", DISTRICT, clients=clients, created_by="x", client_name="ops-steward")
    with pytest.raises(InputError):  # refused before any client is made
        flow.open("district", "440305", clients=clients, created_by="x", client_name="nobody")
    assert "nobody" not in {c["name"] for c in clients.find()}


def test_the_row_filter_follows_the_views_area_columns(platform: Platform) -> None:
    catalog = platform.catalog
    hotline = catalog.get("hotline_12345")
    assert area_filter(hotline, AreaLevel.district, DISTRICT) == f"district_code = '{DISTRICT}'"
    assert area_filter(hotline, AreaLevel.street, STREET) == f"street_code = '{STREET}'"
    streets_only = _without(hotline, "district_code")
    assert area_filter(streets_only, AreaLevel.district, DISTRICT) == f"street_code like '{DISTRICT}%'"
    assert area_filter(_without(hotline, "street_code"), AreaLevel.street, STREET) is None
    assert area_filter(catalog.get("boston311_requests"), AreaLevel.district, DISTRICT) is None


def _principal(clients: Clients, flow: ReturnFlow) -> Principal:
    made = flow.open("district", DISTRICT, clients=clients, created_by="console:test").client
    assert made is not None
    found = clients.authenticate(made.api_key)
    assert found is not None
    return found


def test_sharing_classes_hold_for_standing_grants(
    platform: Platform, flow: ReturnFlow, clients: Clients
) -> None:
    caller = _principal(clients, flow)
    catalog = platform.catalog

    def access(view: Dataset):  # type: ignore[no-untyped-def]
        return decide(caller, view, [], flow.on_view(caller.client_id, view))

    hotline = access(catalog.get("hotline_12345"))
    assert hotline.allowed and hotline.row_filter == f"(district_code = '{DISTRICT}')"
    assert hotline.standing and not hotline.grants and "回流" in hotline.reason
    assert not hotline.raw and hotline.masking["caller_phone"] == "pseudonym"  # no legal basis
    police = access(catalog.get("police_110_transfers"))  # 不予共享, though it carries a district
    assert not police.allowed and not police.standing
    sensors = access(catalog.get("iot_sensor_readings"))  # 无条件共享: read whole, as by anyone
    assert sensors.allowed and sensors.row_filter is None and not sensors.standing
    nowhere = access(_without(catalog.get("hotline_12345"), "district_code", "street_code"))
    assert not nowhere.allowed


def test_revocation_counts_at_once_in_every_process(
    platform: Platform, flow: ReturnFlow, clients: Clients
) -> None:
    caller = _principal(clients, flow)
    (standing,) = flow.active(caller.client_id)
    other = ReturnFlow(platform.metadata, platform.dictionary, signal=platform.settings.grants_signal)
    assert other.revoke(standing.id, "console:test")["revoked_by"] == "console:test"
    assert flow.active(caller.client_id) == []
    assert not decide(
        caller,
        platform.catalog.get("hotline_12345"),
        [],
        flow.on_view(caller.client_id, platform.catalog.get("hotline_12345")),
    ).allowed
    with pytest.raises(Conflict):
        flow.revoke(standing.id, "console:test")
    with pytest.raises(NotFound):
        flow.revoke(999, "console:test")
    assert [s["active"] for s in flow.find()] == [False]


# ------------------------------------------------------------------- a dataset added after the grant

NOTES_CONTRACT = """apiVersion: v3.1.0
kind: DataContract
id: urn:datahub:contract:{name}
name: 测试台账
version: 1.0.0
status: active
customProperties:
  - property: ownerDepartment
    value: CA
  - property: sharingClass
    value: conditional
  - property: delivery
    value:
      format: csv
      encoding: utf-8
      publishMode: replace
schema:
  - name: {name}
    physicalName: 台账
    physicalType: table
    properties:
      - name: note_id
        physicalName: 编号
        logicalType: string
        required: true
        primaryKey: true
        primaryKeyPosition: 1
{area}      - name: note
        physicalName: 内容
        logicalType: string
"""
AREA_COLUMN = """      - name: district_code
        physicalName: 区县代码
        logicalType: string
        required: true
        customProperties:
          - property: dictionaryElement
            value: district_code
"""


def _publish_notes(platform: Platform, name: str, *, with_district: bool, home: Path) -> pl.DataFrame:
    districts = list(platform.dictionary.codes("district"))
    rows = [
        {"编号": f"N{i:03d}", **({"区县代码": districts[i % 3]} if with_district else {}), "内容": f"记录{i}"}
        for i in range(30)
    ]
    path = home / f"{name}.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    delivery = pipeline.ingest_file(platform, name, path)
    assert delivery.status == "published", delivery
    frame = platform.lake.scan_current(name)
    assert frame is not None
    return frame.collect()


def test_a_dataset_added_after_the_grant_is_covered(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "notes_before.odcs.yaml").write_text(
        NOTES_CONTRACT.format(name="notes_before", area=AREA_COLUMN), encoding="utf-8"
    )
    settings = Settings(home=tmp_path / "var", demo_mode=True, contracts_dir=contracts)
    before = Platform(settings)
    service = Service(before)
    made = service.return_flow.open("district", DISTRICT, clients=service.clients, created_by="console:test")
    assert made.client is not None
    service.close()
    before.metadata.dispose()
    # Two datasets registered after the standing grant: one carries a district, one does not.
    for name, area in (("notes_later", AREA_COLUMN), ("notes_nowhere", "")):
        (contracts / f"{name}.odcs.yaml").write_text(
            NOTES_CONTRACT.format(name=name, area=area), encoding="utf-8"
        )
    later = Platform(Settings(home=tmp_path / "var", demo_mode=True, contracts_dir=contracts))
    published = _publish_notes(later, "notes_later", with_district=True, home=tmp_path)
    _publish_notes(later, "notes_nowhere", with_district=False, home=tmp_path)
    service = Service(later)
    try:
        caller = service.clients.authenticate(made.client.api_key)
        assert caller is not None
        page = service.rows(caller, "notes_later", limit=1000)
        expected = published.filter(pl.col("district_code") == DISTRICT)
        assert (
            sorted(r["note_id"] for r in page.records()) == sorted(expected["note_id"])
            and expected.height == 10
        )
        with pytest.raises(Forbidden):
            service.rows(caller, "notes_nowhere")
        (record,) = [r for r in service.audit_records() if r["action"] == "read"]
        assert record["detail"]["standing_grants"] == [made.standing["standing_grant_id"]]
        assert record["purpose"] == made.standing["purpose"]
    finally:
        service.close()
        later.metadata.dispose()
