"""Publication and personal data: the leak scan blocks, k-anonymity withholds, a canary never lands raw,
and the `datahub pii` commands."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from datahub import pipeline
from datahub.cli import app
from datahub.metadata import Delivery, QualityRun
from datahub.platform import Platform
from datahub.privacy.policy import pseudonym
from datahub.settings import Settings
from tests.conftest import ROOT
from tests.hotline_rows import VALID_PHONE, valid_row, write_hotline

runner = CliRunner()
CANARY_PHONE = "13987654321"
CANARY_ID = "11010519491231002X"  # valid check character; masked to 110105********002X


def _rows(platform: Platform, first: int, n: int) -> list[dict[str, str]]:
    return [valid_row(platform.dictionary, i) for i in range(first, first + n)]


def _leaky_platform(tmp_path: Path) -> Platform:
    """A platform whose hotline contract shares the complaint text as it is."""
    contracts = tmp_path / "contracts"
    shutil.copytree(ROOT / "contracts", contracts)
    path = contracts / "hotline_12345.odcs.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "            value: event_description\n"
    assert marker in text
    path.write_text(
        text.replace(marker, marker + "          - property: desensitise\n            value: keep\n"),
        encoding="utf-8",
    )
    return Platform(Settings(home=tmp_path / "var", contracts_dir=contracts, demo_mode=True))


def test_a_leak_blocks_publication_and_the_published_snapshot_stays(tmp_path: Path) -> None:
    platform = _leaky_platform(tmp_path)
    hotline = platform.catalog.get("hotline_12345")
    clean = _rows(platform, 1, 8)
    for row in clean:
        row["诉求内容"] = "反映夜间施工噪音扰民。"  # nothing personal: publishes
    first = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "a.csv", clean, hotline))
    assert first.status == "published"
    current = platform.lake.current_version(hotline.name)
    second = pipeline.ingest_file(
        platform, hotline.name, write_hotline(tmp_path / "b.csv", _rows(platform, 100, 8), hotline)
    )
    assert second.status == "blocked"
    assert (second.rows_in, second.rows_published, second.rows_quarantined) == (8, 0, 8)
    assert second.reconciled is True
    assert platform.lake.current_version(hotline.name) == current  # the earlier snapshot stays
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, second.delivery_id)
        assert delivery is not None and delivery.error is not None
        assert delivery.error.startswith("blocked by pii_leak: complaint_text")
        run = s.query(QualityRun).filter_by(delivery_id=second.delivery_id).one()
        leak = next(r for r in run.rules if r.name == "pii_leak")
        assert leak.blocking and not leak.success and leak.failed == 16  # a name and a phone in each
        assert sorted(o["entity"] for o in leak.observed) == ["CN_MOBILE", "PERSON"]
        assert run.blocked and not run.success and run.pass_rate == 0
        scores = {sc.dimension: sc.score for sc in run.scores}
        assert scores["accessibility"] == 0
        assert run.overall_score == pytest.approx(sum(scores.values()) / len(scores), abs=1e-3)
        assert VALID_PHONE not in json.dumps(leak.sample, ensure_ascii=False)
    quarantine = pl.read_parquet(platform.lake.layer_path("quarantine", hotline.name, second.delivery_id))
    assert quarantine.height == 8
    assert {r["reason"] for reasons in quarantine["_reasons"] for r in reasons} == {"blocked_by_rule"}
    platform.metadata.dispose()


def test_rows_withheld_for_k_anonymity_are_quarantined_and_reconciled(
    platform: Platform, tmp_path: Path
) -> None:
    hotline = platform.catalog.get("hotline_12345")
    rows = _rows(platform, 1, 3)  # three rows can never be 5-anonymous
    summary = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "few.csv", rows, hotline))
    assert (summary.rows_in, summary.rows_published, summary.rows_quarantined) == (3, 0, 3)
    assert summary.reconciled is True
    # Every row withheld: the status says so, and no empty version is made.
    assert (summary.status, summary.rows_withheld, summary.snapshot_version) == ("withheld", 3, None)
    assert "withheld for k-anonymity" in (summary.error or "")
    assert platform.lake.current_version(hotline.name) is None
    quarantine = pl.read_parquet(platform.lake.layer_path("quarantine", hotline.name, summary.delivery_id))
    assert [r[0]["reason"] for r in quarantine["_reasons"]] == ["k_anonymity"] * 3
    with platform.metadata.session() as s:
        run = s.query(QualityRun).filter_by(delivery_id=summary.delivery_id).one()
        k = next(r for r in run.rules if r.name == "k_anonymity")
        assert k.observed["rows_withheld"] == 3 and k.observed["k_required"] == 5  # type: ignore[index]


def _all_text(path: Path, skip: tuple[Path, ...]) -> str:
    """Everything readable under ``path`` but ``skip``: Parquet as JSON lines, text, SQLite dumped."""
    parts = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if any(file.is_relative_to(s) for s in skip):
            continue
        if file.suffix == ".parquet":
            parts.append(pl.read_parquet(file).write_ndjson())
        elif file.suffix in (".json", ".jsonl", ".csv", ".txt", ".log", ".yaml"):
            parts.append(file.read_text(encoding="utf-8", errors="replace"))
        elif file.suffix == ".db":
            with sqlite3.connect(file) as db:
                parts.append("\n".join(db.iterdump()))
    return "\n".join(parts)


def test_a_canary_is_masked_everywhere_it_lands(platform: Platform, tmp_path: Path) -> None:
    """A planted phone and id appear raw only where deliveries are kept as delivered (the landing
    zone, the raw and conformed layers, the quarantined rows themselves) and in the restricted store
    that only a grant with a legal basis reads; every record, result, sample and snapshot made from
    them holds them masked or as a pseudonym."""
    hotline = platform.catalog.get("hotline_12345")
    rows = _rows(platform, 1, 12)
    canary_text = f"来电人李四称，身份证{CANARY_ID}，电话{CANARY_PHONE}，反映噪音。"
    for row in rows[:6]:
        row |= {"联系电话": CANARY_PHONE, "诉求内容": canary_text, "身份证号": CANARY_ID}
    rows[6] |= {"联系电话": CANARY_PHONE + "9"}  # fails conformity: its value is a quarantine reason
    summary = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "c.csv", rows, hotline))
    assert summary.status == "published" and summary.rows_published >= 6
    lake = platform.lake
    published = lake.scan_current(hotline.name)
    assert published is not None
    shared = published.collect()
    assert pseudonym(CANARY_PHONE, platform.settings.secret_key) in set(shared["caller_phone"])
    quarantine = pl.read_parquet(lake.layer_path("quarantine", hotline.name, summary.delivery_id))
    reasons = json.dumps(quarantine["_reasons"].to_list(), ensure_ascii=False)
    assert "*******" in reasons  # the failing phone is shown, masked
    version = lake.version_of(hotline.name, summary.delivery_id)
    assert version is not None
    secret = lake.restricted_rows(version)
    assert secret is not None
    restricted = pl.from_arrow(secret.to_table())
    assert isinstance(restricted, pl.DataFrame)
    assert restricted.columns == [
        "work_order_id",
        "caller_name",
        "caller_phone",
        "caller_id_number",
        "complaint_text",
        "address",
    ]
    assert restricted.height == summary.rows_published
    assert restricted.filter(pl.col("caller_phone") == CANARY_PHONE).height == 6
    layers = ("raw", "conformed", "quarantine")
    restricted_table = Path(lake.tables.table("restricted", hotline.name).location().removeprefix("file://"))
    assert restricted_table.is_dir()
    as_delivered = (platform.settings.landing_dir, restricted_table, *(lake.root / layer for layer in layers))
    outside = _all_text(platform.settings.var, skip=as_delivered) + reasons
    for canary in (CANARY_PHONE, CANARY_ID, CANARY_ID.lower()):
        assert canary not in outside, canary
    assert "110105********002X" in outside and "*******4321" in outside  # masked forms did land


def test_pii_scan_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pii", "scan", "--text", "市民张伟来电，电话13812345678，工单GD20261001000123"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["id"] is None
    assert [(e["type"], e["text"], e["start"], e["end"]) for e in body["entities"]] == [
        ("PERSON", "张伟", 2, 4),
        ("CN_MOBILE", "13812345678", 9, 20),
    ]
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"id": 7, "text": "联系人：赵敏，手机138 1234 5678"}\n\n{"id": "x", "text": "无"}\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["pii", "scan", "--jsonl", str(lines), "--min-score", "0.9"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == [7, "x"]
    assert [e["type"] for e in out[0]["entities"]] == ["CN_MOBILE"]  # the name scores 0.85
    lines.write_text('{"id": 1, "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    result = runner.invoke(app, ["pii", "scan", "--jsonl", str(lines)])
    assert result.exit_code == 2 and "line 2.text" in result.output and "in.jsonl" in result.output
    assert runner.invoke(app, ["pii", "scan"]).exit_code == 2


@pytest.mark.parametrize("leak", [False, True])
def test_pii_audit_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leak: bool) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    platform = Platform()
    hotline = platform.catalog.get("hotline_12345")
    pipeline.ingest_file(
        platform, hotline.name, write_hotline(tmp_path / "a.csv", _rows(platform, 1, 8), hotline)
    )
    if leak:  # a snapshot published past the gate, as an old platform might have left it
        frame = pl.DataFrame({"complaint_text": [f"电话{VALID_PHONE}"], "caller_phone": ["x"]})
        platform.lake.publish(platform.catalog.get("gov_app_reports"), "d-leak", frame, append=True)
    platform.metadata.dispose()
    result = runner.invoke(app, ["pii", "audit", "--json"])
    audits = {a["dataset"]: a for a in json.loads(result.stdout)}
    assert audits["hotline_12345"]["rows"] == 8 and audits["hotline_12345"]["leaks"] == []
    if leak:
        assert result.exit_code == 1
        assert audits["gov_app_reports"]["leaks"] == [
            {"column": "complaint_text", "entity": "CN_MOBILE", "rows": 1, "sample": "电话*******5678"}
        ]
    else:
        assert result.exit_code == 0
    single = runner.invoke(app, ["pii", "audit", "hotline_12345"])
    assert single.exit_code == 0 and "hotline_12345" in single.output


MISSED_NAME = "感谢小亭和圆圆的帮助。"
"""Names the masking pass's first look lets through (no surname, no cue, and the model at the masking
threshold reads no name here) and the second look, at the audit's lower threshold, finds."""


def test_the_masking_pass_misses_the_planted_name_and_the_second_look_finds_it() -> None:
    from datahub.privacy.scanner import scan_texts

    texts = pl.Series([MISSED_NAME])
    assert scan_texts(texts, ["PERSON"]) == {}
    found = scan_texts(texts, ["PERSON"], sensitive=True)[MISSED_NAME]
    assert [MISSED_NAME[f.start : f.end] for f in found] == ["小亭", "圆圆"]


def test_pii_audit_fails_on_a_name_the_masking_pass_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATAHUB_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("DATAHUB_DEMO_MODE", "true")
    platform = Platform()
    frame = pl.DataFrame(
        {"complaint_text": ["反映夜间施工噪音扰民。", MISSED_NAME], "caller_phone": ["x", "y"]}
    )
    platform.lake.publish(platform.catalog.get("gov_app_reports"), "d-name", frame, append=True)
    platform.metadata.dispose()
    result = runner.invoke(app, ["pii", "audit", "gov_app_reports", "--json"])
    assert result.exit_code == 1, result.output
    (audit,) = json.loads(result.stdout)
    assert audit["leaks"] == [
        {
            "column": "complaint_text",
            "entity": "PERSON",
            "rows": 1,
            "sample": "感谢小*和圆*的帮助。",
        }
    ]


def test_the_second_look_masks_a_name_the_first_missed(platform: Platform, tmp_path: Path) -> None:
    hotline = platform.catalog.get("hotline_12345")
    rows = _rows(platform, 1, 8)
    rows[3]["诉求内容"] = MISSED_NAME
    summary = pipeline.ingest_file(platform, hotline.name, write_hotline(tmp_path / "a.csv", rows, hotline))
    assert summary.status == "published"
    texts = platform.lake.scan_current(hotline.name).select("complaint_text").collect().to_series().to_list()
    assert "感谢小*和圆*的帮助。" in texts
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, summary.delivery_id)
        assert delivery is not None and delivery.desensitised["complaint_text:PERSON_SECOND_LOOK"] == 2


def test_a_synthetic_delivery_passes_the_gate(platform: Platform, tmp_path: Path) -> None:
    """The gate raises no false alarm on what the masking pass made of 2,000 synthetic hotline rows:
    street names left in generalised addresses are no names, the free text had its second look."""
    from datetime import date

    from datahub.synth import generate_hotline_file

    source = generate_hotline_file(
        tmp_path / "h.csv", 2000, date(2026, 10, 1), platform.dictionary, platform.catalog
    )
    summary = pipeline.ingest_file(platform, "hotline_12345", source)
    assert summary.status == "published" and summary.reconciled
    assert summary.rows_published > 1500  # less rows quarantined for defects and k-anonymity
    with platform.metadata.session() as s:
        delivery = s.get(Delivery, summary.delivery_id)
        assert delivery is not None and delivery.desensitised["complaint_text:PERSON"] > 500
